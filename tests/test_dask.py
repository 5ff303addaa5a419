"""Fitting and predicting on dask arrays, on a LocalCluster of two worker
processes (the ``skgd[dask]`` extra; skipped without it)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from sklearn.model_selection import GridSearchCV  # noqa: E402

from skgd import GDClassifier, GDMLPClassifier, GDMLPRegressor, GDRegressor  # noqa: E402
from skgd._base import _Progress  # noqa: E402
from skgd._dask import DaskRows  # noqa: E402

CHUNK = 300


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit="1GiB",
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def _data(n=1200, d=6, seed=0):
    rng = np.random.RandomState(seed)
    # offset and scaled columns: the preconditioner's statistics matter
    X = rng.randn(n, d) * rng.uniform(0.5, 3, d) + rng.uniform(-2, 5, d)
    y = X @ rng.randn(d) + 0.3 * rng.randn(n)
    labels = (X[:, 0] - X[:, 1] + rng.randn(n) > np.median(X[:, 0] - X[:, 1])).astype(
        int
    )
    three = np.digitize(X[:, 2] + rng.randn(n), np.quantile(X[:, 2], [0.33, 0.66]))
    return X, y, labels, three


def _lazy(a):
    chunks = (CHUNK, *a.shape[1:])
    return da.from_array(a, chunks=chunks)


@pytest.fixture
def no_gather(monkeypatch):
    """Fail if X (or any dask array) is converted to numpy whole; computing
    a few rows (``X[:k].compute()``) or reductions stays allowed."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("a dask array was gathered into the client")

    monkeypatch.setattr(da.Array, "__array__", refuse)


GD_CASES = [
    (GDRegressor, dict(tol=1e-12), "y"),
    (GDRegressor, dict(tol=1e-12, precondition="diagonal", alpha=0.1), "y"),
    (GDRegressor, dict(tol=1e-12, penalty="l1", alpha=0.05), "y"),
    (GDClassifier, dict(tol=1e-10, alpha=0.01), "labels"),
    (GDClassifier, dict(tol=1e-10, alpha=0.01), "three"),
    (GDMLPRegressor, dict(max_iter=30, tol=None, random_state=0), "y"),
    (GDMLPClassifier, dict(max_iter=30, tol=None, random_state=0), "three"),
]


@pytest.mark.parametrize("cls, params, target", GD_CASES)
def test_gd_on_dask_gives_the_numpy_coefficients(
    client, no_gather, cls, params, target
):
    """Full-batch 'gd' map-reduces each epoch over the chunks: the model
    equals the in-memory fit's to 1e-8."""
    X, y, labels, three = _data()
    Y = {"y": y, "labels": labels, "three": three}[target]
    if cls in (GDMLPRegressor, GDMLPClassifier):
        # (networks train on scaled inputs; unscaled, a chaotic path would
        # magnify the rounding of another summation order)
        X = (X - X.mean(0)) / X.std(0)
    est = cls(solver="gd", **params)
    ref = est.fit(X, Y)
    ref_arrays = _fitted_arrays(ref)
    ref_iter = ref.n_iter_
    got = cls(solver="gd", **params).fit(_lazy(X), _lazy(Y))
    assert got.n_iter_ == ref_iter
    for a, b in zip(ref_arrays, _fitted_arrays(got), strict=True):
        scale = max(float(np.max(np.abs(a))), 1e-12)
        assert np.max(np.abs(a - b)) <= 1e-8 * scale
    assert got.loss_curve_ == pytest.approx(ref.loss_curve_, rel=1e-9)


def _fitted_arrays(est):
    if hasattr(est, "coefs_"):
        return [np.array(a) for a in est.coefs_ + est.intercepts_]
    return [np.array(est.coef_, copy=True), np.atleast_1d(est.intercept_).copy()]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_mini_batch_solvers_stream_the_chunks_to_the_same_model(client, solver):
    """Mini-batches stream chunk by chunk (shuffled chunk order and rows):
    another order, the same optimum."""
    X, y, _, _ = _data()
    ref = GDRegressor(solver=solver, random_state=0).fit(X, y)
    got = GDRegressor(solver=solver, random_state=0).fit(_lazy(X), _lazy(y))
    assert got.score(X, y) == pytest.approx(ref.score(X, y), abs=1e-4)
    assert got.t_ >= got.n_iter_ * (len(y) // 200)


def test_batches_visit_every_row_once_per_epoch_in_shuffled_order(client):
    X, y, _, _ = _data(n=1000)
    rows = DaskRows(_lazy(X), y[:, None], np.ones(len(y)))
    rng = np.random.RandomState(0)
    seen = [b[1][:, 0] for b in rows.batches(64, True, rng)]
    got = np.concatenate(seen)
    assert np.array_equal(np.sort(got), np.sort(y))
    assert not np.array_equal(got, y)  # shuffled
    # no batch crosses a chunk: each one's rows come from one chunk
    chunk_of = {float(v): i // CHUNK for i, v in enumerate(y)}
    assert all(len({chunk_of[float(v)] for v in b}) == 1 for b in seen)


def test_early_stopping_holds_out_rows_of_every_chunk(client):
    X, y, _, _ = _data()
    rows = DaskRows(_lazy(X), y[:, None], np.ones(len(y)))
    est = GDRegressor(early_stopping=True, validation_fraction=0.2)
    train, val = est._train_val_split(
        rows, _Progress({}, np.random.RandomState(0), 0, 0), False
    )
    assert train.shape[0] + val.shape[0] == len(y)
    held = np.isin(y, val.Y[:, 0])
    per_chunk = held.reshape(-1, CHUNK).sum(axis=1)
    assert np.all(per_chunk > 0)
    fitted = GDRegressor(solver="adam", early_stopping=True, random_state=0).fit(
        _lazy(X), _lazy(y)
    )
    assert fitted.best_validation_score_ > 0.99
    assert len(fitted.validation_scores_) == fitted.n_iter_


def test_predictions_are_dask_arrays_equal_to_numpy_ones(client):
    X, y, labels, three = _data()
    Xd = _lazy(X)
    reg = GDRegressor().fit(X, y)
    clf = GDClassifier().fit(X, three)
    mlp = GDMLPClassifier(max_iter=20, random_state=0).fit(X, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlpr = GDMLPRegressor(max_iter=20, random_state=0).fit(X, y)
    for est, method in [
        (reg, "predict"),
        (clf, "predict"),
        (clf, "predict_proba"),
        (clf, "predict_log_proba"),
        (clf, "decision_function"),
        (mlp, "predict"),
        (mlp, "predict_proba"),
        (mlpr, "predict"),
    ]:
        lazy = getattr(est, method)(Xd)
        assert isinstance(lazy, da.Array), (est, method)
        assert lazy.chunks[0] == Xd.chunks[0]
        np.testing.assert_allclose(lazy.compute(), getattr(est, method)(X), rtol=1e-12)
    assert reg.score(Xd, _lazy(y)) == pytest.approx(reg.score(X, y), rel=1e-12)
    assert clf.score(Xd, _lazy(three)) == clf.score(X, three)
    assert isinstance(reg.score(Xd, _lazy(y)), float)


def test_grid_search_on_the_workers_picks_the_local_best(client):
    from joblib import parallel_config

    X, _, labels, _ = _data(n=600)
    grid = {"learning_rate_init": [1e-3, 0.1, 3.0], "solver": ["sgd"]}
    search = GridSearchCV(GDClassifier(max_iter=20, random_state=0), grid, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = search.fit(X, labels).best_params_
        with parallel_config(backend="dask"):
            remote = GridSearchCV(
                GDClassifier(max_iter=20, random_state=0), grid, cv=3, n_jobs=-1
            ).fit(X, labels)
    assert remote.best_params_ == local
    assert remote.cv_results_["mean_test_score"] == pytest.approx(
        search.cv_results_["mean_test_score"]
    )


def test_sample_weight_and_partial_fit_on_dask(client):
    X, y, _, _ = _data()
    w = np.random.RandomState(1).uniform(0.1, 2, len(y))
    ref = GDRegressor(tol=1e-12).fit(X, y, sample_weight=w)
    got = GDRegressor(tol=1e-12).fit(_lazy(X), _lazy(y), sample_weight=_lazy(w))
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-8)
    stream = GDRegressor(solver="sgd", random_state=0)
    for _ in range(5):
        stream.partial_fit(_lazy(X), _lazy(y))
    assert stream.score(X, y) > 0.99


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda X: da.from_array(X[:, 0], chunks=CHUNK), "2-D dask array"),
        (lambda X: _lazy(X)[_lazy(X)[:, 0] > 0], "unknown size"),
        (lambda X: _lazy(np.where(X > 6, np.nan, X)), "NaN or infinity"),
    ],
)
def test_bad_dask_input_is_named(client, make, match):
    X, y, _, _ = _data()
    with pytest.raises(ValueError, match=match):
        GDRegressor().fit(make(X), y)


def test_wrong_length_y_is_named(client):
    X, y, _, _ = _data()
    with pytest.raises(ValueError, match="samples"):
        GDRegressor().fit(_lazy(X), y[:-5])
