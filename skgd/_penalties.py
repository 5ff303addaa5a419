"""Elastic-net penalty on the weight block of a flat parameter vector.

Every model lays its parameters out as ``[weights..., intercepts...]``, so the
penalized entries are the prefix ``theta[:n_penalized]`` and the intercepts are
never penalized. The penalty is

    R(w) = l1 * ||w||_1 + 0.5 * l2 * ||w||_2^2

with ``l1 = alpha * l1_ratio`` and ``l2 = alpha * (1 - l1_ratio)``, the
convention of :class:`sklearn.linear_model.ElasticNet`. The smooth L2 part
enters the gradient; the L1 part is applied as a proximal step (soft
thresholding) after each optimizer step, which yields exact zeros.
"""

import numpy as np
from scipy.linalg import blas

Array = np.ndarray

# penalty name -> fraction of alpha that goes to the L1 term; None means no penalty
_L1_RATIO = {"l2": 0.0, "l1": 1.0}


class LinearWeights:
    """Weights that are a linear map of the parameters: ``W = A @ T * out``.

    ``T`` is the penalized prefix of the parameter vector, reshaped to
    (n_features, n_outputs); a model in fully preconditioned (whitened)
    coordinates passes its map here so that the penalty stays that of the
    original weights. Only the smooth L2 part can act through such a map.
    """

    def __init__(self, A: Array, out: Array) -> None:
        self.A = A
        self.out = out
        # the largest eigenvalue of the map's normal operator
        top = float(np.linalg.norm(A, 2)) ** 2 if A.size else 0.0
        self.lipschitz = top * float(np.max(out**2, initial=0.0))

    def apply(self, t: Array) -> Array:
        T = t.reshape(self.A.shape[1], -1)
        return ((self.A.astype(t.dtype) @ T) * self.out.astype(t.dtype)).reshape(-1)

    def normal(self, t: Array) -> Array:
        """The Hessian of ``0.5 * ||W||^2`` applied to ``t``."""
        A = self.A.astype(t.dtype)
        T = t.reshape(A.shape[1], -1)
        return (A.T @ (A @ T) * (self.out**2).astype(t.dtype)).reshape(-1)


class ElasticNet:
    """Value, smooth gradient and proximal operator of the elastic-net penalty.

    Parameters
    ----------
    l1 : float
        Strength of the L1 term.
    l2 : float
        Strength of the squared L2 term.
    n_penalized : int
        Number of leading entries of the parameter vector that are penalized.
    weights : ndarray of shape (n_penalized,) or LinearWeights, default=None
        Per-entry factors ``c``: the penalty acts on ``c * theta[:n_penalized]``.
        A model working in rescaled coordinates (``w = c * theta``) passes its
        scale here so the penalty stays that of the original weights; a model
        in whitened coordinates passes a :class:`LinearWeights` (L2 only).
    """

    def __init__(
        self, l1: float, l2: float, n_penalized: int, weights: Array | None = None
    ) -> None:
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.n_penalized = int(n_penalized)
        self.weights = weights
        if self.l1 and isinstance(weights, LinearWeights):
            raise ValueError("an L1 penalty needs per-entry weights")

    @property
    def curvature(self) -> float:
        """The largest eigenvalue of the Hessian of the smooth (L2) part."""
        if isinstance(self.weights, LinearWeights):
            return self.l2 * self.weights.lipschitz
        c2 = 1.0 if self.weights is None else float(np.max(self.weights**2, initial=0))
        return self.l2 * c2

    def _weighted(self, theta: Array) -> Array:
        w = theta[: self.n_penalized]
        if isinstance(self.weights, LinearWeights):
            return self.weights.apply(w)
        return w if self.weights is None else w * self.weights

    def value(self, theta: Array) -> float:
        w = self._weighted(theta)
        out = 0.0
        if self.l1:
            out += self.l1 * float(np.abs(w).sum())
        if self.l2:
            out += 0.5 * self.l2 * float(np.dot(w, w))
        return out

    def add_grad(self, theta: Array, grad: Array) -> None:
        """Add the gradient of the smooth (L2) part to ``grad`` in place."""
        if self.l2:
            k = self.n_penalized
            if self.weights is None:
                _axpy(self.l2, theta[:k], grad[:k])
            elif isinstance(self.weights, LinearWeights):
                grad[:k] += self.l2 * self.weights.normal(theta[:k])
            else:
                grad[:k] += self.l2 * self.weights**2 * theta[:k]

    def prox(self, z: Array, step: float | Array) -> Array:
        """Soft-threshold the weights of ``z`` in place by ``step * l1``.

        ``step`` is the optimizer's step size, a scalar or one value per
        parameter (for the adaptive optimizers, whose steps are diagonal).
        """
        if self.l1:
            k = self.n_penalized
            w = z[:k]
            thresh = self.l1 * (step[:k] if np.ndim(step) else step)
            if self.weights is not None:
                thresh = thresh * self.weights
            np.copyto(w, np.sign(w) * np.maximum(np.abs(w) - thresh, 0.0))
        return z


_AXPY = {np.dtype(np.float32): blas.saxpy, np.dtype(np.float64): blas.daxpy}


def _axpy(a: float, x: Array, y: Array) -> None:
    """``y += a * x`` in place: one BLAS pass, no temporary, when both are
    vectors of the same float dtype and ``y`` is one BLAS can write to (else
    the wrapper would silently update a copy)."""
    axpy = _AXPY.get(y.dtype)
    flags = y.flags
    if (
        axpy is None
        or x.dtype != y.dtype
        or not (flags.c_contiguous and flags.aligned and flags.writeable)
    ):
        y += a * x
    elif y.size:
        axpy(x, y, a=a)


def make_penalty(
    penalty: str | None,
    alpha: float,
    l1_ratio: float,
    n_penalized: int,
    weights: Array | None = None,
) -> ElasticNet:
    """Translate the estimator parameters into an :class:`ElasticNet`."""
    if penalty is None:
        return ElasticNet(0.0, 0.0, n_penalized)
    ratio = _L1_RATIO.get(penalty, l1_ratio)
    return ElasticNet(alpha * ratio, alpha * (1.0 - ratio), n_penalized, weights)
