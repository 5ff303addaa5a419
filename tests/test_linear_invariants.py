"""GDRegressor invariants: weights, sparsity, seeds, pickling, continuation."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from skgd import GDRegressor

EXACT = {"solver": "gd", "tol": 1e-12, "max_iter": 5000}
# a fixed number of epochs: no stopping rule can fire before max_iter
FIXED_EPOCHS = {"tol": 0.0, "n_iter_no_change": 10**6}


def _data(seed=0, n=300, d=8, density=1.0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    if density < 1.0:
        X[rng.rand(n, d) >= density] = 0.0
    y = X @ rng.randn(d) + 2.0 + 0.1 * rng.randn(n)
    return X, y


def _fit_fixed(est, X, y, **fit_params):
    """Fit for exactly max_iter epochs: tol=None turns the stopping rules off
    (and with them the ConvergenceWarning)."""
    est.set_params(tol=None)
    before = getattr(est, "n_iter_", 0) if est.warm_start else 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y, **fit_params)
    assert est.n_iter_ == before + est.max_iter
    return est


def _assert_same_model(a, b):
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)


# ----------------------------------------------------------- sample weights
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("penalty", [None, "l2", "l1", "elasticnet"])
def test_integer_sample_weights_equal_repeated_rows(penalty, seed):
    X, y = _data(seed, n=100, d=5)
    sw = np.random.RandomState(seed).randint(0, 4, len(y))
    sw[:5] = 0
    params = {"penalty": penalty, "alpha": 0.05, **EXACT}

    weighted = GDRegressor(**params).fit(X, y, sample_weight=sw)
    repeated = GDRegressor(**params).fit(np.repeat(X, sw, 0), np.repeat(y, sw))

    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-7, atol=1e-12)
    assert weighted.intercept_ == pytest.approx(repeated.intercept_, rel=1e-7)
    assert weighted.learning_rate_init_ == pytest.approx(
        repeated.learning_rate_init_, rel=1e-10
    )


# ------------------------------------------------------------------- sparse
def _refuse_to_densify(self, *args, **kwargs):
    raise AssertionError("the sparse input was densified")


@pytest.fixture
def no_densify(monkeypatch):
    """Make every densification of a CSR/CSC matrix or array fail."""
    for cls in (sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array):
        monkeypatch.setattr(cls, "toarray", _refuse_to_densify)
        monkeypatch.setattr(cls, "todense", _refuse_to_densify)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_sparse_input_gives_dense_result_without_densifying(solver, fmt, no_densify):
    X, y = _data(1, n=150, d=20, density=0.3)
    sw = np.random.RandomState(1).randint(0, 3, len(y)).astype(float)
    X_sparse = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    with pytest.raises(AssertionError, match="densified"):
        X_sparse.toarray()  # the guard is armed
    params = {
        "solver": solver,
        "penalty": "elasticnet",
        "alpha": 0.01,
        "batch_size": 32,
        "random_state": 1,
        # the default momentum of 0.9 diverges with these weights under 'sgd':
        # see test_sgd_auto_rate_does_not_diverge_with_sample_weights
        "momentum": 0.5,
        # sparse input takes the diagonal preconditioner (an L1 part does too)
        "precondition": "diagonal",
    }

    if solver == "gd":
        params.update(tol=1e-12, max_iter=5000)
        dense = GDRegressor(**params).fit(X, y, sample_weight=sw)
        sparse = GDRegressor(**params).fit(X_sparse, y, sample_weight=sw)
        rtol = 1e-8
    else:
        params.update(FIXED_EPOCHS, max_iter=20)
        dense = _fit_fixed(GDRegressor(**params), X, y, sample_weight=sw)
        sparse = _fit_fixed(GDRegressor(**params), X_sparse, y, sample_weight=sw)
        rtol = 1e-10  # the same steps in the same order: rounding only
    assert sparse.learning_rate_init_ == pytest.approx(
        dense.learning_rate_init_, rel=1e-10
    )
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=rtol, atol=1e-12)
    assert sparse.intercept_ == pytest.approx(dense.intercept_, rel=rtol)
    pred = sparse.predict(X_sparse)
    assert isinstance(pred, np.ndarray)
    np.testing.assert_allclose(pred, dense.predict(X), rtol=1e-8)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_early_stopping_and_partial_fit_do_not_densify(fmt, no_densify):
    X, y = _data(2, n=150, d=20, density=0.3)
    X_sparse = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    est = GDRegressor(solver="sgd", early_stopping=True, random_state=0)
    est.fit(X_sparse, y).partial_fit(X_sparse, y)
    assert np.all(np.isfinite(est.coef_))


# ----------------------------------------------------------------- seeding
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_same_seed_gives_bit_identical_fit_and_other_seed_differs(solver, seed):
    X, y = _data(seed)
    params = {"solver": solver, "batch_size": 32, "max_iter": 5, **FIXED_EPOCHS}

    a = _fit_fixed(GDRegressor(**params, random_state=seed), X, y)
    b = _fit_fixed(GDRegressor(**params, random_state=seed), X, y)
    c = _fit_fixed(GDRegressor(**params, random_state=seed + 10), X, y)

    _assert_same_model(a, b)
    assert a.loss_curve_ == b.loss_curve_
    assert np.max(np.abs(a.coef_ - c.coef_)) > 1e-6


# ----------------------------------------------------------------- pickling
@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_pickle_round_trip_predicts_and_continues_identically(solver):
    X, y = _data(3)
    est = GDRegressor(solver=solver, batch_size=32, max_iter=5, random_state=0)
    _fit_fixed(est, X, y)
    clone = pickle.loads(pickle.dumps(est))

    np.testing.assert_array_equal(clone.predict(X), est.predict(X))
    for _ in range(3):
        est.partial_fit(X, y)
        clone.partial_fit(X, y)
    _assert_same_model(clone, est)
    assert (clone.n_iter_, clone.t_) == (est.n_iter_, est.t_) == (8, est.t_)
    assert clone.loss_curve_ == est.loss_curve_
    np.testing.assert_array_equal(clone.predict(X), est.predict(X))


# -------------------------------------------------------------- continuation
@pytest.mark.parametrize(
    ("solver", "steps_per_epoch"), [("gd", 1), ("sgd", 10), ("adam", 10)]
)
def test_partial_fit_accumulates_n_iter_and_t(solver, steps_per_epoch):
    X, y = _data(4)  # 300 rows: 10 batches of at most 32
    est = GDRegressor(solver=solver, batch_size=32, max_iter=3, random_state=0)
    _fit_fixed(est, X, y)
    assert (est.n_iter_, est.t_) == (3, 3 * steps_per_epoch)
    for k in range(1, 3):
        est.partial_fit(X, y)
        assert (est.n_iter_, est.t_) == (3 + k, (3 + k) * steps_per_epoch)
    assert len(est.loss_curve_) == len(est.learning_rate_curve_) == 5

    fresh = GDRegressor(solver=solver, batch_size=32, random_state=0)
    fresh.partial_fit(X, y).partial_fit(X[:40], y[:40])
    # 40 rows are one full batch for 'gd', or batches of 32 and 8
    assert (fresh.n_iter_, fresh.t_) == (2, steps_per_epoch + min(steps_per_epoch, 2))


@pytest.mark.parametrize("penalty", [None, "l1"])
@pytest.mark.parametrize("precondition", [True, False])
def test_gd_k_partial_fits_equal_fit_with_max_iter_k(precondition, penalty):
    X, y = _data(5, n=100, d=5)
    X = X * [1.0, 10.0, 0.1, 3.0, 1.0] + [0.0, 5.0, -2.0, 1.0, 30.0]
    k = 20
    params = {"penalty": penalty, "alpha": 0.05, "precondition": precondition}

    fitted = _fit_fixed(GDRegressor(**params, max_iter=k, tol=0.0), X, y)
    stepped = GDRegressor(**params)
    for _ in range(k):
        stepped.partial_fit(X, y)

    assert (stepped.n_iter_, stepped.t_) == (fitted.n_iter_, fitted.t_) == (k, k)
    assert stepped.loss_curve_ == fitted.loss_curve_
    _assert_same_model(stepped, fitted)


@pytest.mark.parametrize("solver", ["gd", "sgd"])
def test_warm_start_fit_continues_where_previous_fit_stopped(solver):
    X, y = _data(6)
    X = X * [1.0, 10.0, 0.1, 3.0, 1.0, 1.0, 2.0, 1.0]
    params = {
        "solver": solver,
        "learning_rate_init": 1e-3,  # slow enough to still descend after 5 epochs
        "batch_size": 32,
        "random_state": 0,
        **FIXED_EPOCHS,
    }

    est = GDRegressor(**params, max_iter=5, warm_start=True)
    _fit_fixed(est, X, y)
    first = list(est.loss_curve_)
    _fit_fixed(est, X, y)
    once = _fit_fixed(GDRegressor(**params, max_iter=10), X, y)

    assert (est.n_iter_, est.t_) == (once.n_iter_, once.t_) == (10, once.t_)
    assert est.loss_curve_[:5] == first
    assert max(est.loss_curve_[5:]) < min(first)
    # the same trajectory as one fit of 10 epochs (up to repacking rounding)
    np.testing.assert_allclose(est.loss_curve_, once.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(est.coef_, once.coef_, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------- early stopping
def _validation_rows(n, validation_fraction, seed):
    """The rows BaseGD._split_validation holds out: the first permutation draw."""
    n_val = int(np.ceil(validation_fraction * n))
    perm = np.random.RandomState(seed).permutation(n)
    return perm[n_val:], perm[:n_val]


@pytest.mark.parametrize(("solver", "rate"), [("gd", 0.01), ("sgd", 0.001)])
def test_early_stopping_restores_best_validation_epoch(solver, rate):
    rng = np.random.RandomState(0)
    n, fraction, seed = 200, 0.2, 0
    X = rng.randn(n, 5)
    w = 2.0 * rng.randn(5)
    y = X @ w + 0.1 * rng.randn(n)
    train, val = _validation_rows(n, fraction, seed)
    # planted: validation rows follow half the training slope, so the
    # validation R² peaks midway along the path from zero to w, then falls
    y[val] = 0.5 * X[val] @ w
    # no intercept: its starting value (the mean of y) would see the validation rows
    params = {
        "solver": solver,
        "learning_rate_init": rate,  # small: the peak comes after a few epochs
        "precondition": False,
        "fit_intercept": False,
        "batch_size": 16,
    }
    est = GDRegressor(
        **params,
        early_stopping=True,
        validation_fraction=fraction,
        random_state=seed,
        tol=1e-6,
    ).fit(X, y)

    scores = est.validation_scores_
    best = int(np.argmax(scores))
    assert est.best_validation_score_ == max(scores)
    assert len(scores) == est.n_iter_ < est.max_iter
    assert 0 < best < len(scores) - 1
    assert scores[-1] < est.best_validation_score_ - 1e-3
    restored = r2_score(y[val], est.predict(X[val]))
    assert restored == pytest.approx(est.best_validation_score_, rel=1e-12)

    if solver == "gd":
        # full batch on the training rows, stopped at the same epoch, is the
        # last epoch's model: it has the last score and differs from ours
        last = _fit_fixed(
            GDRegressor(**params, max_iter=est.n_iter_, tol=0.0), X[train], y[train]
        )
        assert r2_score(y[val], last.predict(X[val])) == pytest.approx(
            scores[-1], rel=1e-12
        )
        assert np.max(np.abs(last.coef_ - est.coef_)) > 1e-3
        # and stopped at the best epoch, it is exactly the restored model
        at_best = _fit_fixed(
            GDRegressor(**params, max_iter=best + 1, tol=0.0), X[train], y[train]
        )
        np.testing.assert_array_equal(at_best.coef_, est.coef_)
