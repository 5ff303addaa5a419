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
from scipy.sparse.linalg import LinearOperator, eigsh
from scipy.special import expit

Array = np.ndarray


class Model(Protocol):
    size: int
    n_penalized: int
    penalty_weights: Array | None

    def init(self, rng: np.random.RandomState, dtype: np.dtype) -> Array: ...

    def forward(self, theta: Array, X: Any) -> tuple[Array, Any]: ...

    def backward(
        self, theta: Array, X: Any, draw: Array, cache: Any, grad: Array
    ) -> Array: ...


def _matmul(X: Any, W: Array) -> Array:
    return X @ W if sp.issparse(X) else np.matmul(X, W)


class LinearModel:
    """``raw = X @ W + b``, optimized in centered and scaled coordinates.

    ``theta`` holds ``V`` of shape (n_features, n_outputs) and ``c`` of shape
    (n_outputs,), with ``W = V / scale[:, None]`` and
    ``b = c - (mean / scale) @ V``: gradient descent on ``theta`` is gradient
    descent on standardized features, a change of variables that leaves the
    objective and its minimizer unchanged (a Jacobi preconditioner that also
    decouples the intercept). ``mean = 0`` and ``scale = 1`` give plain
    coordinates.
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        fit_intercept: bool,
        mean: Array | None = None,
        scale: Array | None = None,
    ) -> None:
        self.n_features = n_features
        self.n_outputs = n_outputs
        self.fit_intercept = fit_intercept
        self.n_penalized = n_features * n_outputs
        self.size = self.n_penalized + (n_outputs if fit_intercept else 0)
        zeros, ones = np.zeros(n_features), np.ones(n_features)
        self.mean = zeros if mean is None or not fit_intercept else mean
        self.scale = ones if scale is None else scale
        # the penalty acts on W = V / scale, entry (j, o) of V at j * k + o
        self.penalty_weights = (
            None if scale is None else np.repeat(1.0 / self.scale, n_outputs)
        )

    def coef(self, theta: Array) -> tuple[Array, Array]:
        """``(W, b)`` in the original coordinates."""
        V = theta[: self.n_penalized].reshape(self.n_features, self.n_outputs)
        W = V / self.scale[:, None].astype(theta.dtype)
        b = np.zeros(self.n_outputs, dtype=theta.dtype)
        if self.fit_intercept:
            b = theta[self.n_penalized :] - self.mean.astype(theta.dtype) @ W
        return W, b

    def from_coef(self, W: Array, b: Array, dtype: np.dtype) -> Array:
        """The parameter vector of the original-coordinate ``(W, b)``."""
        W = np.asarray(W, dtype=np.float64).reshape(self.n_features, self.n_outputs)
        parts = [(W * self.scale[:, None]).reshape(-1)]
        if self.fit_intercept:
            parts.append(np.ravel(b) + self.mean @ W)
        return np.concatenate(parts).astype(dtype)

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
        if self.fit_intercept:
            gb = draw.sum(axis=0)
            grad[k:] = gb
            gW -= np.outer(self.mean, gb)
        gW /= self.scale[:, None]
        grad[:k] = gW.reshape(-1)
        return grad

    def curvature(self, X: Any, sw: Array) -> tuple[float, float]:
        """Largest Hessian eigenvalue of the weighted mean squared error.

        Returns ``(L, L_max)`` in the model's coordinates: the largest
        eigenvalue of ``Z.T @ diag(sw) @ Z / sum(sw)``, with ``Z`` the
        standardized design matrix (and a column of ones when the intercept
        is fitted), and the largest squared row norm of ``Z`` over rows of
        positive weight (the curvature of a one-sample batch).
        """
        m, s = self.mean / self.scale, 1.0 / self.scale
        norms = _row_norms_squared(X, s**2) - 2 * _matmul(X, m * s) + np.dot(m, m)
        norms += 1.0 if self.fit_intercept else 0.0
        L_max = float(norms[sw > 0].max())
        if sp.issparse(X) or self.n_features > 512:
            return _top_eigenvalue_lanczos(X, sw, self.fit_intercept, m, s), L_max
        return _top_eigenvalue_gram(X, sw, self.fit_intercept, m, s), L_max


def _row_norms_squared(X: Any, col_weights: Array) -> Array:
    if sp.issparse(X):
        return np.asarray(X.multiply(X) @ col_weights).ravel()
    return np.einsum("ij,ij,j->i", X, X, col_weights)


def _top_eigenvalue_gram(X: Array, sw: Array, intercept: bool, m: Array, s: Array):
    # the Gram matrix of [X, 1] is accumulated in row chunks (weighting never
    # copies X; one BLAS pass beats many matvec passes), then transformed to
    # standardized coordinates: Z = [X, 1] @ T
    d = X.shape[1]
    G = np.zeros((d + 1, d + 1))
    for start in range(0, X.shape[0], 8192):
        Xc = np.asarray(X[start : start + 8192], dtype=np.float64)
        Xc = np.hstack([Xc, np.ones((Xc.shape[0], 1))])
        sc = np.asarray(sw[start : start + 8192], dtype=np.float64)
        G += (Xc * sc[:, None]).T @ Xc
    G /= float(np.sum(sw, dtype=np.float64))
    T = np.zeros((d + 1, d + 1))
    T[:d, :d] = np.diag(s)
    T[d, :d] = -m
    T[d, d] = 1.0
    G = T.T @ G @ T
    if not intercept:
        G = G[:d, :d]
    return float(np.linalg.eigvalsh(G)[-1])


def _top_eigenvalue_lanczos(X: Any, sw: Array, intercept: bool, m: Array, s: Array):
    d = X.shape[1]
    n_cols = d + intercept
    w = np.asarray(sw, dtype=np.float64) / float(np.sum(sw, dtype=np.float64))

    def matvec(v: Array) -> Array:
        v = np.ravel(v)
        u = X @ (s * v[:d]) - np.dot(m, v[:d]) + (v[d] if intercept else 0.0)
        u = w * u
        out = np.empty(n_cols)
        out[:d] = s * (X.T @ u) - m * u.sum()
        if intercept:
            out[d] = u.sum()
        return out

    if n_cols <= 2:
        dense = np.column_stack([matvec(e) for e in np.eye(n_cols)])
        return float(np.linalg.eigvalsh(dense)[-1])
    op = LinearOperator((n_cols, n_cols), matvec=matvec, dtype=np.float64)
    val = eigsh(
        op, k=1, which="LA", tol=1e-4, v0=np.ones(n_cols), return_eigenvectors=False
    )
    return float(val[0])


def weighted_mean_scale(X: Any, sw: Array) -> tuple[Array, Array]:
    """Weighted column means and standard deviations (1 for constant columns)."""
    w = np.asarray(sw, dtype=np.float64) / float(np.sum(sw, dtype=np.float64))
    if sp.issparse(X):
        mean = np.asarray(X.T @ w).ravel()
        sq = np.asarray(X.multiply(X).T @ w).ravel()
    else:
        mean = w @ X
        sq = np.einsum("i,ij,ij->j", w, X, X)
    var = np.maximum(sq - mean**2, 0.0)
    scale = np.sqrt(var)
    # a (numerically) constant column keeps scale 1: its centered values are ~0
    scale[scale <= 1e-10 * np.maximum(np.abs(mean), 1.0)] = 1.0
    return mean.astype(np.float64), scale.astype(np.float64)


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
    """Fully connected network; ``layer_sizes`` runs from inputs to outputs."""

    def __init__(
        self, layer_sizes: Sequence[int], activation: str, initialization: str
    ) -> None:
        self.layer_sizes = [int(n) for n in layer_sizes]
        self.activation = activation
        self.initialization = initialization
        sizes = self.layer_sizes
        self.shapes = list(itertools.pairwise(sizes))
        self.n_penalized = sum(a * b for a, b in self.shapes)
        self.penalty_weights = None
        self.size = self.n_penalized + sum(self.layer_sizes[1:])

    def unpack(self, theta: Array) -> tuple[list[Array], list[Array]]:
        coefs, intercepts = [], []
        w_at, b_at = 0, self.n_penalized
        for fan_in, fan_out in self.shapes:
            coefs.append(theta[w_at : w_at + fan_in * fan_out].reshape(fan_in, fan_out))
            intercepts.append(theta[b_at : b_at + fan_out])
            w_at += fan_in * fan_out
            b_at += fan_out
        return coefs, intercepts

    def pack(self, coefs: Sequence[Array], intercepts: Sequence[Array], dtype) -> Array:
        flat = [np.asarray(W, dtype=dtype).reshape(-1) for W in coefs]
        flat += [np.asarray(b, dtype=dtype).reshape(-1) for b in intercepts]
        return np.concatenate(flat)

    def init(self, rng: np.random.RandomState, dtype: np.dtype) -> Array:
        draw = INITIALIZERS[self.initialization]
        coefs = [draw(rng, fan_in, fan_out) for fan_in, fan_out in self.shapes]
        intercepts = [np.zeros(fan_out) for _, fan_out in self.shapes]
        return self.pack(coefs, intercepts, dtype)

    def forward(self, theta: Array, X: Any) -> tuple[Array, list[Any]]:
        coefs, intercepts = self.unpack(theta)
        act = ACTIVATIONS[self.activation][0]
        acts = [X]
        for i, (W, b) in enumerate(zip(coefs, intercepts, strict=False)):
            z = _matmul(acts[-1], W)
            z += b
            acts.append(act(z) if i < len(coefs) - 1 else z)
        return acts[-1], acts

    def backward(
        self, theta: Array, X: Any, draw: Array, cache: list[Any], grad: Array
    ) -> Array:
        coefs, _ = self.unpack(theta)
        g_coefs, g_intercepts = self.unpack(grad)
        act_grad = ACTIVATIONS[self.activation][1]
        delta = draw
        for i in range(len(coefs) - 1, -1, -1):
            a = cache[i]
            if sp.issparse(a):
                g_coefs[i][...] = a.T @ delta
            else:
                np.matmul(a.T, delta, out=g_coefs[i])
            np.sum(delta, axis=0, out=g_intercepts[i])
            if i:
                delta = delta @ coefs[i].T
                act_grad(a, delta)
        return grad
