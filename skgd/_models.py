"""Models: the layout of one flat parameter vector and its forward/backward.

A model packs every parameter into one vector ``theta`` laid out as
``[weights of every layer..., intercepts of every layer...]``. The weights
therefore form the prefix ``theta[:n_penalized]`` that the penalties act on,
and optimizers, penalties, clipping and history only ever see flat arrays.

``forward(theta, X)`` returns the raw output (before the output activation)
and a cache; ``backward(theta, X, draw, cache, grad)`` writes the gradient of
the loss with respect to ``theta`` into ``grad``, given the gradient ``draw``
of the loss with respect to the raw output.
"""

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, cholesky, solve_triangular
from scipy.sparse.linalg import LinearOperator, eigsh
from scipy.special import expit

from skgd._penalties import LinearWeights

Array = np.ndarray


class Model(Protocol):
    size: int
    n_penalized: int
    penalty_weights: Array | None
    light_rows: bool  # takes sparse mini-batches as skgd._data.SparseRows

    def init(self, rng: np.random.RandomState, dtype: np.dtype) -> Array: ...

    def forward(self, theta: Array, X: Any) -> tuple[Array, Any]: ...

    def backward(
        self, theta: Array, X: Any, draw: Array, cache: Any, grad: Array
    ) -> Array: ...


def _matmul(X: Any, W: Array) -> Array:
    return np.matmul(X, W) if isinstance(X, np.ndarray) else X @ W


class LinearModel:
    """``raw = X @ W + b``, optimized in centered and scaled coordinates.

    ``theta`` holds ``T`` of shape (n_features, n_outputs) and ``c`` of shape
    (n_outputs,), with ``V = P @ T`` (``P`` the whitening map, the identity
    by default), ``W = V * out_scale / scale[:, None]`` and
    ``b = out_scale * c - mean @ W``: gradient descent on ``theta`` is
    gradient descent on standardized (with ``P``: whitened) features and,
    with ``out_scale``, standardized targets. This change of variables leaves
    the objective and its minimizer unchanged. With ``P`` the inverse
    Cholesky factor of the standardized Gram matrix the Hessian of least
    squares is the identity (a full preconditioner); without it the
    standardization is a Jacobi preconditioner that also decouples the
    intercept. ``mean = 0`` and ``scale = out_scale = 1`` give plain
    coordinates.

    With ``fixed_intercept`` the intercepts are not optimized: their gradient
    is zero. For least squares in coordinates centered on the training rows
    the optimal ``c`` is the weighted mean of the targets whatever ``V``, so
    it is set once rather than found through noisy mini-batch gradients.
    """

    # mini-batches of sparse rows may come as SparseRows: forward and
    # backward take only ``X @ W`` and ``X.T @ D`` of them
    light_rows = True

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        fit_intercept: bool,
        mean: Array | None = None,
        scale: Array | None = None,
        out_scale: Array | None = None,
        fixed_intercept: bool = False,
        whiten: Array | None = None,
    ) -> None:
        self.n_features = n_features
        self.n_outputs = n_outputs
        self.fit_intercept = fit_intercept
        self.n_penalized = n_features * n_outputs
        self.size = self.n_penalized + (n_outputs if fit_intercept else 0)
        zeros, ones = np.zeros(n_features), np.ones(n_features)
        self.mean = zeros if mean is None or not fit_intercept else mean
        self.scale = ones if scale is None else scale
        self.out_scale = np.ones(n_outputs) if out_scale is None else out_scale
        self.fixed_intercept = bool(fixed_intercept and fit_intercept)
        self.whiten = whiten
        # the standardized Gram matrix of the rows the statistics came from,
        # when it was computed (it then serves the curvature), and whether
        # the rows at hand are those rows
        self.gram: Array | None = None
        self.on_stats_rows = False
        # the penalty acts on W: entry (j, o) of T sits at j * k + o
        self.penalty_weights: Any = None
        if whiten is not None:
            self.penalty_weights = LinearWeights(
                whiten / self.scale[:, None], self.out_scale
            )
        elif scale is not None or out_scale is not None:
            factor = self.out_scale[None, :] / self.scale[:, None]
            self.penalty_weights = factor.reshape(-1)

    def _factor(self, dtype: np.dtype) -> Array:
        """``out_scale / scale`` as a (n_features, n_outputs) array."""
        return self._casts(dtype)[0]

    def _casts(self, dtype: np.dtype) -> tuple:
        """``(factor, whiten, whiten.T, mean, out_scale, mean * factor)`` in
        ``dtype`` (``mean * factor``: the centering of a scaled gradient,
        shape (n_features, n_outputs)), made once: a step must not copy the
        d x d whitening map twice."""
        key = np.dtype(dtype)
        cache = self.__dict__.setdefault("_cast_cache", {})
        if key not in cache:
            factor = self.out_scale[None, :] / self.scale[:, None]
            P = None if self.whiten is None else self.whiten.astype(key)
            cache[key] = (
                factor.astype(key),
                P,
                None if P is None else P.T.copy(),
                self.mean.astype(key),
                self.out_scale.astype(key),
                (self.mean[:, None] * factor).astype(key),
            )
        return cache[key]

    def coef(self, theta: Array) -> tuple[Array, Array]:
        """``(W, b)`` in the original coordinates."""
        factor, P, _, mean, out, _ = self._casts(theta.dtype)
        V = theta[: self.n_penalized].reshape(self.n_features, self.n_outputs)
        if P is not None:
            V = P @ V
        W = V * factor
        b = np.zeros(self.n_outputs, dtype=theta.dtype)
        if self.fit_intercept:
            c = theta[self.n_penalized :] * out
            b = c - mean @ W
        return W, b

    def from_coef(self, W: Array, b: Array, dtype: np.dtype) -> Array:
        """The parameter vector of the original-coordinate ``(W, b)``."""
        W = np.asarray(W, dtype=np.float64).reshape(self.n_features, self.n_outputs)
        V = W / self._factor(np.float64)
        if self.whiten is not None:
            V = solve_triangular(self.whiten, V)
        parts = [V.reshape(-1)]
        if self.fit_intercept:
            parts.append((np.ravel(b) + self.mean @ W) / self.out_scale)
        return np.concatenate(parts).astype(dtype)

    def intercept_at(self, y_mean: Array, dtype: np.dtype) -> Array:
        """The ``c`` of intercepts ``y_mean`` at ``W = 0`` (the start)."""
        return (np.asarray(y_mean, dtype=np.float64) / self.out_scale).astype(dtype)

    def init(self, rng: np.random.RandomState, dtype: np.dtype) -> Array:
        return np.zeros(self.size, dtype=dtype)

    def forward(self, theta: Array, X: Any) -> tuple[Array, None]:
        W, b = self.coef(theta)
        raw = _matmul(X, W)
        if self.fit_intercept:
            raw += b
        return raw, None

    def backward(
        self, theta: Array, X: Any, draw: Array, cache: Any, grad: Array
    ) -> Array:
        k = self.n_penalized
        gW = X.T @ draw
        factor, _, PT, _, _, scaled_mean = self._casts(gW.dtype)
        # scaled straight into grad when no whitening follows: a step over
        # many coefficients and few rows (sparse data) is memory traffic
        G = gW if PT is not None else grad[:k].reshape(gW.shape)
        np.multiply(gW, factor, out=G)
        if self.fit_intercept:
            # the centering (X - mean).T @ draw, scaled: G -= outer(m f, gb)
            gb = draw.sum(axis=0)
            # (numpy, not BLAS axpy: OpenBLAS may thread an axpy of a few
            # thousand entries, which costs more than it saves)
            G -= scaled_mean * gb
            if self.fixed_intercept:
                grad[k:] = 0
            else:
                grad[k:] = gb * self.out_scale
        if PT is not None:
            grad[:k] = (PT @ G).reshape(-1)
        return grad

    def curvature(
        self, data: Any, l2: float = 0.0, *, row_max: bool = True
    ) -> tuple[float, float]:
        """Largest Hessian eigenvalue of the weighted mean squared error.

        Returns ``(L, L_max)`` in the model's coordinates: the largest
        eigenvalue of ``Z.T @ diag(sw) @ Z / sum(sw)``, with ``Z`` the
        design matrix of the rows ``data`` (see :class:`~skgd._data.ArrayRows`)
        in the model's coordinates (and a column of ones when the intercept
        is optimized), plus the Hessian of the penalty
        ``0.5 * l2 * ||W||^2``; and, if ``row_max``, the largest squared row
        norm of ``Z`` over rows of positive weight (the curvature of a
        one-sample batch), else 0. Both are times the largest squared
        ``out_scale``.
        """
        m, s = self.mean / self.scale, 1.0 / self.scale
        intercept = self.fit_intercept and not self.fixed_intercept
        out2 = float(np.max(self.out_scale**2))
        L_max = 0.0
        if row_max:
            peak = data.full_max(_max_row_norm, m, s, self.whiten)
            L_max = (float(peak) + (1.0 if intercept else 0.0)) * out2
        if self.whiten is None and (data.sparse or self.n_features > 512):
            L = _top_eigenvalue_lanczos(data, intercept, m, s, l2)
            return L * out2, L_max
        d = self.n_features
        G = self.gram if self.gram is not None else standardized_gram(data, m, s)
        H = np.zeros((d + intercept, d + intercept))
        H[:d, :d] = G[:d, :d] + l2 * np.diag(s**2)
        if intercept:
            H[:d, d] = H[d, :d] = G[:d, d]
            H[d, d] = 1.0
        if self.whiten is not None:
            H[:d, :] = self.whiten.T @ H[:d, :]
            H[:, :d] = H[:, :d] @ self.whiten
        return float(np.linalg.eigvalsh(H)[-1]) * out2, L_max


# rows per block of the passes over X: about 2 MB of float64, small next to X
# (memory) and large enough for BLAS to run at full speed
_BLOCK_ELEMENTS = 1 << 18
# the moments' float64 buffer stays in a core's L2 cache beside the rows
# streamed through it (2M x 50 float32: 0.31 s in blocks of 512 KB, 0.35 s
# in blocks of 2 MB, 0.42 s in blocks of 4 MB)
_MOMENT_BLOCK_ELEMENTS = 1 << 16


def _block_rows(d: int, elements: int = _BLOCK_ELEMENTS) -> int:
    return max(256, elements // max(d, 1))


def _row_blocks(X: Any, elements: int = _BLOCK_ELEMENTS):
    """``(start, rows)`` of ``X`` in blocks of about ``elements`` entries
    (by default 2 MB of float64): views of a dense array, small copies of a
    CSR matrix (sized by its nonzeros per row: by its width, a block of a
    wide CSR matrix held a few thousand entries, and scipy's checks per block
    cost more than the block's arithmetic)."""
    per_row = X.shape[1]
    if sp.issparse(X):
        per_row = int(np.ceil(X.nnz / max(X.shape[0], 1)))
    step = _block_rows(per_row, elements)
    for start in range(0, X.shape[0], step):
        yield start, X[start : start + step]


def standardized_gram(data: Any, m: Array, s: Array) -> Array:
    """The weighted second moments of ``[X * s - m, 1]`` over the rows
    ``data``, divided by the sum of the weights, in float64: shape
    (d + 1, d + 1).

    Accumulated in row blocks that are standardized first, so that offset
    columns lose no digits to cancellation (see :func:`_moment_sums`).
    """
    d = data.shape[1]
    G = data.full_sum(_moment_sums, s, m, 0, 0.0)
    G /= data.weight
    G[d, d] = 1.0  # the mean of the ones column, exactly
    return G


def _moment_sums(
    X: Array, Y: Array, sw: Array, scale: Any, shift: Any, k: int, y_shift: Any
) -> Array:
    """``sum_w u u^T`` over the rows ``u = [x * scale - shift, 1, y - y_shift]``
    (``scale`` None: no scaling; the first ``k`` columns of ``Y``) of dense
    ``X``, in float64, block by block; X is never copied whole.

    Each block's ``x`` part is written to a row-major float64 buffer (a plain
    cast, then arithmetic in place: numpy's mixed-dtype ufuncs take a
    buffered path that costs three times as much) and multiplied by its own
    transpose with BLAS ``syrk`` (a symmetric rank-k update, half the flops of
    a general product, accumulated into the upper triangle); the ones and
    target columns take one small general product.
    """
    d = X.shape[1]
    rows_max = _block_rows(d, _MOMENT_BLOCK_ELEMENTS)
    xx = np.zeros((d, d))  # upper triangle: BLAS syrk's
    xe = np.zeros((d, 1 + k))
    ee = np.zeros((1 + k, 1 + k))
    buffer = np.empty((rows_max, d))
    extra = np.empty((rows_max, 1 + k))
    shifted = bool(np.any(shift))
    for start, block in _row_blocks(X, _MOMENT_BLOCK_ELEMENTS):
        rows = block.shape[0]
        U, E = buffer[:rows], extra[:rows]
        w = sw[start : start + rows]
        unweighted = w.min() == 1 == w.max()  # no scaling by the weights
        if block.dtype == U.dtype and scale is None and not shifted and unweighted:
            U = block  # nothing to compute: BLAS reads the rows in place
        else:
            if block.dtype != U.dtype or scale is None:
                np.copyto(U, block)
                if scale is not None:
                    U *= scale
            else:
                np.multiply(block, scale, out=U)
            if shifted:
                U -= shift
        E[:, 0] = 1.0
        if k:
            np.subtract(Y[start : start + rows, :k], y_shift, out=E[:, 1:])
        if not unweighted:
            root = np.sqrt(np.asarray(w, dtype=np.float64))[:, None]
            U *= root
            E *= root
        # U.T is column-major (d x rows): syrk's a @ a.T, no copy
        xx = blas.dsyrk(1.0, U.T, beta=1.0, c=xx, overwrite_c=True)
        xe += U.T @ E
        ee += E.T @ E
    M = np.empty((d + 1 + k, d + 1 + k))
    M[:d, :d] = np.triu(xx) + np.triu(xx, 1).T
    M[:d, d:] = xe
    M[d:, :d] = xe.T
    M[d:, d:] = ee
    return M


def _useful_shift(first: Array) -> Array:
    """The columns' means over the rows ``first``, where a mean exceeds the
    standard deviation (0 elsewhere): summed around 0, a column loses to
    cancellation about ``log2(1 + mean^2 / var)`` bits of its central
    moments, at most one bit where the shift is left out, and a block with
    no shift at all is not rewritten before its product."""
    mean = first.mean(axis=0)
    return np.where(np.abs(mean) > first.std(axis=0), mean, 0.0)


def moments(data: Any, center: bool, targets: bool = True) -> tuple[Array, ...]:
    """One pass over the dense rows ``data`` for what
    :func:`weighted_mean_scale` and :func:`standardized_gram` give in two.

    Returns ``(mean, scale, y_mean, gram)``: the weighted column means and
    scales of ``X`` (as :func:`weighted_mean_scale`), the weighted means of
    ``Y`` (0 without ``center``; no targets without ``targets``), and the
    second moments of ``[(X - mean) / scale, 1, Y - y_mean]`` (``X / scale``
    and ``Y`` without ``center``). The sums are taken around the first
    block's mean where it exceeds the standard deviation, so that offset
    columns lose no digits to cancellation (:func:`_useful_shift`).
    """
    d = data.shape[1]
    k = data.n_targets if targets else 0
    first, first_y = data.head(_block_rows(d))
    cx = _useful_shift(np.asarray(first, dtype=np.float64))
    cy = _useful_shift(np.asarray(first_y[:, :k], dtype=np.float64))
    M = data.full_sum(_moment_sums, None, cx, k, cy)
    M /= data.weight
    # shifted moments -> central ones (delta: the means minus the shifts)
    delta = M[:, d].copy()
    delta[d] = 0.0
    central = M - np.outer(delta, delta)
    mean, y_mean = cx + delta[:d], cy + delta[d + 1 :]
    shift = np.concatenate([mean, [0.0], y_mean])
    if center:
        var = np.maximum(np.diag(central)[:d], 0.0)
        scale = np.sqrt(var)
        # a (numerically) constant column keeps scale 1, as weighted_mean_scale
        scale[scale <= 1e-10 * np.maximum(np.abs(mean), 1.0)] = 1.0
        G = central
        G[:d, d] = G[d, :d] = 0.0
        G[d, d + 1 :] = G[d + 1 :, d] = 0.0
        y_mean_out = y_mean
    else:
        # raw moments: E[u u^T] = central + shift shift^T, with the ones row
        raw = central + np.outer(shift, shift)
        raw[:, d] = raw[d, :] = np.concatenate([mean, [1.0], y_mean])
        scale = np.sqrt(np.maximum(np.diag(raw)[:d], 0.0))
        scale[scale == 0] = 1.0
        G = raw
        y_mean_out = np.zeros(k)
    G[d, d] = 1.0
    factor = np.concatenate([1.0 / scale, np.ones(1 + k)])
    G *= factor[:, None] * factor[None, :]
    return mean, scale, y_mean_out, G


def whitening(gram: Array, ridge: Array) -> Array | None:
    """The inverse Cholesky factor ``P`` of ``gram + diag(ridge)``, so that
    ``P.T @ (gram + diag(ridge)) @ P`` is the identity; None when the matrix
    is not positive definite in floating point.

    Columns whose diagonal vanishes (constant columns, centered) are given a
    unit diagonal: they never move, and their coordinate stays decoupled.
    """
    G = gram + np.diag(ridge)
    dead = np.diag(G) <= 1e-12 * max(float(np.max(np.diag(G), initial=0.0)), 1.0)
    G[dead, :] = G[:, dead] = 0.0
    G[dead, dead] = 1.0
    try:
        R = cholesky(G, lower=False)
    except np.linalg.LinAlgError:
        return None
    # a nearly singular Gram matrix would turn rounding into huge steps
    diag = np.abs(np.diag(R))
    if not np.all(np.isfinite(R)) or diag.min() <= 1e-6 * diag.max():
        return None
    return solve_triangular(R, np.eye(R.shape[0]))


def _row_norms_squared(X: Any, m: Array, s: Array, P: Array | None) -> Array:
    """Squared row norms of ``(X * s - m) @ P`` (``P`` the identity if None)."""
    if P is None:
        if sp.issparse(X):
            # block by block: X.multiply(X) at once would copy the whole CSR
            sq = np.empty(X.shape[0])
            for start, block in _row_blocks(X):
                rows = block.shape[0]
                sq[start : start + rows] = np.asarray(block.multiply(block) @ s**2)
        else:
            sq = np.einsum("ij,ij,j->i", X, X, s**2)
        return sq - 2 * _matmul(X, m * s) + np.dot(m, m)
    # (X * s - m) @ P = X @ (s P) - m @ P: one product per block, in place,
    # in float32 (the largest norm needs a few digits, not sixteen)
    A, shift = (s[:, None] * P).astype(np.float32), (m @ P).astype(np.float32)
    norms = np.empty(X.shape[0])
    for start, block in _row_blocks(X):
        Z = block.astype(np.float32, copy=False) @ A
        Z -= shift
        norms[start : start + block.shape[0]] = np.einsum("ij,ij->i", Z, Z)
    return norms


def _row_norm_bounds(X: Array, m: Array, s: Array, P: Array) -> Array | None:
    """Upper bounds on the squared row norms of ``(X * s - m) @ P`` for dense
    ``X``, at the cost of about ``r + 3`` flops per entry instead of ``2 d``;
    None where they would not save much.

    With ``Q = P @ P.T = V diag(mu) V.T``, a row ``z`` has the norm
    ``sum_j mu_j (z v_j)^2``. The most ``mu`` that lie within a factor 1.25
    of each other are bounded together, by their largest times what is left
    of ``|z|^2`` (an overestimate by at most 25 %); the ``r`` other
    directions are taken exactly. Well-conditioned whitened data (``mu``
    nearly equal) needs ``r = 0``: one norm per row.
    """
    d = X.shape[1]
    mu, V = np.linalg.eigh(P @ P.T)  # ascending
    ends = np.searchsorted(mu, 1.25 * np.maximum(mu, 0.0), side="right")
    first = int(np.argmax(ends - np.arange(d)))
    exact = np.ones(d, dtype=bool)
    exact[first : ends[first]] = False
    r = int(exact.sum())
    if r > d // 4:
        return None
    mu_rest = float(mu[ends[first] - 1])
    V_exact, mu_exact = V[:, exact].astype(np.float32), mu[exact]
    s32, m32 = s.astype(np.float32), m.astype(np.float32)
    bounds = np.empty(X.shape[0])
    buffer = np.empty((_block_rows(d), d), dtype=np.float32)
    for start, block in _row_blocks(X):
        rows = block.shape[0]
        Z = buffer[:rows]
        if block.dtype == Z.dtype:
            np.multiply(block, s32, out=Z)
        else:  # a plain cast, then float32 in place (as in _moment_sums)
            np.copyto(Z, block, casting="same_kind")
            Z *= s32
        Z -= m32
        sq = np.einsum("ij,ij->i", Z, Z).astype(np.float64)
        if r:
            C = np.square(Z @ V_exact).astype(np.float64)
            sq -= C.sum(axis=1)
            np.maximum(sq, 0.0, out=sq)
            sq *= mu_rest
            sq += C @ mu_exact
        else:
            sq *= mu_rest
        bounds[start : start + rows] = sq
    return bounds


def _max_row_norm(X: Any, Y: Array, sw: Array, m, s, P) -> float:
    """The largest squared row norm of ``(X * s - m) @ P`` over rows of
    positive weight (-inf without any).

    For dense whitened rows, upper bounds (:func:`_row_norm_bounds`) pick
    the candidates first: the exact norms are taken of the rows whose bound
    is within 1 % of the best exact norm found (the row of the largest
    bound), and of all rows when there are too many of those.
    """
    positive = sw > 0
    bounds = None
    if P is not None and not sp.issparse(X) and X.shape[0] >= 64:
        bounds = _row_norm_bounds(X, m, s, P)
    if bounds is None:
        norms = _row_norms_squared(X, m, s, P)
        return float(np.max(norms[positive], initial=-np.inf))
    bounds[~positive] = -np.inf
    top = int(np.argmax(bounds))
    if not positive[top]:
        return -np.inf
    best = float(_row_norms_squared(X[top : top + 1], m, s, P)[0])
    # the bounds and the exact norms are rounded in float32: a 1 % margin
    candidates = np.flatnonzero(bounds >= 0.99 * best)
    if candidates.size > X.shape[0] // 8:
        norms = _row_norms_squared(X, m, s, P)
        return float(np.max(norms[positive], initial=-np.inf))
    return max(best, float(np.max(_row_norms_squared(X[candidates], m, s, P))))


def _gram_matvec(X: Any, Y: Array, sw: Array, v: Array, m, s, intercept, total):
    """``Z' diag(sw / total) Z v`` on these rows, for ``Z = [X * s - m, 1]``
    (the ones column with ``intercept``): the coefficients' part and the
    intercept's."""
    d = X.shape[1]
    w = np.asarray(sw, dtype=np.float64) / total
    u = X @ (s * v[:d]) - np.dot(m, v[:d]) + (v[d] if intercept else 0.0)
    u = w * u
    return s * (X.T @ u) - m * u.sum(), u.sum()


def _top_eigenvalue_lanczos(
    data: Any, intercept: bool, m: Array, s: Array, l2: float = 0.0
) -> float:
    d = data.shape[1]
    n_cols = d + intercept
    total = data.weight

    def matvec(v: Array) -> Array:
        v = np.ravel(v)
        coef, ones = data.full_sum(_gram_matvec, v, m, s, intercept, total)
        out = np.empty(n_cols)
        out[:d] = coef + l2 * s**2 * v[:d]
        if intercept:
            out[d] = ones
        return out

    if n_cols <= 2:
        dense = np.column_stack([matvec(e) for e in np.eye(n_cols)])
        return float(np.linalg.eigvalsh(dense)[-1])
    op = LinearOperator((n_cols, n_cols), matvec=matvec, dtype=np.float64)
    # on many columns a step size needs two digits: at tol=1e-2 ARPACK takes
    # a few dozen products instead of ~130 (each two passes over X); its
    # estimate approaches from below, so it is raised by the tolerance
    tol = 1e-4 if n_cols <= 2048 else 1e-2
    val = eigsh(
        op, k=1, which="LA", tol=tol, v0=np.ones(n_cols), return_eigenvectors=False
    )
    return float(val[0]) * (1 + tol if tol > 1e-4 else 1.0)


def weighted_mean_scale(data: Any, center: bool = True) -> tuple[Array, Array]:
    """Weighted column means and scales (1 for constant columns) of the rows
    ``data``.

    The scale is the standard deviation, or with ``center=False`` (a model
    without intercept, whose columns are not centered) the root mean square.
    """
    total = data.weight
    if data.sparse:
        mean, sq = data.full_sum(_sparse_moment_sums, total)
    else:
        # around the first block's mean, block by block: E[x^2] - E[x]^2 of an
        # offset column loses its digits (a constant column of 7 got a scale
        # of 1e-6, not 1)
        head = data.head(_block_rows(data.shape[1]))[0]
        shift = np.asarray(head, dtype=np.float64).mean(axis=0)
        first, second = data.full_sum(_shifted_moment_sums, shift, total)
        mean = shift + first
        if center:
            var = np.maximum(second - first**2, 0.0)
            scale = np.sqrt(var)
            scale[scale <= 1e-10 * np.maximum(np.abs(mean), 1.0)] = 1.0
            return mean, scale
        sq = second + 2 * shift * first + shift**2
    if not center:
        scale = np.sqrt(np.maximum(sq, 0.0))
        scale[scale == 0] = 1.0
        return mean.astype(np.float64), scale.astype(np.float64)
    var = np.maximum(sq - mean**2, 0.0)
    scale = np.sqrt(var)
    # a (numerically) constant column keeps scale 1: its centered values are ~0
    scale[scale <= 1e-10 * np.maximum(np.abs(mean), 1.0)] = 1.0
    return mean.astype(np.float64), scale.astype(np.float64)


def _shifted_moment_sums(X: Array, Y: Array, sw: Array, shift: Array, total):
    """``E_w[x - shift]`` and ``E_w[(x - shift)^2]`` columnwise, these rows'
    shares (weights divided by the whole data's ``total``)."""
    w = np.asarray(sw, dtype=np.float64) / total
    first = np.zeros(X.shape[1])
    second = np.zeros(X.shape[1])
    for start, block in _row_blocks(X):
        U = block - shift
        wb = w[start : start + block.shape[0]]
        first += wb @ U
        second += np.einsum("i,ij,ij->j", wb, U, U)
    return first, second


def _sparse_moment_sums(X: Any, Y: Array, sw: Array, total):
    """``E_w[x]`` and ``E_w[x^2]`` columnwise of sparse rows, these rows'
    shares: block by block, since X.multiply(X) at once would copy the CSR."""
    w = np.asarray(sw, dtype=np.float64) / total
    mean = np.asarray(X.T @ w).ravel()
    sq = np.zeros(X.shape[1])
    for start, block in _row_blocks(X):
        wb = w[start : start + block.shape[0]]
        sq += np.asarray(block.multiply(block).T @ wb).ravel()
    return mean, sq


# hidden activations: (forward in place on the pre-activation, multiply the
# back-propagated delta in place by the derivative written via the output)
def _relu(z: Array) -> Array:
    return np.maximum(z, 0, out=z)


def _relu_grad(a: Array, delta: Array) -> None:
    np.multiply(delta, a > 0, out=delta)


def _tanh_grad(a: Array, delta: Array) -> None:
    delta *= 1 - a * a


def _logistic_grad(a: Array, delta: Array) -> None:
    delta *= a * (1 - a)


ACTIVATIONS: dict[
    str, tuple[Callable[[Array], Array], Callable[[Array, Array], None]]
] = {
    "identity": (lambda z: z, lambda a, delta: None),
    "relu": (_relu, _relu_grad),
    "tanh": (lambda z: np.tanh(z, out=z), _tanh_grad),
    "logistic": (lambda z: expit(z, out=z), _logistic_grad),
}


def _glorot_uniform(rng, fan_in, fan_out):
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, (fan_in, fan_out))


def _glorot_normal(rng, fan_in, fan_out):
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out))


def _he_uniform(rng, fan_in, fan_out):
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, (fan_in, fan_out))


def _he_normal(rng, fan_in, fan_out):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))


# Glorot & Bengio (2010) and He et al. (2015); intercepts start at zero
INITIALIZERS: dict[str, Callable[[np.random.RandomState, int, int], Array]] = {
    "glorot_uniform": _glorot_uniform,
    "glorot_normal": _glorot_normal,
    "he_uniform": _he_uniform,
    "he_normal": _he_normal,
}


class MLP:
    """Fully connected network; ``layer_sizes`` runs from inputs to outputs.

    With ``out_scale`` and ``out_shift`` (one value per output) the output
    layer works in units of each target: ``theta`` holds its ``V`` and ``c``,
    ``raw = (a @ V + c) * out_scale + out_shift``, and the weights in the
    targets' units are ``W = V * out_scale`` and ``b = c * out_scale +
    out_shift``. The loss of one output is then its variance times that of
    the standardized target, so that, with the rate divided by the variance
    (and no penalty on the hidden layers), gradient steps on ``theta`` do not
    depend on the unit of the targets. The per-entry ``penalty_weights`` keep
    the penalty that of ``W``.
    """

    # the first layer's products are wide: scipy's kernels do them
    light_rows = False

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str,
        initialization: str,
        out_scale: Array | None = None,
        out_shift: Array | None = None,
    ) -> None:
        self.layer_sizes = [int(n) for n in layer_sizes]
        self.activation = activation
        self.initialization = initialization
        sizes = self.layer_sizes
        self.shapes = list(itertools.pairwise(sizes))
        self.n_penalized = sum(a * b for a, b in self.shapes)
        self.size = self.n_penalized + sum(self.layer_sizes[1:])
        # each layer's (weights' slice, their shape, intercepts' slice)
        self._layout = []
        w_at, b_at = 0, self.n_penalized
        for fan_in, fan_out in self.shapes:
            w_end = w_at + fan_in * fan_out
            self._layout.append(
                (slice(w_at, w_end), (fan_in, fan_out), slice(b_at, b_at + fan_out))
            )
            w_at, b_at = w_end, b_at + fan_out
        # the views of the last parameter and gradient vectors (see _layers)
        self._held: list[Any] = [None, None]
        self._ones = np.ones(0)
        self.penalty_weights: Array | None = None
        self.out_scale = self.out_shift = None
        if out_scale is not None or out_shift is not None:
            n_out = sizes[-1]
            scale = np.ones(n_out) if out_scale is None else out_scale
            shift = np.zeros(n_out) if out_shift is None else out_shift
            self.out_scale = np.asarray(scale, dtype=np.float64).reshape(n_out)
            self.out_shift = np.asarray(shift, dtype=np.float64).reshape(n_out)
            # entry (j, o) of the last V sits at the end of the weights, row-major
            weights = np.ones(self.n_penalized)
            fan_in = sizes[-2]
            weights[self.n_penalized - fan_in * n_out :] = np.tile(
                self.out_scale, fan_in
            )
            self.penalty_weights = weights

    def unpack(self, theta: Array) -> tuple[list[Array], list[Array]]:
        """Views of the parameters of each layer (``V`` and ``c`` last)."""
        layers = self._layers(theta)
        return [W for W, _ in layers], [b for _, b in layers]

    def __getstate__(self) -> dict[str, Any]:
        # the caches stay behind: a model sent to dask workers carries no
        # copy of the last parameter and gradient vectors
        state = dict(self.__dict__)
        state["_held"], state["_ones"] = [None, None], np.ones(0)
        return state

    def _layers(self, theta: Array, slot: int = 0) -> list[tuple[Array, Array]]:
        """``(W, b)`` views of each layer, kept for the last vector seen in
        ``slot`` (0: parameters, 1: gradient): a training step unpacks the
        same point and gradient vectors three times. The vector itself is
        held, so its identity cannot pass to another array."""
        held = self._held[slot]
        if held is not None and held[0] is theta:
            return held[1]
        layers = [(theta[w].reshape(shape), theta[b]) for w, shape, b in self._layout]
        self._held[slot] = (theta, layers)
        return layers

    _GEMM = {np.dtype(np.float32): blas.sgemm, np.dtype(np.float64): blas.dgemm}

    @classmethod
    def _affine(cls, a: Any, W: Array, b: Array) -> Array:
        """``a @ W + b``. For dense rows BLAS adds the product to the
        intercepts written beforehand (a pass over the output saved), in
        column-major terms ``z.T = W.T @ a.T + z.T``, which copies nothing."""
        gemm = cls._GEMM.get(W.dtype)
        if (
            gemm is None
            or sp.issparse(a)
            or a.dtype != W.dtype
            or not a.flags.c_contiguous
            or not a.size
        ):
            z = _matmul(a, W)
            z += b
            return z
        z = np.empty((a.shape[0], W.shape[1]), dtype=W.dtype)
        z[...] = b
        return gemm(1.0, W.T, a.T, 1.0, z.T, overwrite_c=True).T

    def _column_sums(self, delta: Array, out: Array) -> None:
        """``delta.sum(axis=0)`` into ``out``, as a product with ones (BLAS:
        about three times numpy's reduction over the rows)."""
        ones = self._ones  # read once: blocks may be summed in threads
        if ones.shape[0] != delta.shape[0] or ones.dtype != delta.dtype:
            ones = self._ones = np.ones(delta.shape[0], dtype=delta.dtype)
        np.matmul(ones, delta, out=out)

    def pack(self, coefs: Sequence[Array], intercepts: Sequence[Array], dtype) -> Array:
        """The parameter vector of the layers' parameters (inverse of unpack)."""
        flat = [np.asarray(W, dtype=dtype).reshape(-1) for W in coefs]
        flat += [np.asarray(b, dtype=dtype).reshape(-1) for b in intercepts]
        return np.concatenate(flat)

    def coefs(self, theta: Array) -> tuple[list[Array], list[Array]]:
        """Copies of the weights and intercepts in the targets' units."""
        coefs, intercepts = self.unpack(theta)
        coefs, intercepts = [W.copy() for W in coefs], [b.copy() for b in intercepts]
        if self.out_scale is not None:
            scale = self.out_scale.astype(theta.dtype)
            coefs[-1] *= scale
            intercepts[-1] *= scale
            intercepts[-1] += self.out_shift.astype(theta.dtype)
        return coefs, intercepts

    def from_coefs(
        self, coefs: Sequence[Array], intercepts: Sequence[Array], dtype
    ) -> Array:
        """The parameter vector of weights and intercepts in the targets'
        units (inverse of :meth:`coefs`)."""
        if self.out_scale is not None:
            coefs, intercepts = list(coefs), list(intercepts)
            W, b = np.asarray(coefs[-1], np.float64), np.asarray(intercepts[-1])
            coefs[-1] = W / self.out_scale
            intercepts[-1] = (b.astype(np.float64) - self.out_shift) / self.out_scale
        return self.pack(coefs, intercepts, dtype)

    def init(self, rng: np.random.RandomState, dtype: np.dtype) -> Array:
        draw = INITIALIZERS[self.initialization]
        coefs, intercepts = [], []
        last = len(self.shapes) - 1
        for i, (fan_in, fan_out) in enumerate(self.shapes):
            coefs.append(draw(rng, fan_in, fan_out))
            # hidden units with intercepts at 0 all cut the inputs through
            # their mean: drawn ones spread the units' kinks (parity with
            # MLPRegressor needs it, friedman1: test R² 0.01 higher)
            b = draw(rng, fan_in, fan_out)[0] if i < last else np.zeros(fan_out)
            intercepts.append(b)
        return self.pack(coefs, intercepts, dtype)

    def forward(self, theta: Array, X: Any) -> tuple[Array, list[Any]]:
        layers = self._layers(theta)
        act = ACTIVATIONS[self.activation][0]
        acts = [X]
        last = len(layers) - 1
        for i, (W, b) in enumerate(layers):
            z = self._affine(acts[-1], W, b)
            acts.append(act(z) if i < last else z)
        raw = acts[-1]
        if self.out_scale is not None:
            # in place: backward never reads the output layer's activation
            raw *= self.out_scale.astype(raw.dtype)
            raw += self.out_shift.astype(raw.dtype)
        return raw, acts

    def output_curvature(
        self, theta: Array, X: Any, sw: Array, *, max_rows: int = 2000
    ) -> tuple[float, float]:
        """The curvature of the squared error in the output layer at ``theta``.

        Returns ``(L, L_max)``: the largest eigenvalue of the weighted second
        moments of ``[a, 1]``, with ``a`` the last hidden layer's activations
        (the Hessian in ``V`` and ``c``), and the largest squared norm of a
        row ``[a_i, 1]`` of positive weight (that of a one-row batch); both
        times the largest squared ``out_scale``. Taken on at most ``max_rows``
        evenly spaced rows, by power iteration from the ones vector (the
        direction of the activations' mean, which dominates unless they are
        centered), which approaches ``L`` from below.
        """
        n = X.shape[0]
        if n > max_rows:
            rows = np.linspace(0, n - 1, max_rows).astype(np.intp)
            X, sw = X[rows], sw[rows]
        keep = np.asarray(sw) > 0
        a = self.forward(theta, X[keep])[1][-2]
        w = np.asarray(sw, dtype=np.float64)[keep]
        w /= w.sum()
        v = np.ones(a.shape[1] + 1) / np.sqrt(a.shape[1] + 1)
        L = 0.0
        for _ in range(50):
            u = np.asarray(_matmul(a, v[:-1])).ravel() + v[-1]
            u *= w
            g = np.append(np.asarray(a.T @ u).ravel(), u.sum())
            L_prev, L = L, float(np.linalg.norm(g))
            if L == 0.0 or abs(L - L_prev) <= 1e-3 * L:
                break
            v = g / L
        if sp.issparse(a):  # no hidden layer: the rows of X
            sq = np.asarray(a.multiply(a).sum(axis=1)).ravel()
        else:
            sq = np.einsum("ij,ij->i", a, a)
        L_max = float(np.max(sq, initial=0.0)) + 1.0
        out2 = 1.0 if self.out_scale is None else float(np.max(self.out_scale**2))
        return L * out2, L_max * out2

    def backward(
        self, theta: Array, X: Any, draw: Array, cache: list[Any], grad: Array
    ) -> Array:
        layers = self._layers(theta)
        g_layers = self._layers(grad, 1)
        act_grad = ACTIVATIONS[self.activation][1]
        delta = draw
        if self.out_scale is not None:
            # the chain rule through raw = z * out_scale + out_shift
            delta = draw * self.out_scale.astype(draw.dtype)
        for i in range(len(layers) - 1, -1, -1):
            a = cache[i]
            g_W, g_b = g_layers[i]
            if sp.issparse(a):
                g_W[...] = a.T @ delta
            else:
                np.matmul(a.T, delta, out=g_W)
            self._column_sums(delta, g_b)
            if i:
                W_t = layers[i][0].T
                if W_t.shape[0] <= 32:
                    # OpenBLAS is slow at products over a few terms with a
                    # transposed factor (the output layer's): half the time
                    # on a contiguous copy
                    W_t = np.ascontiguousarray(W_t)
                delta = delta @ W_t
                act_grad(a, delta)
        return grad
