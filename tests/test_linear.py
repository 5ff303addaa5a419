"""GDRegressor against closed forms, finite differences and its documented rules."""

import pickle
import re
import warnings
from functools import lru_cache

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning, NotFittedError
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDRegressor
from skgd._data import ArrayRows
from skgd._losses import squared_error
from skgd._models import LinearModel, weighted_mean_scale
from skgd._penalties import make_penalty

# the settings under which full-batch descent must reach the closed form
EXACT = {"solver": "gd", "tol": 1e-12, "max_iter": 5000}


@lru_cache
def _diabetes(standardize=True):
    X, y = load_diabetes(return_X_y=True)
    if standardize:
        X = StandardScaler().fit_transform(X)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def _synthetic(seed=0, n=120, d=6):
    """Well-conditioned regression with two irrelevant features and an offset."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    w = rng.randn(d)
    w[[1, 4]] = 0.0
    y = X @ w + 0.5 + 0.3 * rng.randn(n)
    return X, y


def _rel_err(a, b):
    return float(np.linalg.norm(np.ravel(a) - np.ravel(b)) / np.linalg.norm(b))


# --------------------------------------------------------------- gradients
def _docstring_objective(W, b, X, Y, sw, l2):
    """The smooth part of the objective of the Notes, in original coordinates."""
    R = Y - X @ W - b
    return 0.5 * np.dot(sw, np.sum(R * R, axis=1)) / sw.sum() + 0.5 * l2 * np.sum(W * W)


def _central_difference(f, theta, h=1e-3):
    grad = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h * max(1.0, abs(theta[j]))
        grad[j] = (f(theta + e) - f(theta - e)) / (2 * e[j])
    return grad


def _model_and_data(fit_intercept, precondition, n_outputs, seed=0):
    rng = np.random.RandomState(seed)
    n, d = 40, 5
    # features with offsets and scales far from standard, so that the change
    # of variables of the preconditioner is far from the identity
    X = rng.randn(n, d) * [1.0, 10.0, 0.1, 3.0, 1.0] + [0.0, 5.0, -2.0, 1.0, 30.0]
    Y = rng.randn(n, n_outputs)
    sw = rng.randint(0, 4, n).astype(float)
    sw[0] = 0.0
    mean = scale = None
    if precondition:
        mean, scale = weighted_mean_scale(ArrayRows(X, np.empty((n, 0)), sw))
    model = LinearModel(d, n_outputs, fit_intercept, mean, scale)
    theta = rng.randn(model.size)
    return model, X, Y, sw, theta


@pytest.mark.parametrize("penalty", ["l2", "elasticnet", None])
@pytest.mark.parametrize("precondition", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_smooth_gradient_matches_finite_differences(
    penalty, precondition, fit_intercept, n_outputs
):
    """Loss + L2 gradient, as the training loop builds it, is the true gradient."""
    model, X, Y, sw, theta = _model_and_data(fit_intercept, precondition, n_outputs)
    alpha, l1_ratio = 0.7, 0.3
    pen = make_penalty(
        penalty, alpha, l1_ratio, model.n_penalized, model.penalty_weights
    )
    l2 = {"l2": alpha, "elasticnet": alpha * (1 - l1_ratio), None: 0.0}[penalty]

    raw, cache = model.forward(theta, X)
    loss, draw = squared_error(raw, Y, sw)
    grad = model.backward(theta, X, draw, cache, np.empty_like(theta))
    pen.add_grad(theta, grad)

    def f(t):
        return _docstring_objective(*model.coef(t), X, Y, sw, l2)

    numeric = _central_difference(f, theta)
    assert _rel_err(grad, numeric) <= 1e-6
    # the pieces' value is the documented objective (penalty.value adds L1)
    W, _ = model.coef(theta)
    l1 = alpha * l1_ratio * np.abs(W).sum() if penalty == "elasticnet" else 0.0
    assert loss + pen.value(theta) == pytest.approx(f(theta) + l1, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("precondition", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_from_coef_and_coef_are_inverse(dtype, precondition, fit_intercept):
    model, _, _, _, theta = _model_and_data(fit_intercept, precondition, 3)
    rng = np.random.RandomState(1)
    W = rng.randn(model.n_features, model.n_outputs)
    b = rng.randn(model.n_outputs) if fit_intercept else np.zeros(model.n_outputs)
    rtol = 1e-13 if dtype == np.float64 else 1e-5

    theta_ = model.from_coef(W, b, dtype)
    assert theta_.dtype == dtype and theta_.shape == (model.size,)
    W2, b2 = model.coef(theta_)
    assert W2.dtype == b2.dtype == dtype
    scale_W = np.abs(W).max()
    np.testing.assert_allclose(W2, W, rtol=rtol, atol=rtol * scale_W)
    np.testing.assert_allclose(b2, b, rtol=rtol, atol=rtol * 40 * scale_W)
    # and the other way round
    theta = theta.astype(dtype)
    back = model.from_coef(*model.coef(theta), dtype)
    np.testing.assert_allclose(back, theta, rtol=rtol, atol=rtol * 40)


# ------------------------------------------------------ closed-form references
_ALPHA = {"diabetes": 0.5, "synthetic": 0.05}


def _reference(penalty, alpha, l1_ratio, sw):
    if penalty is None:
        return LinearRegression()
    if penalty == "l2":
        # our loss is divided by sum(sw), Ridge's is not
        return Ridge(alpha=alpha * sw.sum())
    if penalty == "l1":
        return Lasso(alpha=alpha, tol=1e-14, max_iter=100_000)
    return ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("penalty", [None, "l2", "l1", "elasticnet"])
@pytest.mark.parametrize("data", ["diabetes", "synthetic"])
def test_gd_reaches_closed_form_solution(data, penalty, weighted):
    X, y = _diabetes() if data == "diabetes" else _synthetic()
    n = X.shape[0]
    sw = np.ones(n)
    if weighted:
        sw = np.random.RandomState(2).randint(0, 4, n).astype(float)
    alpha, l1_ratio = _ALPHA[data], 0.5
    kw = {} if penalty is None else {"alpha": alpha, "l1_ratio": l1_ratio}

    est = GDRegressor(penalty=penalty, **kw, **EXACT).fit(X, y, sample_weight=sw)
    ref = _reference(penalty, alpha, l1_ratio, sw).fit(X, y, sample_weight=sw)

    assert _rel_err(est.coef_, ref.coef_) <= 1e-6
    assert est.intercept_ == pytest.approx(ref.intercept_, rel=1e-6, abs=1e-9)
    # the proximal step yields exact zeros, at the coordinate descent's positions
    np.testing.assert_array_equal(est.coef_ == 0, ref.coef_ == 0)
    if penalty == "l1":
        assert np.sum(ref.coef_ == 0) > 0


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_l1_gives_exact_zeros_with_stochastic_solvers(solver):
    rng = np.random.RandomState(0)
    X = rng.randn(300, 20)
    w = np.zeros(20)
    w[:3] = [3.0, -2.0, 1.0]
    y = X @ w + 0.1 * rng.randn(300)
    est = GDRegressor(
        solver=solver, penalty="l1", alpha=0.1, batch_size=32, random_state=0
    ).fit(X, y)
    assert np.sum(est.coef_ == 0) > 0
    assert np.all(est.coef_[:3] != 0)


# ------------------------------------------------------------- multi-output
@pytest.mark.parametrize("y_shape", ["1d", "column", "3 targets"])
def test_target_shapes_follow_linear_regression(y_shape):
    X, y = _synthetic(seed=3)
    rng = np.random.RandomState(3)
    Y = {
        "1d": y,
        "column": y[:, None],
        "3 targets": np.column_stack([y, X @ rng.randn(6) - 2.0, -2 * y + 1.0]),
    }[y_shape]
    est = GDRegressor(**EXACT).fit(X, Y)
    ref = LinearRegression().fit(X, Y)

    assert est.coef_.shape == ref.coef_.shape
    assert np.shape(est.intercept_) == np.shape(ref.intercept_)
    assert est.predict(X).shape == ref.predict(X).shape == Y.shape
    if y_shape == "3 targets":
        assert est.coef_.shape == (3, X.shape[1])
        assert est.intercept_.shape == (3,)
    if y_shape == "1d":
        assert est.coef_.shape == (X.shape[1],) and np.ndim(est.intercept_) == 0
    assert _rel_err(est.coef_, ref.coef_) <= 1e-6
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-6, atol=1e-10)


# ------------------------------------------------------------------- float32
@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_float32_input_gives_float32_model_close_to_float64(solver):
    rng = np.random.RandomState(0)
    X = rng.randn(300, 8)
    y = X @ rng.randn(8) + 0.5 + 0.1 * rng.randn(300)
    # a fixed number of epochs (tol=None), so both runs take the same steps
    params = {
        "solver": solver,
        "batch_size": 32,
        "random_state": 0,
        "tol": None,
        "max_iter": 20,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est32 = GDRegressor(**params).fit(X.astype(np.float32), y)
        est64 = GDRegressor(**params).fit(X, y)

    assert est32.coef_.dtype == np.float32
    assert np.asarray(est32.intercept_).dtype == np.float32
    assert est32.predict(X.astype(np.float32)).dtype == np.float32
    assert est64.coef_.dtype == np.float64
    assert est32.n_iter_ == est64.n_iter_ == 20
    np.testing.assert_allclose(est32.coef_, est64.coef_, rtol=1e-4, atol=1e-5)
    assert est32.intercept_ == pytest.approx(est64.intercept_, rel=1e-4)


# ----------------------------------------------------------------- divergence
def _unscaled(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(100, 3) * [100.0, 1.0, 10.0]
    return X, X @ [1.0, 2.0, 3.0] + 1.0


def _assert_divergence_message(message):
    for word in ("diverged", "epoch", "learning_rate_init", "StandardScaler"):
        assert word in message
    assert "clip_norm" in message
    assert re.search(r"epoch \d+", message)


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "sgd", "learning_rate_init": 10.0, "precondition": False},
        {"solver": "adam", "learning_rate_init": 1e6, "precondition": False},
        {"solver": "adam", "learning_rate_init": 1e6},
    ],
)
def test_diverging_fit_raises_and_leaves_estimator_unfitted(params):
    X, y = _unscaled()
    est = GDRegressor(**params, random_state=0)
    with pytest.raises(ValueError) as exc:
        est.fit(X, y)
    _assert_divergence_message(str(exc.value))
    assert not hasattr(est, "coef_")
    with pytest.raises(NotFittedError):
        est.predict(X)


def test_diverging_refit_leaves_fitted_estimator_unchanged():
    X, y = _unscaled()
    est = GDRegressor().fit(X, y)
    coef, intercept, n_iter = est.coef_.copy(), est.intercept_, est.n_iter_
    pred = est.predict(X)

    est.set_params(solver="sgd", learning_rate_init=10.0, precondition=False)
    with pytest.raises(ValueError, match="diverged"):
        est.fit(X, y)
    np.testing.assert_array_equal(est.coef_, coef)
    assert est.intercept_ == intercept and est.n_iter_ == n_iter
    np.testing.assert_array_equal(est.predict(X), pred)


def test_diverging_warm_start_fit_leaves_estimator_unchanged():
    """A failed warm-started fit must not leave its rate, seed or state behind.

    Regression: the continuation state (rate, random state, optimizer state)
    was updated in place before the divergence, so the next partial_fit
    continued with the diverging rate.
    """
    X, y = _unscaled()
    params = {"solver": "sgd", "batch_size": 32, "random_state": 0, "max_iter": 3}
    est = GDRegressor(**params, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    twin = pickle.loads(pickle.dumps(est))

    est.set_params(learning_rate_init=10.0)
    with pytest.raises(ValueError, match="diverged"):
        est.fit(X, y)
    est.set_params(learning_rate_init="auto")
    for model in (est, twin):
        model.partial_fit(X, y)
    assert (est.n_iter_, est.t_) == (twin.n_iter_, twin.t_) == (4, 4 * 4)
    np.testing.assert_array_equal(est.coef_, twin.coef_)
    assert est.intercept_ == twin.intercept_
    assert est.loss_curve_ == twin.loss_curve_


@pytest.mark.parametrize("seed", [0, 1])
def test_sgd_auto_rate_does_not_diverge_with_sample_weights(seed):
    """The documented promise of 'auto': no divergence, here with weights.

    Regression: 'sgd' with its default momentum of 0.9 took the plain-SGD step
    1 / L_b and diverged on this weighted problem (and stopped 0.04 to 0.09 R²
    short of least squares on standardized diabetes without weights).
    """
    rng = np.random.RandomState(1)
    X = rng.randn(150, 20)
    X[rng.rand(150, 20) >= 0.3] = 0.0
    y = X @ rng.randn(20) + 2.0 + 0.1 * rng.randn(150)
    sw = rng.randint(0, 3, 150).astype(float)

    est = GDRegressor(solver="sgd", batch_size=32, random_state=seed)
    est.fit(X, y, sample_weight=sw)
    ref = LinearRegression().fit(X, y, sample_weight=sw)
    assert est.score(X, y, sw) == pytest.approx(ref.score(X, y, sw), abs=0.01)


def _mixed_scales(seed=0):
    rng = np.random.RandomState(seed)
    X = np.column_stack([1e3 * rng.randn(200), rng.randn(200), rng.randn(200)])
    y = X @ [0.002, 1.0, -2.0] + 3.0 + 0.1 * rng.randn(200)
    return X, y


def test_gd_auto_step_converges_on_features_of_scales_1e3_and_1():
    X, y = _mixed_scales()
    est = GDRegressor().fit(X, y)
    ref = LinearRegression().fit(X, y)
    assert est.n_iter_ < est.max_iter
    assert est.score(X, y) == pytest.approx(ref.score(X, y), abs=1e-6)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-4)


def test_gd_auto_step_without_precondition_does_not_diverge():
    X, y = _mixed_scales()
    est = GDRegressor(precondition=False, max_iter=200)
    # plain descent on this conditioning is slow: the budget runs out
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert np.all(np.isfinite(est.coef_)) and np.isfinite(est.intercept_)
    assert np.all(np.isfinite(est.loss_curve_))
    assert est.loss_curve_[-1] < est.loss_curve_[0]


# ------------------------------------------------------------ model selection
def test_grid_search_scores_diverging_candidate_nan_and_picks_a_good_one():
    X, y = load_diabetes(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    rates = [1e-4, 1e-2, 1.0, 100.0]
    pipe = make_pipeline(
        StandardScaler(),
        GDRegressor(solver="sgd", precondition=False, batch_size=32, random_state=0),
    )
    search = GridSearchCV(
        pipe, {"gdregressor__learning_rate_init": rates}, cv=3, error_score=np.nan
    )
    with pytest.warns(FitFailedWarning, match="fits failed"):
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", "One or more of the test scores are non-finite", UserWarning
            )
            search.fit(X_tr, y_tr)

    scores = search.cv_results_["mean_test_score"]
    diverging = rates.index(100.0)
    assert np.isnan(scores[diverging])
    assert all(
        np.isnan(search.cv_results_[f"split{i}_test_score"][diverging])
        for i in range(3)
    )
    assert np.isfinite(scores[search.best_index_])
    assert search.best_params_["gdregressor__learning_rate_init"] != 100.0
    held_out = LinearRegression().fit(X_tr, y_tr).score(X_te, y_te)
    assert search.score(X_te, y_te) == pytest.approx(held_out, abs=0.01)


# ------------------------------------------------------------ stopping rules
@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_convergence_warning_when_max_iter_ends_the_fit(solver):
    X, y = _diabetes()
    est = GDRegressor(solver=solver, max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        est.fit(X, y)
    assert est.n_iter_ == 2


def test_gd_defaults_converge_on_standardized_diabetes_without_warning():
    X, y = _diabetes()
    est = GDRegressor()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ < est.max_iter


def test_gd_stops_once_proximal_gradient_is_below_tol():
    """The rule is relative: the largest gradient entry in the solver's
    coordinates at most ``tol * std(y)`` (the diagonal preconditioner, whose
    coordinates are the original ones on standardized data)."""
    X, y = _diabetes()
    n_iters = {}
    for tol in (1e-1, 1e-2, 1e-4, 1e-8):
        est = GDRegressor(tol=tol, precondition="diagonal").fit(X, y)
        n_iters[tol] = est.n_iter_
        assert est.n_iter_ < est.max_iter
        r = X @ est.coef_ + est.intercept_ - y
        grad = np.r_[X.T @ r, r.sum()] / len(y)
        assert np.max(np.abs(grad)) <= 2 * tol * np.std(y)
        # and the rule had not fired one epoch earlier
        with pytest.warns(ConvergenceWarning):
            GDRegressor(tol=tol, max_iter=est.n_iter_ - 1, precondition="diagonal").fit(
                X, y
            )
    assert n_iters[1e-1] < n_iters[1e-2] < n_iters[1e-4] < n_iters[1e-8]


def test_gd_with_the_full_preconditioner_lands_in_a_few_epochs():
    """Whitened, least squares has the identity Hessian: the step 1 / L = 1
    is Newton's, and gd reaches the closed form at once."""
    X, y = _diabetes()
    est = GDRegressor(tol=1e-12).fit(X, y)
    ref = LinearRegression().fit(X, y)
    assert est.n_iter_ <= 4
    assert est.learning_rate_init_ == pytest.approx(1.0, rel=1e-10)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n_iter_no_change", [3, 5])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_stochastic_solvers_stop_after_n_iter_no_change_epochs(
    solver, n_iter_no_change
):
    X, y = _diabetes()
    est = GDRegressor(
        solver=solver,
        learning_rate="constant",
        batch_size=32,
        tol=1e-3,
        n_iter_no_change=n_iter_no_change,
        random_state=0,
    ).fit(X, y)
    # the documented rule, replayed on the recorded objective: tol is relative
    # to the starting objective var(y) / 2 (the best constant's)
    tol = 1e-3 * np.var(y) / 2
    best, stale, expected = np.inf, 0, None
    for epoch, loss in enumerate(est.loss_curve_, start=1):
        stale = 0 if loss < best - tol else stale + 1
        best = min(best, loss)
        if stale >= n_iter_no_change:
            expected = epoch
            break
    assert expected is not None and est.n_iter_ == expected < est.max_iter
    assert len(est.loss_curve_) == est.n_iter_


# ------------------------------------------------------- automatic step size
def _solver_design(X, sw, fit_intercept, precondition):
    """The design matrix in the solver's coordinates, from StandardScaler's
    statistics, and the column scales: centered and standardized with an
    intercept (which is then fixed at its closed form, outside the Hessian),
    divided by the root mean square without; plain ``[X, 1]`` unpreconditioned.
    """
    if not precondition:
        ones = [np.ones(len(X))] if fit_intercept else []
        return np.column_stack([X, *ones]), np.ones(X.shape[1])
    scaler = StandardScaler(with_mean=fit_intercept).fit(X, sample_weight=sw)
    if fit_intercept:
        return scaler.transform(X), scaler.scale_
    rms = np.sqrt(np.average(X**2, axis=0, weights=sw))
    return X / rms, rms


def _auto_data(seed=0, n=80):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4) * [1.0, 20.0, 0.3, 5.0] + [3.0, -10.0, 0.0, 1.0]
    y = X @ rng.randn(4) + rng.randn(n)
    return X, y


@pytest.mark.parametrize("penalty", [None, "l2"])
@pytest.mark.parametrize("precondition", [True, "diagonal", False])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gd_auto_rate_is_inverse_lipschitz_constant(
    penalty, precondition, fit_intercept
):
    X, y = _auto_data()
    sw = np.random.RandomState(1).randint(0, 3, len(y)).astype(float)
    alpha = 0.3
    est = GDRegressor(
        penalty=penalty,
        alpha=alpha,
        precondition=precondition,
        fit_intercept=fit_intercept,
        max_iter=1,
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y, sample_weight=sw)

    Z, scale = _solver_design(X, sw, fit_intercept, bool(precondition))
    H = (Z * sw[:, None]).T @ Z / sw.sum()
    if penalty == "l2":
        # the L2 Hessian in the solver's coordinates: alpha / scale**2
        H += np.diag(np.r_[alpha / scale**2, np.zeros(Z.shape[1] - scale.size)])
    if precondition is True:
        # whitened by the Cholesky factor of H: the identity
        R = np.linalg.cholesky(H).T
        H = np.linalg.solve(R.T, np.linalg.solve(R.T, H).T)
        np.testing.assert_allclose(H, np.eye(len(H)), atol=1e-10)
    L = np.linalg.eigvalsh(H)[-1]
    assert est.learning_rate_init_ == pytest.approx(1 / L, rel=1e-10)


@pytest.mark.parametrize("precondition", [True, "diagonal"])
@pytest.mark.parametrize("batch_size", [1, 16, 80])
def test_sgd_auto_rate_is_inverse_expected_smoothness(batch_size, precondition):
    X, y = _auto_data(n=80)
    # without momentum, whose step 'auto' may shrink, the docstring formula holds
    est = GDRegressor(
        solver="sgd",
        batch_size=batch_size,
        momentum=0.0,
        max_iter=1,
        random_state=0,
        precondition=precondition,
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)

    n, b = X.shape[0], batch_size
    Z, _ = _solver_design(X, np.ones(n), True, True)
    if precondition is True:
        Z = Z @ np.linalg.inv(np.linalg.cholesky(Z.T @ Z / n).T)
    L = np.linalg.eigvalsh(Z.T @ Z / n)[-1]
    L_max = np.max(np.sum(Z * Z, axis=1))
    expected = n * (b - 1) / (b * (n - 1)) * L + (n - b) / (b * (n - 1)) * L_max
    if b == n:
        expected = L
    # whitened, the largest row norm is computed in float32 (a few digits
    # suffice for a step size, and the pass costs half)
    rel = 1e-5 if precondition is True and b < n else 1e-10
    assert est.learning_rate_init_ == pytest.approx(1 / expected, rel=rel)
