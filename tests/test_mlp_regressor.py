"""GDMLPRegressor: parity with MLPRegressor, targets in their own units,
multi-output targets, weights, partial_fit, warm starts and the penalty.

The output layer is trained in units of each target (``W = V * sigma``,
``b = c * sigma + mu``); these tests pin what that change of variables must
and must not change.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skgd import GDMLPRegressor
from skgd._losses import squared_error
from skgd._models import MLP
from skgd._penalties import make_penalty

SEEDS = range(3)
STEP = 1e-4  # five-point stencil: truncation O(h^4), round-off O(eps / h)


def _quiet(est, X, y, **kwargs):
    """Fit when running out of epochs is intended (short runs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kwargs)


def _params(est):
    return [*est.coefs_, *est.intercepts_]


def _data(n=80, n_features=4, seed=0):
    X, y = make_friedman1(n_samples=n, n_features=max(n_features, 5), random_state=seed)
    return StandardScaler().fit_transform(X[:, :n_features]), y


# ------------------------------------------------------ parity with sklearn
def _split(name):
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
    else:
        X, y = make_friedman1(n_samples=1500, noise=1.0, random_state=0)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def _test_r2(make, X_tr, X_te, y_tr, y_te):
    # small matrices: one BLAS thread per test process is fastest
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        # both libraries use their 200 epochs
        warnings.simplefilter("ignore", ConvergenceWarning)
        return np.array([make(s).fit(X_tr, y_tr).score(X_te, y_te) for s in SEEDS])


@pytest.mark.parametrize("units", ["standardized", "raw"])
@pytest.mark.parametrize("name", ["diabetes", "friedman1"])
def test_test_r2_is_at_least_mlpregressors_at_defaults(name, units):
    """Adam at both libraries' defaults, on standardized features: on
    standardized targets the two nets are the same up to their initial
    intercepts (sklearn draws them, skgd starts at zero); on raw targets
    (diabetes: std 77, mean 152) MLPRegressor starts its outputs at 0 and
    spends its epochs reaching the targets' scale, skgd starts at their mean
    in units of their deviation."""
    X_tr, X_te, y_tr, y_te = _split(name)
    if units == "standardized":
        mean, std = y_tr.mean(), y_tr.std()
        y_tr, y_te = (y_tr - mean) / std, (y_te - mean) / std
    data = (X_tr, X_te, y_tr, y_te)
    ours = _test_r2(lambda s: GDMLPRegressor(random_state=s), *data)
    theirs = _test_r2(lambda s: MLPRegressor(random_state=s), *data)
    report = f"skgd {ours.round(4)} vs scikit-learn {theirs.round(4)}"
    assert ours.mean() >= theirs.mean() - 0.01, report
    assert ours.min() > {"diabetes": 0.25, "friedman1": 0.9}[name], report
    if units == "raw":
        assert ours.mean() > theirs.mean() + 0.05, report


# ------------------------------------------------------------ targets' units
@pytest.mark.parametrize("factor", [1e3, 1e-6])
@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_targets_in_other_units_give_the_same_fit_in_those_units(solver, factor):
    """Without a penalty the objective is the variance times that of the
    standardized targets, and the 'auto' rates and tol are in those units:
    the trajectory, the stopping epoch and the R² do not change."""
    X, y = _data(n=120)
    make = dict(hidden_layer_sizes=(8,), solver=solver, penalty=None, random_state=0)
    a = _quiet(GDMLPRegressor(**make), X, y)
    b = _quiet(GDMLPRegressor(**make), X, factor * y + 5 * factor)
    assert a.n_iter_ == b.n_iter_ > 5
    np.testing.assert_allclose(
        b.predict(X), factor * a.predict(X) + 5 * factor, rtol=1e-9
    )
    np.testing.assert_allclose(
        b.loss_curve_, factor**2 * np.array(a.loss_curve_), rtol=1e-9
    )
    np.testing.assert_allclose(b.coefs_[0], a.coefs_[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.coefs_[-1], factor * a.coefs_[-1], rtol=1e-9)
    assert b.score(X, factor * y + 5 * factor) == pytest.approx(a.score(X, y), abs=1e-9)


def test_output_layer_starts_at_the_mean_with_weights_in_the_targets_units():
    """One epoch at a negligible rate: the output intercepts are the weighted
    means of the targets, the output weights the initializer's draw times
    each target's weighted deviation, the hidden layers the draw itself."""
    X, y = _data(n=60)
    Y = np.column_stack([y, 1e4 * y**2 - 3e5])
    sw = np.random.RandomState(1).uniform(0.5, 2.0, len(X))
    reg = GDMLPRegressor((5,), learning_rate_init=1e-14, max_iter=1, tol=None)
    _quiet(reg.set_params(random_state=0), X, Y, sample_weight=sw)

    mean = np.average(Y, axis=0, weights=sw)
    std = np.sqrt(np.average((Y - mean) ** 2, axis=0, weights=sw))
    draw = MLP([4, 5, 2], "relu", "glorot_uniform")
    coefs, intercepts = draw.unpack(draw.init(np.random.RandomState(0), np.float64))
    np.testing.assert_allclose(reg.intercepts_[-1], mean, rtol=1e-10)
    np.testing.assert_allclose(reg.coefs_[-1], coefs[-1] * std, rtol=1e-9)
    np.testing.assert_allclose(reg.coefs_[0], coefs[0], rtol=1e-9)
    np.testing.assert_allclose(reg.intercepts_[0], intercepts[0], rtol=1e-9)


# -------------------------------------------------- gradient of V and c
@pytest.mark.parametrize("penalty", [None, "l2", "elasticnet"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_gradient_in_the_targets_units_matches_five_point_stencil(activation, penalty):
    """The model's backward pass and the penalty (through its per-entry
    weights) against an objective written here in the reported weights
    ``W = V * sigma``, ``b = c * sigma + mu``."""
    rng = np.random.RandomState(5)
    n, sizes = 9, [3, 5, 4, 2]
    X = rng.normal(size=(n, sizes[0]))
    sigma, mu = np.array([30.0, 0.02]), np.array([500.0, -1.0])
    Y = mu + sigma * rng.normal(size=(n, 2))
    sw = rng.uniform(0.2, 3.0, n)
    alpha, l1_ratio = 0.3, 0.25
    model = MLP(sizes, activation, "glorot_uniform", out_scale=sigma, out_shift=mu)
    pen = make_penalty(
        penalty, alpha, l1_ratio, model.n_penalized, model.penalty_weights
    )
    theta = model.init(rng, np.float64)
    k = model.n_penalized
    theta[k:] = rng.normal(scale=0.5, size=theta.size - k)
    l2 = {None: 0.0, "l2": alpha, "elasticnet": alpha * (1 - l1_ratio)}[penalty]
    act = {
        "relu": lambda z: np.maximum(z, 0),
        "tanh": np.tanh,
        "logistic": expit,
        "identity": lambda z: z,
    }[activation]

    def reported(t):
        coefs, intercepts = model.unpack(t)
        coefs = [*coefs[:-1], coefs[-1] * sigma]
        return coefs, [*intercepts[:-1], intercepts[-1] * sigma + mu]

    def objective(t):
        coefs, intercepts = reported(t)
        a = X
        for W, b in zip(coefs[:-1], intercepts[:-1], strict=True):
            a = act(a @ W + b)
        raw = a @ coefs[-1] + intercepts[-1]
        loss = 0.5 * np.dot(sw, ((raw - Y) ** 2).sum(axis=1)) / sw.sum()
        return loss + 0.5 * l2 * sum(np.sum(W**2) for W in coefs)

    raw, cache = model.forward(theta, X)
    value, draw = squared_error(raw, Y, sw)
    grad = np.full_like(theta, np.nan)  # every entry must be written
    model.backward(theta, X, draw, cache, grad)
    pen.add_grad(theta, grad)

    def signs(t):
        coefs, intercepts = reported(t)
        a, out = X, []
        for W, b in zip(coefs[:-1], intercepts[:-1], strict=True):
            z = a @ W + b
            out.append(np.sign(z))
            a = act(z)
        return out

    fd = np.empty_like(theta)
    for i in range(theta.size):
        vals = []
        for step in (-2 * STEP, -STEP, STEP, 2 * STEP):
            t = theta.copy()
            t[i] += step
            vals.append(objective(t))
            # the stencil must not cross a relu kink
            same = map(np.array_equal, signs(t), signs(theta))
            assert activation != "relu" or all(same), "a kink: choose another seed"
        fd[i] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * STEP)
    scale = np.abs(fd).max()
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * scale)
    # the value too, the L1 part (a proximal step, not in the gradient) of
    # the reported weights included
    l1 = alpha * l1_ratio if penalty == "elasticnet" else 0.0
    l1_term = l1 * sum(np.abs(W).sum() for W in reported(theta)[0])
    assert value + pen.value(theta) == pytest.approx(
        objective(theta) + l1_term, rel=1e-12
    )


def test_reported_weights_round_trip_through_the_parameter_vector():
    rng = np.random.RandomState(0)
    model = MLP(
        [3, 4, 2], "tanh", "he_normal", out_scale=[7.0, 1e-3], out_shift=[1e4, 2]
    )
    theta = rng.normal(size=model.size)
    coefs, intercepts = model.coefs(theta)
    V, c = model.unpack(theta)[0][-1], model.unpack(theta)[1][-1]
    np.testing.assert_array_equal(coefs[-1], V * [7.0, 1e-3])
    np.testing.assert_allclose(intercepts[-1], c * [7.0, 1e-3] + [1e4, 2], rtol=1e-15)
    np.testing.assert_allclose(
        model.from_coefs(coefs, intercepts, np.float64), theta, rtol=1e-12
    )


# ------------------------------------------------------------------ penalty
@pytest.mark.parametrize("penalty", ["l2", "l1", "elasticnet"])
def test_objective_penalizes_the_reported_weights(penalty):
    """The first point of 'gd' is the start (no momentum yet): its
    loss_curve_ entry is the documented objective of the starting weights,
    computed here from the reported (target-unit) weights. On targets in the
    thousands, a penalty of the solver's V instead of W would be off by
    sigma**2 (l2) or sigma (l1) in the output layer."""
    X, y = _data(n=50)
    y = 1000 * y
    alpha, l1_ratio = 0.05, 0.4
    reg = GDMLPRegressor(
        (6,),
        solver="gd",
        penalty=penalty,
        alpha=alpha,
        l1_ratio=l1_ratio,
        learning_rate_init=1e-14,
        max_iter=1,
        tol=None,
        random_state=3,
    )
    _quiet(reg, X, y)
    rho = {"l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[penalty]
    raw = reg.predict(X)
    loss = 0.5 * np.mean((y - raw) ** 2)
    l1 = sum(np.abs(W).sum() for W in reg.coefs_)
    l2 = sum((W**2).sum() for W in reg.coefs_)
    expected = loss + alpha * rho * l1 + 0.5 * alpha * (1 - rho) * l2
    assert reg.loss_curve_[0] == pytest.approx(expected, rel=1e-10)
    # the output layer carries the penalty's bulk: the check is not vacuous
    last = (
        alpha * rho * np.abs(reg.coefs_[-1]).sum()
        + 0.5 * alpha * (1 - rho) * (reg.coefs_[-1] ** 2).sum()
    )
    assert last > 100 * (expected - loss - last)


# ---------------------------------------------------- targets and outputs
def test_multi_output_predicts_each_target_in_its_own_units():
    X, y = _data(n=200, n_features=5)
    Y = np.column_stack([y, 1e4 * y + 2e6, -1e-2 * X[:, 3]])
    reg = _quiet(GDMLPRegressor((32,), learning_rate_init=0.01, random_state=0), X, Y)
    pred = reg.predict(X)
    assert pred.shape == Y.shape
    assert reg.n_outputs_ == 3
    assert reg.coefs_[-1].shape == (32, 3) and reg.intercepts_[-1].shape == (3,)
    r2 = r2_score(Y, pred, multioutput="raw_values")
    assert np.all(r2 > 0.95), r2
    assert reg.score(X, Y) == pytest.approx(r2.mean(), rel=1e-12)
    # the first two targets are one target in two units: the same fit, but
    # for their output columns, which start from different draws
    assert r2[0] == pytest.approx(r2[1], abs=0.01)


def test_1d_and_column_targets_fit_the_same_and_keep_their_ndim():
    X, y = _data()
    make = dict(hidden_layer_sizes=(5,), max_iter=20, random_state=0)
    flat = _quiet(GDMLPRegressor(**make), X, y)
    column = _quiet(GDMLPRegressor(**make), X, y[:, None])
    assert flat.predict(X).shape == (len(X),)
    assert column.predict(X).shape == (len(X), 1)
    np.testing.assert_array_equal(column.predict(X)[:, 0], flat.predict(X))
    assert flat.n_outputs_ == column.n_outputs_ == 1


def test_sample_weight_equals_repeated_rows():
    """Full-batch 'gd' at the 'auto' rate: the target statistics, the rate
    (curvature cap included) and every step are those of the repeated rows."""
    X, y = _data(n=40)
    counts = np.random.RandomState(0).randint(0, 4, len(X))
    make = dict(hidden_layer_sizes=(6,), solver="gd", max_iter=5, tol=None)
    weighted = GDMLPRegressor(random_state=0, **make).fit(X, y, sample_weight=counts)
    keep = np.repeat(np.arange(len(X)), counts)
    repeated = GDMLPRegressor(random_state=0, **make).fit(X[keep], y[keep])
    assert weighted.learning_rate_init_ == pytest.approx(
        repeated.learning_rate_init_, rel=1e-12
    )
    for a, b in zip(_params(weighted), _params(repeated), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_training_r2_below_zero_warns_naming_the_targets():
    X, y = _data(n=60)
    Y = np.column_stack([y, 50 * y])
    reg = GDMLPRegressor((8,), learning_rate_init=1e-9, max_iter=2, tol=None)
    # a seed whose random output columns both start worse than the mean
    with pytest.warns(ConvergenceWarning, match=r"R² of target\(s\) \[0, 1\] is -"):
        reg.set_params(random_state=1).fit(X, Y)
    assert np.all(r2_score(Y, reg.predict(X), multioutput="raw_values") < -1e-3)


def test_validation_scores_are_r2_of_the_held_out_rows():
    """The held-out rows are the first ``ceil(0.1 n)`` of the seed's
    permutation (drawn before the weights); the restored weights score
    ``best_validation_score_`` on them."""
    X, y = _data(n=100)
    reg = _quiet(
        GDMLPRegressor(
            (8,), learning_rate_init=0.01, early_stopping=True, random_state=0
        ),
        X,
        y,
    )
    val = np.random.RandomState(0).permutation(len(X))[:10]
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.best_validation_score_ == pytest.approx(
        r2_score(y[val], reg.predict(X[val])), rel=1e-12
    )
    assert len(reg.validation_loss_curve_) == len(reg.validation_scores_) == reg.n_iter_


# ------------------------------------------------- partial_fit, warm start
@pytest.mark.parametrize("solver", ["gd", "adam"])
def test_partial_fit_calls_equal_fit_epochs(solver):
    X, y = _data()
    make = dict(hidden_layer_sizes=(5,), solver=solver, tol=None, random_state=0)
    fit = _quiet(GDMLPRegressor(max_iter=4, **make), X, 100 * y)
    part = GDMLPRegressor(**make)
    for _ in range(4):
        part.partial_fit(X, 100 * y)
    assert part.n_iter_ == 4
    for a, b in zip(_params(fit), _params(part), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_partial_fit_keeps_the_first_calls_units():
    """The mean and deviation of the first call are kept: a second chunk in
    other units trains the same parameters, it does not rescale them."""
    X, y = _data(n=120)
    make = dict(hidden_layer_sizes=(5,), solver="adam", random_state=0)
    reg = GDMLPRegressor(**make).partial_fit(X[:60], y[:60])
    before = [p.copy() for p in _params(reg)]
    reg.partial_fit(X[60:], 30 * y[60:])  # far off: a big step, same units
    # Adam moves each parameter by about the rate (in target deviations) per
    # step, whatever the gradient: the output intercept moved by 1 step of
    # about 0.001 std(y of the first chunk), not of the second
    steps = np.abs(reg.intercepts_[-1] - before[-1]) / y[:60].std()
    assert 1e-4 < steps.max() < 1e-2
    with pytest.raises(ValueError, match="y has 2 targets but GDMLPRegressor"):
        reg.partial_fit(X, np.column_stack([y, y]))


def test_warm_start_continues_as_one_fit_in_the_first_fits_units():
    X, y = _data()
    make = dict(hidden_layer_sizes=(5,), solver="adam", tol=None, random_state=0)
    once = _quiet(GDMLPRegressor(max_iter=7, **make), X, y)
    warm = _quiet(GDMLPRegressor(max_iter=4, warm_start=True, **make), X, y)
    _quiet(warm.set_params(max_iter=3), X, y)
    assert warm.n_iter_ == 7 and len(warm.loss_curve_) == 7
    for a, b in zip(_params(once), _params(warm), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # the targets' deviations of the first fit are kept: a warm fit on
    # targets three times larger keeps its steps (a rate of 'gd' is divided
    # by the variance of the first fit's targets)
    gd = GDMLPRegressor(
        (5,), solver="gd", learning_rate_init=0.01, max_iter=2, warm_start=True
    )
    rate = _quiet(gd.set_params(random_state=0), X, y).learning_rate_init_
    assert rate == pytest.approx(0.01 / y.var(), rel=1e-12)
    assert _quiet(gd, X, 3 * y).learning_rate_init_ == rate


@pytest.mark.parametrize("hidden", [(), (6,)], ids=["linear", "1hidden"])
def test_sparse_input_fits_as_dense(hidden):
    """Sparse rows reach the curvature cap of 'gd' directly when there is no
    hidden layer."""
    X, y = _data(n=60)
    X[np.abs(X) < 0.7] = 0
    make = dict(hidden_layer_sizes=hidden, solver="gd", max_iter=10, random_state=0)
    dense = _quiet(GDMLPRegressor(**make), X, y)
    sparse = _quiet(GDMLPRegressor(**make), sp.csr_matrix(X), y)
    assert sparse.learning_rate_init_ == pytest.approx(dense.learning_rate_init_)
    np.testing.assert_allclose(sparse.predict(X), dense.predict(X), rtol=1e-12)
