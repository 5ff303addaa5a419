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
from skgd._dask import dask_rows  # noqa: E402

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


def _rows(est, X, y, sample_weight=None):
    """The training rows the estimator's fit would build from dask arrays."""
    w = None if sample_weight is None else _lazy(sample_weight)
    return dask_rows(est, _lazy(X), _lazy(y), w, reset=True, classes=None, warm=False)


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
    rows = _rows(GDRegressor(), X, y)
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
    est = GDRegressor(early_stopping=True, validation_fraction=0.2)
    rows = _rows(est, X, y)
    train, val = est._train_val_split(
        rows, _Progress({}, np.random.RandomState(0), 0, 0), False
    )
    assert train.shape[0] + val.shape[0] == len(y)
    # the held-out rows weigh 0 in the training sums, and are not batched
    assert train.weight == train.shape[0]
    batched = np.concatenate([b[1][:, 0] for b in train.batches(64, False, None)])
    held = np.isin(y, val.take(np.arange(val.shape[0])).Y[:, 0])
    assert not np.isin(batched, y[held]).any()
    assert np.array_equal(np.sort(batched), np.sort(y[~held]))
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


def test_score_sums_over_the_chunks(client, no_gather):
    """score on dask arrays: R² and accuracy from sums taken where the
    chunks live (weights and several targets included), equal to the
    in-memory scores; neither the predictions nor y reach the client."""
    X, y, labels, three = _data()
    w = np.random.RandomState(3).uniform(0.1, 2.0, len(y))
    Y2 = np.column_stack([y, -2 * y + X[:, 0]])
    Xd = _lazy(X)
    reg = GDRegressor().fit(X, Y2)
    clf = GDClassifier().fit(X, three)
    mlp = GDMLPClassifier(max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, np.column_stack([labels, three == 2]).astype(int))
    multi = np.column_stack([labels, three == 2]).astype(int)
    for est, target in [(reg, Y2), (clf, three), (mlp, multi)]:
        for weights in (None, w):
            got = est.score(
                Xd, _lazy(target), None if weights is None else _lazy(weights)
            )
            assert got == pytest.approx(
                est.score(X, target, sample_weight=weights), rel=1e-12
            )
    # a constant target predicted exactly scores 1, as r2_score's
    const = GDRegressor(solver="gd").fit(X, np.full(len(y), 3.0))
    assert const.score(Xd, _lazy(np.full(len(y), 3.0))) == const.score(
        X, np.full(len(y), 3.0)
    )


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


_SERVE = """
import sys
import distributed

if __name__ == "__main__":
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()  # until the test process closes the pipe
    cluster.close()
"""


@pytest.fixture(scope="module")
def remote():
    """A client whose scheduler and workers run in other processes: this
    process's memory is then the client's alone (a LocalCluster keeps its
    scheduler in the process that starts it)."""
    import subprocess
    import sys

    server = subprocess.Popen(
        [sys.executable, "-c", _SERVE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        address = server.stdout.readline().strip()
        with distributed.Client(address, set_as_default=False) as remote:
            yield remote
    finally:
        server.stdin.close()
        server.wait(timeout=60)


def _on_workers(client, n, chunk, seed=0):
    """X (offset columns), a linear y and weights, made and kept on the
    workers: the client never held them."""
    rs = da.random.RandomState(seed)
    X = rs.normal(size=(n, 2), chunks=(chunk, 2)) + np.array([3.0, -1.0])
    y = X @ np.array([1.5, -2.0]) + 0.1 * rs.normal(size=n, chunks=chunk)
    w = rs.uniform(0.5, 2.0, size=n, chunks=chunk)
    return client.persist([X, y, w])


@pytest.mark.parametrize(
    "make, target",
    [
        (lambda: GDRegressor(solver="gd"), "y"),
        (
            lambda: GDRegressor(solver="sgd", batch_size=2000, max_iter=3, tol=None),
            "y",
        ),
        (
            lambda: GDClassifier(
                solver="gd", class_weight="balanced", early_stopping=True
            ),
            "labels",
        ),
    ],
)
def test_y_and_sample_weight_stay_on_the_workers(remote, make, target):
    """The client's memory during fit stays far below the targets' and
    weights' size: they are checked, encoded and used where they live
    (gathered, y and the weights alone would take 1x X here)."""
    import tracemalloc

    with remote.as_current():
        X, y, w = _on_workers(remote, n=2_000_000, chunk=50_000)
        if target == "labels":
            y = remote.persist((y > 2.0 * 3 + 2.0).astype(int))
        est = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            tracemalloc.start()
            try:
                est.fit(X, y, sample_weight=w)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        Xn, yn, wn = (np.asarray(a) for a in remote.compute([X, y, w], sync=True))
    assert peak < 0.25 * X.nbytes, (peak, X.nbytes)
    # and the model is the one the same rows give in memory
    assert est.score(Xn, yn, sample_weight=wn) == pytest.approx(
        make().fit(Xn, yn, sample_weight=wn).score(Xn, yn, sample_weight=wn),
        abs=2e-3,
    )


@pytest.mark.parametrize(
    "cls, params",
    [
        (GDClassifier, dict(class_weight="balanced", alpha=0.01, tol=1e-10)),
        (GDClassifier, dict(class_weight={"b": 3.0}, alpha=0.01, tol=1e-10)),
        (GDMLPClassifier, dict(class_weight="balanced", max_iter=20, tol=None)),
    ],
)
def test_labels_and_class_weights_encoded_on_the_workers_match_numpy(
    client, no_gather, cls, params
):
    """String labels, sample weights and class weights: encoded chunk by
    chunk from the distinct labels and their summed weights, the same
    targets and weights as in memory (gd: the same coefficients)."""
    X, _, _, three = _data()
    X = (X - X.mean(0)) / X.std(0)
    labels = np.array(["a", "b", "c"])[three]
    w = np.random.RandomState(2).uniform(0.2, 3.0, len(labels))
    ref = cls(solver="gd", random_state=0, **params).fit(X, labels, sample_weight=w)
    got = cls(solver="gd", random_state=0, **params).fit(
        _lazy(X), _lazy(labels), sample_weight=_lazy(w)
    )
    assert list(got.classes_) == ["a", "b", "c"]
    assert got.n_iter_ == ref.n_iter_
    for a, b in zip(_fitted_arrays(ref), _fitted_arrays(got), strict=True):
        assert np.max(np.abs(a - b)) <= 1e-8 * max(float(np.max(np.abs(a))), 1e-12)


def test_multilabel_targets_on_dask_match_numpy(client, no_gather):
    X, _, labels, three = _data()
    X = (X - X.mean(0)) / X.std(0)
    Y = np.column_stack([labels, three == 2, three == 0]).astype(int)
    params = dict(solver="gd", max_iter=20, tol=None, random_state=0)
    ref = GDMLPClassifier(**params).fit(X, Y)
    got = GDMLPClassifier(**params).fit(_lazy(X), _lazy(Y))
    for a, b in zip(_fitted_arrays(ref), _fitted_arrays(got), strict=True):
        assert np.max(np.abs(a - b)) <= 1e-8 * max(float(np.max(np.abs(a))), 1e-12)
    np.testing.assert_array_equal(got.predict(_lazy(X)).compute(), ref.predict(X))


def test_bad_targets_and_weights_on_dask_are_named(client):
    X, y, labels, _ = _data()
    Xd = _lazy(X)
    with pytest.raises(ValueError, match="y contains NaN"):
        GDRegressor().fit(Xd, _lazy(np.where(y > 5, np.nan, y)))
    with pytest.raises(ValueError, match="non-numeric"):
        GDRegressor().fit(Xd, _lazy(np.array(["a"] * len(y), dtype=object)))
    with pytest.raises(ValueError, match="Negative"):
        GDRegressor().fit(Xd, _lazy(y), sample_weight=_lazy(-np.ones(len(y))))
    with pytest.raises(ValueError, match="all zero"):
        GDRegressor().fit(Xd, _lazy(y), sample_weight=_lazy(np.zeros(len(y))))
    with pytest.raises(ValueError, match="sample_weight"):
        GDRegressor().fit(Xd, _lazy(y), sample_weight=np.ones(len(y) - 1))
    with pytest.raises(ValueError, match="at least 2 classes"):
        GDClassifier().fit(Xd, _lazy(np.zeros(len(y), dtype=int)))
    with pytest.raises(ValueError, match="multilabel"):
        GDClassifier().fit(Xd, _lazy(np.column_stack([labels, 1 - labels])))
    stream = GDClassifier(solver="sgd")
    stream.partial_fit(Xd, _lazy(labels), classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes_"):
        stream.partial_fit(Xd, _lazy(labels + 1))


def test_reweighted_rows_match_the_in_memory_ones(client):
    """Weights computed per chunk where it lives (the Newton estimate's
    curvature weights) give the sums the in-memory rows give."""
    from skgd._data import ArrayRows
    from skgd._models import standardized_gram

    X, y, _, _ = _data()
    est = GDRegressor()
    rows = _rows(est, X, y)
    local = ArrayRows(X, y[:, None], np.ones(len(y)))
    m, s = X.mean(0), 1.0 / X.std(0)
    got = rows.reweighted_by(_square_of_first_column)
    ref = local.reweighted_by(_square_of_first_column)
    assert got.weight == pytest.approx(ref.weight, rel=1e-12)
    np.testing.assert_allclose(
        standardized_gram(got, m * s, s),
        standardized_gram(ref, m * s, s),
        rtol=1e-10,
        atol=1e-12,
    )


def _square_of_first_column(X, Y, sw):
    return sw * X[:, 0] ** 2
