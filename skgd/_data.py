"""Where the training rows live, and full-batch sums over them.

The training loop never touches ``X`` itself. It asks a data object (one
:class:`ArrayRows` for arrays in memory, or ``skgd._dask.DaskRows`` for
dask arrays, chosen once per fit) for two things: mini-batches of rows, and
full-batch sums ``sum over blocks of fn(X_block, Y_block, sw_block, ...)``
of functions whose results are parameter-sized (a gradient, a Gram matrix,
a loss). In memory there is one block, the whole array; on dask every chunk
is a block, summed where it lives. The encoded targets ``Y`` and the
weights ``sw`` live with their rows too: what the fit needs of them alone
(their weighted means and spreads, the weight) are sums over the same
blocks, :meth:`ArrayRows.target_sum` and :func:`target_stats`.

Full-batch sums from sufficient statistics instead of passes over the rows.

The training loop gets a full-batch value and gradient either from the rows
(a forward and a backward pass over ``X``) or, for least squares, from the
weighted second moments of the standardized data, computed once in one pass:
``G = E[z z^T]``, ``h = E[z y~]`` and ``E[y~^2]`` (``z`` the standardized row,
``y~`` the centered target). Every epoch then costs ``O(d^2 k)`` whatever the
number of rows, the identity behind ``ElasticNet(precompute=True)``.
"""

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

Array = np.ndarray


def combine(parts: list[Any], op: Callable = operator.add) -> Any:
    """Reduce blocks' results elementwise with ``op``: numbers, arrays,
    counters, or tuples of them."""
    out = parts[0]
    for part in parts[1:]:
        if isinstance(out, tuple):
            out = tuple(op(a, b) for a, b in zip(out, part, strict=True))
        else:
            out = op(out, part)
    return out


class ArrayRows:
    """Training rows held in memory: a numpy array or a CSR matrix ``X``,
    the encoded targets ``Y`` (n, k) and the sample weights ``sw`` (n,).

    The interface the training loop and the estimators' hooks use:

    - ``batches(batch_size, shuffle, rng)``: ``(X_b, Y_b, sw_b)`` of the rows
      in mini-batches (shuffled every call when ``shuffle``);
    - ``full_sum(fn, *args)``: ``fn(X, Y, sw, *args)`` summed over the
      blocks of rows (here one block: all of them); ``full_max`` likewise;
    - ``map_rows(fn, *args)``: ``fn``'s per-row output over all rows;
    - ``head()``: the first rows (a shift for sums without cancellation);
    - ``subset(rows)``, ``take(rows)``, ``reweighted(w)``: other rows or
      weights, as a data object of the same kind (``take``: in memory).

    - ``target_sum(fn, *args)``: ``fn(Y, sw, *args)`` summed over the
      blocks, without reading ``X``;
    - ``reweighted_by(fn, *args)``: the rows with the weights
      ``fn(X, Y, sw, *args)`` of each block.

    ``total`` is the sum of the weights in the weights' dtype, ``weight`` the
    same in float64; ``positive`` counts the rows of positive weight,
    ``n_targets`` the columns of ``Y``. ``local``: the rows are in this
    process (``map_rows`` and ``Y`` can be used as arrays).
    """

    local = True

    def __init__(self, X: Any, Y: Array, sw: Array) -> None:
        self.X, self.Y, self.sw = X, Y, sw
        self.shape = X.shape
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        self.nnz = X.nnz if self.sparse else X.shape[0] * X.shape[1]
        self.n_targets = Y.shape[1]
        self.total = sw.sum()
        self.weight = float(np.sum(sw, dtype=np.float64))
        self.positive = int(np.count_nonzero(sw))
        self.stats: TargetStats | None = None

    def batches(
        self, batch_size: int, shuffle: bool, rng, light: bool = False
    ) -> Iterator[tuple]:
        """Mini-batches of rows; with ``light``, a sparse ``X``'s batches are
        :class:`SparseRows` (the products a linear model needs, without a
        scipy matrix built per batch)."""
        n = self.shape[0]
        if batch_size >= n:
            yield self.X, self.Y, self.sw
            return
        order = rng.permutation(n) if shuffle else None
        X, Y, sw = self.X, self.Y, self.sw
        if light and self.sparse:
            yield from _sparse_batches(X, Y, sw, batch_size, order)
            return
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if order is None:
                yield X[start:stop], Y[start:stop], sw[start:stop]
                continue
            idx = order[start:stop]
            X_b = X[idx] if self.sparse else take_rows(X, idx)
            yield X_b, take_rows(Y, idx), take_rows(sw, idx)

    def full_sum(self, fn: Callable, *args: Any) -> Any:
        return fn(self.X, self.Y, self.sw, *args)

    # one block: its sum, its maximum and its rows are fn's value itself
    full_max = map_rows = full_sum

    def target_sum(self, fn: Callable, *args: Any) -> Any:
        return fn(self.Y, self.sw, *args)

    def head(self, rows: int) -> tuple[Any, Array]:
        """The first rows of ``X`` and of ``Y``."""
        return self.X[:rows], self.Y[:rows]

    def subset(self, rows: Array) -> "ArrayRows":
        return ArrayRows(self.X[rows], self.Y[rows], self.sw[rows])

    take = subset  # already in memory

    def reweighted_by(self, fn: Callable, *args: Any) -> "ArrayRows":
        return ArrayRows(self.X, self.Y, fn(self.X, self.Y, self.sw, *args))


@dataclass
class TargetStats:
    """The weighted statistics of the targets that the fit needs: the sum
    of the weights, and per column of ``Y`` the weighted mean, variance and
    mean square (float64)."""

    total: float
    mean: Array
    var: Array
    mean_sq: Array


def _first_sums(Y: Array, sw: Array) -> tuple[float, Array]:
    w = np.asarray(sw, dtype=np.float64)
    return w.sum(), np.multiply(Y, w[:, None], dtype=np.float64).sum(axis=0)


def _second_sums(Y: Array, sw: Array, mean: Array) -> tuple[Array, Array]:
    w = np.asarray(sw, dtype=np.float64)[:, None]
    centered = (Y - mean) ** 2 * w
    return centered.sum(axis=0), (np.square(Y, dtype=np.float64) * w).sum(axis=0)


def target_stats(data: Any) -> TargetStats:
    """The targets' weighted statistics of the rows ``data`` (two passes
    over ``Y`` and ``sw``, none over ``X``; kept on ``data``): the mean
    first, then the spread around it, as ``np.average`` twice."""
    if data.stats is None:
        total, first = data.target_sum(_first_sums)
        mean = first / total
        second, square = data.target_sum(_second_sums, mean)
        data.stats = TargetStats(total, mean, second / total, square / total)
    return data.stats


class SparseRows:
    """A mini-batch of CSR rows with the two products a linear model takes
    of it, ``rows @ W`` and ``rows.T @ D``, in scipy's compiled loops.

    The batch is a slice of a gathered chunk's arrays; its transpose is the
    same arrays read as CSC. Building a scipy matrix per step costs about
    30 us in format checks and copies (scipy copies an array that is a small
    view of a larger one), more than the products of a few thousand
    nonzeros: the products call scipy's loops directly where they are found
    (:func:`_sparse_kernels`), and go through ``scipy.sparse.csr_array``
    otherwise.
    """

    __slots__ = ("data", "dtype", "indices", "indptr", "shape", "transposed")

    def __init__(
        self, data: Array, indices: Array, indptr: Array, shape, transposed=False
    ) -> None:
        self.data, self.indices, self.indptr = data, indices, indptr
        self.shape, self.transposed = shape, transposed
        self.dtype = data.dtype

    def __matmul__(self, W: Array) -> Array:
        return _sparse_product(self, W, _sparse_kernels())

    @property
    def T(self) -> "SparseRows":
        rows, cols = self.shape
        return SparseRows(
            self.data, self.indices, self.indptr, (cols, rows), not self.transposed
        )


def _sparse_product(rows: SparseRows, W: Array, kernels: tuple | None) -> Array:
    """``rows @ W`` by scipy's compiled loops ``kernels`` (see
    :func:`_sparse_kernels`), or by a scipy sparse array when None."""
    W = np.ascontiguousarray(W)
    arrays = (rows.data, rows.indices, rows.indptr)
    if kernels is None:
        kind = sp.csc_array if rows.transposed else sp.csr_array
        return kind(arrays, shape=rows.shape) @ W
    n_rows, n_cols = rows.shape
    out = np.zeros((n_rows, *W.shape[1:]), np.result_type(rows.dtype, W.dtype))
    vec, vecs = kernels[rows.transposed]
    if W.ndim == 1 or W.shape[1] == 1:
        # one column: the single-vector loop, about twice as fast
        vec(n_rows, n_cols, rows.indptr, rows.indices, rows.data, W.ravel(), out)
    else:
        n = W.shape[1]
        vecs(n_rows, n_cols, n, rows.indptr, rows.indices, rows.data, W.ravel(), out)
    return out


# [kernels or None], filled by the first _sparse_kernels() call
_KERNELS: list = []


def _sparse_kernels() -> tuple | None:
    """scipy's compiled CSR and CSC products, ``((csr_matvec, csr_matvecs),
    (csc_matvec, csc_matvecs))``: the loops scipy's own ``@`` calls. They
    are private to scipy, so they are used only after they agreed with the
    public ``@`` on a small probe, once per process; None (the public path)
    when this scipy lacks them or they disagree."""
    if not _KERNELS:
        _KERNELS.append(None)
        try:
            from scipy.sparse import _sparsetools as st

            found = (
                (st.csr_matvec, st.csr_matvecs),
                (st.csc_matvec, st.csc_matvecs),
            )
        except (ImportError, AttributeError):
            return None
        if _kernels_agree(found):
            _KERNELS[0] = found
    return _KERNELS[0]


def _kernels_agree(kernels: tuple) -> bool:
    """Whether ``kernels`` compute both products of a small CSR matrix, for
    one and for several columns, in float32 and float64, as scipy does."""
    probe = sp.random(5, 4, density=0.5, format="csr", random_state=0)
    for dtype in (np.float64, np.float32):
        rows = SparseRows(
            probe.data.astype(dtype), probe.indices, probe.indptr, probe.shape
        )
        for other, W in (
            (rows, np.arange(8.0).reshape(4, 2)),
            (rows.T, np.ones((5, 3))),
        ):
            for w in (W, W[:, 0], W[:, :1]):
                try:
                    got = _sparse_product(other, w, kernels)
                except (TypeError, ValueError):
                    return False
                want = _sparse_product(other, w, None)
                if got.shape != want.shape or not np.allclose(got, want):
                    return False
    return True


# entries of CSR rows gathered at once for mini-batches: about 3 MB, a small
# fraction of a large X, and enough rows that scipy's per-call checks vanish
_CHUNK_ENTRIES = 1 << 18


def take_rows(A: Array, idx: Array) -> Array:
    """The rows ``idx`` of the dense array ``A``, read without copying ``A``.

    ``take`` is numpy's fastest gather (about twice fancy indexing's speed
    on a few hundred rows), but it first copies an array that is not
    C-contiguous whole: on a column-major ``X`` (what pandas often hands
    over) every batch cost a copy of ``X``. Such rows are taken from the
    row-major transpose instead, and come back column-major; any other
    layout goes through fancy indexing.
    """
    if A.flags.c_contiguous:
        return A.take(idx, axis=0)
    if A.ndim == 2 and A.flags.f_contiguous:
        return A.T.take(idx, axis=1).T
    return A[idx]


def _sparse_batches(
    X: Any, Y: Array, sw: Array, batch_size: int, order: Array | None
) -> Iterator[tuple[SparseRows, Array, Array]]:
    """Mini-batches of the CSR rows ``X`` (in ``order``, or as they come) as
    :class:`SparseRows`.

    The rows of many batches are gathered at once, by scipy's compiled row
    indexing (unshuffled: views of ``X``'s own arrays, no copy); each batch
    is then a slice of that chunk's arrays. Gathering batch by batch took
    several numpy calls each, about three times as long.
    """
    n, d = X.shape
    per_batch = batch_size * max(X.nnz / max(n, 1), 1.0)
    span = batch_size * max(1, int(_CHUNK_ENTRIES // per_batch))
    for first in range(0, n, span):
        last = min(first + span, n)
        if order is None:
            ptr = X.indptr[first : last + 1] - X.indptr[first]
            lo, hi = X.indptr[first], X.indptr[last]
            data, indices = X.data[lo:hi], X.indices[lo:hi]
            Y_c, sw_c = Y[first:last], sw[first:last]
        else:
            idx = order[first:last]
            chunk = X[idx]
            ptr, data, indices = chunk.indptr, chunk.data, chunk.indices
            Y_c, sw_c = take_rows(Y, idx), take_rows(sw, idx)
        ptr = ptr.astype(indices.dtype, copy=False)
        for start in range(0, last - first, batch_size):
            stop = min(start + batch_size, last - first)
            a, b = ptr[start], ptr[stop]
            rows = SparseRows(
                data[a:b], indices[a:b], ptr[start : stop + 1] - a, (stop - start, d)
            )
            yield rows, Y_c[start:stop], sw_c[start:stop]


def is_dask_collection(X: Any) -> bool:
    """Whether ``X`` is a dask collection (without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "dask")


class LeastSquaresStats:
    """Half the weighted mean squared error of a :class:`LinearModel` whose
    intercepts are fixed at their closed form, from the second moments of
    the rows the model's statistics came from.

    ``gram`` is :func:`standardized_gram` with the centered targets appended:
    shape (d + 1 + k, d + 1 + k).
    """

    def __init__(self, model: Any, gram: Array, y_mean: Array) -> None:
        d = model.n_features
        self.model = model
        self.G = gram[:d, :d]
        self.h = gram[:d, d + 1 :]
        self.syy = np.diag(gram[d + 1 :, d + 1 :]).copy()
        # the targets' variances (R²'s unit): E[y~^2] - E[y~]^2, with the
        # ones column's moments E[y~] (0 for centered targets)
        self.y_var = self.syy - gram[d, d + 1 :] ** 2
        self.y_mean = np.asarray(y_mean, dtype=np.float64)

    def _coefficients(self, theta: Array) -> tuple[Array, Array]:
        """``B``, the standardized coefficients in the unit of ``y``
        (``W * scale``), and ``delta``, the intercepts' offset from the mean."""
        model = self.model
        k, d = model.n_penalized, model.n_features
        V = theta[:k].reshape(d, model.n_outputs).astype(np.float64)
        if model.whiten is not None:
            V = model.whiten @ V
        B = V * model.out_scale
        delta = np.zeros(model.n_outputs)
        if model.fit_intercept:
            delta = theta[k:].astype(np.float64) * model.out_scale - self.y_mean
        return B, delta

    def squared_errors(self, theta: Array) -> Array:
        """Each target's weighted mean squared error at ``theta``."""
        B, delta = self._coefficients(theta)
        quad = self.syy - 2 * np.einsum("jo,jo->o", B, self.h)
        quad += np.einsum("jo,jo->o", B, self.G @ B)
        # rounding can take a residual variance near 0 just below it
        return np.maximum(quad, 0.0) + delta**2

    def value(self, theta: Array) -> float:
        return 0.5 * float(np.sum(self.squared_errors(theta)))

    def value_and_grad(self, theta: Array, grad: Array) -> float:
        """The value at ``theta``; its gradient is written into ``grad``."""
        model = self.model
        k = model.n_penalized
        B, delta = self._coefficients(theta)
        GB = self.G @ B
        quad = self.syy - 2 * np.einsum("jo,jo->o", B, self.h)
        quad += np.einsum("jo,jo->o", B, GB)
        gV = (GB - self.h) * model.out_scale
        if model.whiten is not None:
            gV = model.whiten.T @ gV
        grad[:k] = gV.reshape(-1)
        if model.fit_intercept:
            grad[k:] = 0.0 if model.fixed_intercept else delta * model.out_scale
        return 0.5 * float(np.sum(np.maximum(quad, 0.0) + delta**2))

    def null_value(self) -> float:
        """The value of the all-zero output, ``0.5 * E[y^2]``."""
        mean2 = self.y_mean**2 if self.model.fit_intercept else 0.0
        return 0.5 * float(np.sum(self.syy + mean2))
