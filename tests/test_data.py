"""The in-memory data object: sparse mini-batches without scipy matrices,
and the targets' statistics as sums over blocks."""

import types

import numpy as np
import pytest
import scipy.sparse as sp

import skgd._data
from skgd import GDClassifier, GDRegressor
from skgd._base import _auto_batch_size
from skgd._data import (
    ArrayRows,
    _kernels_agree,
    _sparse_batches,
    _sparse_kernels,
    take_rows,
    target_stats,
)
from skgd._models import LinearModel


def _csr(n=300, d=40, density=0.05, dtype=np.float64, seed=0):
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=dtype)
    X.data[X.indptr[5] : X.indptr[6]] = 0  # an empty row
    X.eliminate_zeros()
    return X


@pytest.fixture(params=["kernels", "public"])
def product_path(request, monkeypatch):
    """Sparse batch products by scipy's compiled loops (where this scipy has
    them) or through scipy's public sparse arrays."""
    if request.param == "public":
        monkeypatch.setattr(skgd._data, "_KERNELS", [None])
    return request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [None, 1, 3])
def test_sparse_rows_products_equal_scipys(dtype, k, product_path):
    X = _csr(dtype=dtype)
    rng = np.random.RandomState(1)
    order = rng.permutation(X.shape[0])
    order = np.concatenate([[5], order[order != 5]])  # the empty row first
    idx = order[:58]
    Y, sw = np.zeros((X.shape[0], 1)), np.ones(X.shape[0])
    rows = next(_sparse_batches(X, Y, sw, idx.size, order))[0]
    ref = X[idx]
    W = rng.randn(X.shape[1]) if k is None else rng.randn(X.shape[1], k)
    D = rng.randn(idx.size) if k is None else rng.randn(idx.size, k)
    W, D = W.astype(dtype), D.astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    got = rows @ W
    assert got.dtype == dtype and got.shape == (ref @ W).shape
    np.testing.assert_allclose(got, ref @ W, rtol=tol, atol=tol)
    back = rows.T @ D
    assert back.dtype == dtype and back.shape == (ref.T @ D).shape
    np.testing.assert_allclose(back, ref.T @ D, rtol=tol, atol=tol)


@pytest.mark.parametrize("chunk", [None, 100, 2000])
@pytest.mark.parametrize("shuffle", [True, False])
def test_light_batches_hold_the_rows_of_scipys(monkeypatch, shuffle, chunk):
    """Sparse batches come from chunks of many batches' rows (one batch
    per chunk with 100 entries, four with 2000, all at once by default): the
    same rows, in the same batches, as scipy's fancy indexing."""
    if chunk is not None:
        monkeypatch.setattr(skgd._data, "_CHUNK_ENTRIES", chunk)
    X = _csr()
    Y = np.arange(X.shape[0], dtype=float)[:, None]
    sw = np.ones(X.shape[0])
    data = ArrayRows(X, Y, sw)
    light = data.batches(64, shuffle, np.random.RandomState(0), light=True)
    plain = data.batches(64, shuffle, np.random.RandomState(0))
    eye = np.eye(X.shape[1])
    seen = []
    for (Xl, Yl, _), (Xp, Yp, _) in zip(light, plain, strict=True):
        np.testing.assert_array_equal(Yl, Yp)
        np.testing.assert_array_equal(Xl @ eye, Xp.toarray())
        seen.append(Yl[:, 0])
    assert np.array_equal(np.sort(np.concatenate(seen)), Y[:, 0])


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("cls", [GDRegressor, GDClassifier])
def test_light_sparse_batches_train_the_same_model(
    monkeypatch, solver, cls, product_path
):
    """A linear model's sparse mini-batches as SparseRows or as scipy
    matrices: the same steps up to the summation order."""
    X = _csr(n=600, d=30, density=0.2)
    w = np.random.RandomState(2).randn(30)
    y = X @ w + 0.1
    if cls is GDClassifier:
        y = (y > np.median(y)).astype(int)
    params = dict(solver=solver, max_iter=5, tol=None, random_state=0)
    light = cls(**params).fit(X, y)
    monkeypatch.setattr(LinearModel, "light_rows", False)
    plain = cls(**params).fit(X, y)
    np.testing.assert_allclose(light.coef_, plain.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(light.loss_curve_, plain.loss_curve_, rtol=1e-9)


def test_wrong_or_missing_kernels_leave_the_public_path(monkeypatch):
    """scipy's private loops are used only when they reproduce its public
    products on the probe: a loop that writes nothing, or a scipy without
    them, gives None (the public path)."""

    def nothing(*args):
        pass

    real = _sparse_kernels()
    if real is not None:
        assert _kernels_agree(real)
    assert not _kernels_agree(((nothing, nothing), (nothing, nothing)))
    if real is not None:
        # the CSR loops standing in for the CSC ones: the transpose is wrong
        assert not _kernels_agree((real[0], real[0]))

    def refuses(*args):
        raise TypeError("no such signature")

    assert not _kernels_agree(((refuses, refuses), (refuses, refuses)))
    monkeypatch.setattr(skgd._data, "_KERNELS", [])
    monkeypatch.setattr(sp, "_sparsetools", types.ModuleType("empty"))
    assert _sparse_kernels() is None
    X = _csr()
    rows = next(_sparse_batches(X, np.zeros((300, 1)), np.ones(300), 50, None))[0]
    np.testing.assert_allclose(rows @ np.ones(40), X[:50] @ np.ones(40))


@pytest.mark.parametrize(
    ("n", "d", "density", "expected"),
    [
        (8000, 2000, 0.005, 400),  # 10 per row: 2 d / 10 = 400 = n / 20
        (40000, 2000, 0.005, 400),  # 2 d / 10, below n / 20
        (8000, 20000, 0.005, 400),  # 100 per row: 2 d / 100 = 400
        (8000, 8000, 0.005, 400),  # 2 d / 40 = 400 = n / 20
        (4000, 8000, 0.005, 200),  # n / 20 = 200
        (8000, 200, 0.05, 200),  # 10 per row: 2 d / 10 = 40, at least 200
        (2000, 10000, 0.001, 200),  # n / 20 = 100: 200
        (150, 10000, 0.001, 150),  # all rows
    ],
)
def test_auto_batch_size_of_sparse_rows(n, d, density, expected):
    """'auto' is 200 rows, or on sparse rows about 2 n_features nonzeros,
    at most n / 20 rows (and never fewer than 200, nor more than n)."""
    X = sp.random(n, d, density=density, format="csr", random_state=0)
    got = _auto_batch_size(ArrayRows(X, np.zeros((n, 1)), np.ones(n)))
    per_row = X.nnz / n
    want = min(n, max(200, min(int(np.ceil(2 * d / per_row)), n // 20)))
    assert got == want
    assert abs(got - expected) <= 0.1 * expected  # the rule, in round numbers
    dense = _auto_batch_size(ArrayRows(X.toarray(), np.zeros((n, 1)), np.ones(n)))
    assert dense == min(200, n)


def test_auto_batch_size_sets_the_steps_of_a_sparse_fit():
    """A fit on wide sparse rows takes n / b steps an epoch with the 'auto'
    batch, and the same model as with that batch size given."""
    X = sp.random(8000, 2000, density=0.005, format="csr", random_state=0)
    y = X @ np.random.RandomState(0).randn(2000)
    params = dict(solver="sgd", max_iter=2, tol=None, random_state=0)
    auto = GDRegressor(**params).fit(X, y)
    b = _auto_batch_size(ArrayRows(X, y[:, None], np.ones(8000)))
    assert b > 200
    assert auto.t_ == 2 * int(np.ceil(8000 / b))
    given = GDRegressor(batch_size=b, **params).fit(X, y)
    np.testing.assert_array_equal(auto.coef_, given.coef_)
    small = GDRegressor(batch_size=200, **params).fit(X, y)
    assert small.t_ == 2 * 40


def test_target_stats_are_np_average_of_the_targets():
    rng = np.random.RandomState(3)
    Y = rng.randn(50, 3) * [1.0, 10.0, 1e-3] + [5.0, -2.0, 1e6]
    sw = rng.uniform(0, 2, 50)
    stats = target_stats(ArrayRows(np.empty((50, 0)), Y, sw))
    mean = np.average(Y, axis=0, weights=sw)
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-15)
    np.testing.assert_allclose(
        stats.var, np.average((Y - mean) ** 2, axis=0, weights=sw), rtol=1e-12
    )
    np.testing.assert_allclose(
        stats.mean_sq, np.average(Y**2, axis=0, weights=sw), rtol=1e-14
    )
    assert stats.total == pytest.approx(sw.sum(), rel=1e-15)


@pytest.mark.parametrize("cls", [GDRegressor, GDClassifier])
def test_dask_rows_without_a_distributed_client(cls):
    """On dask's local scheduler (no distributed client) the targets are
    encoded and persisted in this process: the same 'gd' model as numpy."""
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    rng = np.random.RandomState(0)
    X = rng.randn(1000, 5) + 3.0
    y = X @ rng.randn(5)
    if cls is GDClassifier:
        y = (y > np.median(y)).astype(int)
    w = rng.uniform(0.5, 2.0, 1000)
    ref = cls(solver="gd", tol=1e-10).fit(X, y, sample_weight=w)
    with dask.config.set(scheduler="threads"):
        got = cls(solver="gd", tol=1e-10).fit(
            da.from_array(X, chunks=(250, 5)),
            da.from_array(y, chunks=250),
            sample_weight=da.from_array(w, chunks=250),
        )
    assert got.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-10, atol=1e-13)


def _layouts(dtype):
    rng = np.random.RandomState(0)
    A = rng.standard_normal((300, 7)).astype(dtype)
    return {
        "C": A,
        "F": np.asfortranarray(A),
        "strided": A[:, ::2],
        "1-D": A[:, 0].copy(),
        "1-D strided": A[::2, 0],
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_take_rows_equals_fancy_indexing_in_every_layout(dtype):
    idx = np.random.RandomState(1).permutation(150)[:40]
    for name, A in _layouts(dtype).items():
        got = take_rows(A, idx)
        assert got.dtype == A.dtype, name
        np.testing.assert_array_equal(got, A[idx], err_msg=name)


def _peak_bytes(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = fn()
        return tracemalloc.get_traced_memory()[1], out
    finally:
        tracemalloc.stop()


def test_take_rows_does_not_copy_a_column_major_array():
    """numpy's take copies a non-C-contiguous array whole before gathering:
    on column-major X every batch allocated (and wrote) all of X."""
    X = np.asfortranarray(np.random.RandomState(0).standard_normal((20_000, 50)))
    idx = np.random.RandomState(1).permutation(20_000)[:200]
    peak, rows = _peak_bytes(lambda: take_rows(X, idx))
    assert peak < 4 * rows.nbytes < X.nbytes / 20


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_fit_on_column_major_X_is_the_fit_on_row_major_X_without_copies(solver):
    """The same model from a column-major X (pandas' usual layout), and no
    allocation the size of X along the way (each batch copied X whole
    before: the peak was 1.08 X.nbytes, and the fit 100 times slower)."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((20_000, 50))
    y = X @ rng.standard_normal(50) + rng.standard_normal(20_000)
    params = dict(solver=solver, max_iter=2, tol=None, random_state=0)
    row_major = GDRegressor(**params).fit(X, y)
    X_f = np.asfortranarray(X)
    peak, col_major = _peak_bytes(lambda: GDRegressor(**params).fit(X_f, y))
    np.testing.assert_allclose(col_major.coef_, row_major.coef_, rtol=0, atol=1e-13)
    assert peak < 0.5 * X.nbytes
