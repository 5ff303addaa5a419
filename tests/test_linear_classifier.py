"""GDClassifier against LogisticRegression and an independent optimizer, and
GDRegressor's Huber loss against scipy.optimize on the same objective."""

import warnings
from functools import partial

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from test_mlp_numerics import _five_point

from skgd import GDClassifier, GDRegressor
from skgd._data import ArrayRows
from skgd._losses import huber, squared_hinge

# full-batch 'gd' run to (numerical) convergence
EXACT = dict(solver="gd", tol=1e-12, max_iter=100_000)


def _data(n_classes, n=400, seed=0):
    X, y = make_classification(
        n_samples=n,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        flip_y=0.1,
        class_sep=0.8,
        random_state=seed,
    )
    # columns on other scales and offsets: the preconditioner must not matter
    return X * [1.0, 3.0, 0.5, 2.0, 1.0, 1.0] + [0.0, 4.0, 0.0, -1.0, 0.0, 2.0], y


def _reference(penalty, alpha, n):
    common = dict(tol=1e-13, max_iter=200_000)
    if penalty == "l2":
        return LogisticRegression(C=1.0 / (alpha * n), **common)
    if penalty is None:
        return LogisticRegression(C=np.inf, **common)
    ratio = {"l1": 1.0, "elasticnet": 0.15}[penalty]
    return LogisticRegression(
        C=1.0 / (alpha * n), l1_ratio=ratio, solver="saga", **common
    )


def _centered(coef, intercept, k, center_coef):
    # the softmax's representative with zero-sum intercepts (and weights)
    if k > 2:
        intercept = intercept - intercept.mean()
        if center_coef:
            coef = coef - coef.mean(axis=0)
    return coef, intercept


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("penalty", ["l2", None, "l1", "elasticnet"])
def test_gd_reaches_logistic_regression(n_classes, penalty):
    X, y = _data(n_classes)
    alpha = 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # saga's last digits
        ref = _reference(penalty, alpha, len(y)).fit(X, y)
    clf = GDClassifier(penalty=penalty, alpha=alpha, **EXACT).fit(X, y)
    coef, intercept = _centered(
        ref.coef_, ref.intercept_, n_classes, penalty in ("l2", None)
    )
    assert clf.coef_.shape == ref.coef_.shape
    assert np.linalg.norm(clf.coef_ - coef) <= 1e-6 * np.linalg.norm(coef)
    # lbfgs stops with gradients near 1e-7 (gd's are below 1e-12): the
    # intercepts agree to the reference's own accuracy
    np.testing.assert_allclose(clf.intercept_, intercept, rtol=0, atol=2e-6)
    np.testing.assert_allclose(
        clf.predict_proba(X), ref.predict_proba(X), rtol=0, atol=2e-6
    )
    assert np.array_equal(clf.classes_, ref.classes_)


def test_multinomial_weights_sum_to_zero_over_classes_for_every_solver():
    X, y = load_iris(return_X_y=True)
    for solver in ("gd", "adam", "sgd"):
        clf = GDClassifier(solver=solver, max_iter=50, tol=None, random_state=0)
        clf.fit(X, y)
        np.testing.assert_allclose(clf.coef_.sum(axis=0), 0.0, atol=1e-12)
        np.testing.assert_allclose(clf.intercept_.sum(), 0.0, atol=1e-12)


def test_sample_weight_of_two_equals_a_repeated_row_and_class_weight_multiplies():
    X, y = _data(3, n=120)
    sw = np.random.RandomState(0).randint(0, 3, size=len(y)).astype(float)
    rep = np.repeat(np.arange(len(y)), sw.astype(int))
    a = GDClassifier(**EXACT).fit(X, y, sample_weight=sw)
    b = GDClassifier(**EXACT).fit(X[rep], y[rep])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-7, atol=1e-9)
    cw = {0: 0.5, 1: 2.0, 2: 1.0}
    c = GDClassifier(class_weight=cw, **EXACT).fit(X, y)
    d = GDClassifier(**EXACT).fit(X, y, sample_weight=np.vectorize(cw.get)(y))
    np.testing.assert_allclose(c.coef_, d.coef_, rtol=1e-7, atol=1e-9)
    assert np.linalg.norm(c.coef_ - GDClassifier(**EXACT).fit(X, y).coef_) > 1e-2


def test_string_labels_and_the_shapes_of_the_outputs():
    X, y = _data(2)
    labels = np.array(["no", "yes"])[y]
    clf = GDClassifier().fit(X, labels)
    assert clf.coef_.shape == (1, 6) and clf.intercept_.shape == (1,)
    scores = clf.decision_function(X)
    assert scores.shape == (len(y),)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(scores > 0) * 1])
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.log(proba), clf.predict_log_proba(X), rtol=1e-12)
    # the labels' spelling does not change the model
    numeric = GDClassifier().fit(X, y)
    np.testing.assert_array_equal(clf.coef_, numeric.coef_)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[numeric.predict(X)])

    X3, y3 = _data(3)
    clf3 = GDClassifier().fit(X3, np.array(["a", "b", "c"])[y3])
    assert clf3.decision_function(X3).shape == (len(y3), 3)
    np.testing.assert_array_equal(
        clf3.predict(X3), clf3.classes_[clf3.predict_proba(X3).argmax(axis=1)]
    )


def test_sparse_input_gives_the_dense_solution():
    X, y = _data(3)
    X[np.abs(X) < 0.7] = 0.0
    dense = GDClassifier(**EXACT).fit(X, y)
    sparse = GDClassifier(**EXACT).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        sparse.predict_proba(sp.csc_matrix(X)), dense.predict_proba(X), atol=1e-8
    )


def test_partial_fit_needs_the_classes_and_converges_on_chunks():
    X, y = _data(3)
    clf = GDClassifier(solver="gd")
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    # the first chunk lacks class 2: its prior is floored, not log(0)
    first = y != 2
    clf.partial_fit(X[first], y[first], classes=[0, 1, 2])
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    for _ in range(400):
        clf.partial_fit(X, y)
    exact = GDClassifier(**EXACT).fit(X, y)
    assert np.linalg.norm(clf.coef_ - exact.coef_) <= 1e-4 * np.linalg.norm(exact.coef_)
    with pytest.raises(ValueError, match="differs from the classes"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="balanced"):
        GDClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


def test_multilabel_targets_are_refused_with_a_remedy():
    X, _ = _data(2)
    Y = np.random.RandomState(0).randint(0, 2, size=(len(X), 3))
    with pytest.raises(ValueError, match=r"multilabel.*MultiOutputClassifier"):
        GDClassifier().fit(X, Y)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_squared_hinge_reaches_the_minimizer_of_its_objective(n_classes):
    X, y = _data(n_classes, n=200)
    alpha, n, d = 0.01, len(y), X.shape[1]
    Y = np.eye(n_classes)[y] if n_classes > 2 else y[:, None].astype(float)
    k = Y.shape[1]

    def objective(p):
        W, b = p[: d * k].reshape(d, k), p[d * k :]
        value, draw = squared_hinge(X @ W + b, Y, np.ones(n))
        grad = np.concatenate([(X.T @ draw + alpha * W).ravel(), draw.sum(0)])
        return value + 0.5 * alpha * np.sum(W**2), grad

    res = minimize(
        objective,
        np.zeros(d * k + k),
        jac=True,
        method="L-BFGS-B",
        options=dict(gtol=1e-12, ftol=0, maxiter=20_000),
    )
    W_ref = res.x[: d * k].reshape(d, k).T
    clf = GDClassifier(loss="squared_hinge", alpha=alpha, **EXACT).fit(X, y)
    assert np.linalg.norm(clf.coef_ - W_ref) <= 1e-6 * np.linalg.norm(W_ref)
    np.testing.assert_allclose(clf.intercept_, res.x[d * k :], atol=1e-6)
    assert not hasattr(clf, "predict_proba")


def test_new_losses_match_their_formula_and_a_five_point_stencil():
    rng = np.random.RandomState(3)
    raw, sw = rng.randn(7, 3) * 2, rng.rand(7) + 0.5
    Y = rng.randint(0, 2, size=(7, 3)).astype(float)
    eps, h = 0.8, 1e-4
    cases = {
        "huber": (
            partial(huber, epsilon=eps),
            lambda r: np.where(
                np.abs(r - Y) <= eps,
                0.5 * (r - Y) ** 2,
                eps * np.abs(r - Y) - 0.5 * eps**2,
            ),
        ),
        "squared_hinge": (
            squared_hinge,
            lambda r: np.maximum(0, 1 - (2 * Y - 1) * r) ** 2,
        ),
    }
    for fn, per_entry in cases.values():
        value, grad = fn(raw, Y, sw)
        expected = np.sum(sw * per_entry(raw).sum(axis=1)) / sw.sum()
        np.testing.assert_allclose(value, expected, rtol=1e-13)
        fd = _five_point(lambda r, fn=fn: fn(r, Y, sw)[0], raw, h)
        np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-9)


def _huber_data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(300, 5) * [1.0, 2.0, 0.5, 3.0, 1.0] + [0.0, 5.0, 0.0, -2.0, 1.0]
    y = X @ rng.randn(5) + 0.5 * rng.randn(300) + 3.0
    y[:20] += 20 * rng.standard_cauchy(20)  # outliers
    return X, y


@pytest.mark.parametrize("penalty", [None, "l2"])
def test_huber_reaches_the_minimizer_found_by_scipy(penalty):
    X, y = _huber_data()
    eps, alpha = 0.7, 0.01 if penalty else 0.0
    sw = np.random.RandomState(1).rand(len(y)) + 0.5
    d = X.shape[1]

    def objective(p):
        w, b = p[:d], p[d]
        value, draw = huber((X @ w + b)[:, None], y[:, None], sw, epsilon=eps)
        grad = np.concatenate([X.T @ draw[:, 0] + alpha * w, draw.sum(0)])
        return value + 0.5 * alpha * w @ w, grad

    res = minimize(
        objective,
        np.zeros(d + 1),
        jac=True,
        method="L-BFGS-B",
        options=dict(gtol=1e-12, ftol=0, maxiter=20_000),
    )
    reg = GDRegressor(
        loss="huber", huber_epsilon=eps, penalty=penalty, alpha=alpha or 1e-4, **EXACT
    ).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(reg.coef_, res.x[:d], rtol=1e-6, atol=1e-8)
    assert reg.intercept_ == pytest.approx(res.x[d], rel=1e-6)
    # robust: the outliers move least squares far more than the Huber fit
    ls = GDRegressor(**EXACT).fit(X, y, sample_weight=sw)
    truth = GDRegressor(**EXACT).fit(X[20:], y[20:], sample_weight=sw[20:])
    assert np.linalg.norm(reg.coef_ - truth.coef_) < 0.2 * np.linalg.norm(
        ls.coef_ - truth.coef_
    )


def test_huber_with_mini_batches_lands_near_the_minimizer():
    X, y = _huber_data()
    exact = GDRegressor(loss="huber", huber_epsilon=0.7, **EXACT).fit(X, y)
    for solver in ("sgd", "adam"):
        reg = GDRegressor(loss="huber", huber_epsilon=0.7, solver=solver)
        reg.set_params(random_state=0).fit(X, y)
        gap = np.linalg.norm(reg.coef_ - exact.coef_) / np.linalg.norm(exact.coef_)
        assert gap < 1e-2, (solver, gap)


def test_huber_in_other_units_gives_the_same_model_scaled():
    X, y = _huber_data()
    a = GDRegressor(loss="huber", huber_epsilon=0.7, **EXACT).fit(X, y)
    b = GDRegressor(loss="huber", huber_epsilon=700.0, **EXACT).fit(X, 1000 * y)
    np.testing.assert_allclose(b.coef_, 1000 * a.coef_, rtol=1e-6)


def test_huber_refuses_precompute_and_skips_the_least_squares_shortcuts():
    X, y = _huber_data()
    with pytest.raises(ValueError, match="precompute=True needs loss='squared_error'"):
        GDRegressor(loss="huber", precompute=True).fit(X, y)
    reg = GDRegressor(loss="huber", huber_epsilon=0.7, solver="adam", random_state=0)
    reg.fit(X, y)
    assert reg._stats is None  # the Gram-matrix objective is least squares'
    # a warm start that switches the loss leaves the least-squares statistics
    ls = GDRegressor(warm_start=True, tol=1e-10).fit(X, y)
    ls.set_params(loss="huber", huber_epsilon=0.7).fit(X, y)
    np.testing.assert_allclose(
        ls.coef_,
        GDRegressor(loss="huber", huber_epsilon=0.7, **EXACT).fit(X, y).coef_,
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: GDClassifier(solver="sgd", alpha=0.01, learning_rate_init=1e-4),
        lambda: GDClassifier(
            loss="squared_hinge", solver="adam", alpha=0.01, learning_rate_init=1e-4
        ),
        lambda: GDRegressor(
            loss="huber", huber_epsilon=0.7, solver="sgd", learning_rate_init=1e-5
        ),
    ],
)
def test_a_mini_batch_fit_left_short_warns_with_a_bound_that_holds(make):
    # the loss's curvature is at most c (1/2 softmax, 2 squared hinge, 1
    # Huber): g' H^+ g / 2 with H = c X'X + the penalty is a decrease one step
    # provably achieves, so the printed share never exceeds the true gap
    if isinstance(make(), GDRegressor):
        X, y = _huber_data()
    else:
        X, y = load_iris(return_X_y=True)
    est = make().set_params(max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning, match="can still fall by at least") as rec:
        est.fit(X, y)
    message = next(str(w.message) for w in rec if "at least" in str(w.message))
    shown = float(message.split("at least ")[1].split(" ")[0])
    exact = make().set_params(learning_rate_init="auto", **EXACT).fit(X, y)

    def objective(m):
        loss = m._loss()
        Y, sw = m._validate_targets(
            y, np.ones(len(y)), np.float64, reset=False, classes=None
        )
        raw = X @ np.atleast_2d(m.coef_).T + m.intercept_
        l2 = m.alpha if m.penalty == "l2" else 0.0
        return loss(raw, Y, sw)[0] + 0.5 * l2 * np.sum(m.coef_**2), Y, sw

    f, Y, sw = objective(est)
    f_min = objective(exact)[0]
    null = est._constant_loss(ArrayRows(X, Y, sw), np.float64)
    assert 0 < shown <= (f - f_min) / null


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_a_stream_of_single_rows_learns(solver):
    # one row per partial_fit call: the first call's prior must not pin the
    # intercept (it was a log-odds of -14: accuracy 0.5), nor plateau cuts
    # freeze the rate; SGDClassifier's one pass is the yardstick
    X, y = make_classification(n_samples=1000, n_features=5, random_state=0)
    clf = GDClassifier(solver=solver, random_state=0)
    ref = SGDClassifier(loss="log_loss", random_state=0)
    with pytest.warns(UserWarning, match="first partial_fit call has 1 row"):
        clf.partial_fit(X[:1], y[:1], classes=[0, 1])
    ref.partial_fit(X[:1], y[:1], classes=[0, 1])
    for i in range(1, len(y)):
        clf.partial_fit(X[i : i + 1], y[i : i + 1])
        ref.partial_fit(X[i : i + 1], y[i : i + 1])
    assert clf.score(X, y) > max(0.9, ref.score(X, y) - 0.02)


def test_balanced_class_weight_with_sample_weight_matches_logistic_regression():
    from sklearn.utils.class_weight import compute_class_weight

    X, y = _data(3, n=300)
    sw = np.random.RandomState(0).uniform(0.2, 2.0, len(y))
    alpha = 0.01
    clf = GDClassifier(alpha=alpha, class_weight="balanced", **EXACT)
    clf.fit(X, y, sample_weight=sw)
    # LogisticRegression balances the weighted classes; its C multiplies
    # the sum of the losses, weighted by sample and class weights
    cw = compute_class_weight("balanced", classes=np.arange(3), y=y, sample_weight=sw)
    ref = LogisticRegression(
        C=1 / (alpha * np.sum(sw * cw[y])),
        class_weight="balanced",
        tol=1e-13,
        max_iter=10_000,
    ).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_switching_fit_intercept_under_warm_start_continues():
    X, y = _data(2)
    clf = GDClassifier(warm_start=True, **EXACT).fit(X, y)
    clf.set_params(fit_intercept=False).fit(X, y)
    fresh = GDClassifier(fit_intercept=False, **EXACT).fit(X, y)
    np.testing.assert_array_equal(clf.intercept_, [0.0])
    np.testing.assert_allclose(clf.coef_, fresh.coef_, rtol=1e-6)


def test_huber_warns_when_its_threshold_is_tiny_next_to_the_residuals():
    # prices in 1e5 with the default huber_epsilon=0.1: nearly absolute error,
    # which gd and sgd approach so slowly that they stop near the mean
    X, y = _huber_data()
    with pytest.warns(ConvergenceWarning, match=r"100% of the residuals exceed"):
        GDRegressor(loss="huber", solver="sgd", random_state=0).fit(X, 1e5 * y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        GDRegressor(loss="huber", huber_epsilon=2.0, **EXACT).fit(X, y)


def test_a_mini_batch_fit_short_on_nearly_separable_data_warns_with_an_estimate():
    # near separation the sigmoid's curvature p (1 - p) vanishes: the proof,
    # which bounds it by 1/4, sees little; the Newton estimate sees the gap
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with pytest.warns(ConvergenceWarning, match="one Newton step from the end"):
        GDClassifier(solver="adam", random_state=0).fit(X, y)
    # full-batch gd, which stops on its gradient, has no such warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        GDClassifier().fit(X, y)
