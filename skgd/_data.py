"""Full-batch sums from sufficient statistics instead of passes over the rows.

The training loop gets a full-batch value and gradient either from the rows
(a forward and a backward pass over ``X``) or, for least squares, from the
weighted second moments of the standardized data, computed once in one pass:
``G = E[z z^T]``, ``h = E[z y~]`` and ``E[y~^2]`` (``z`` the standardized row,
``y~`` the centered target). Every epoch then costs ``O(d^2 k)`` whatever the
number of rows, the identity behind ``ElasticNet(precompute=True)``.
"""

from typing import Any

import numpy as np

Array = np.ndarray


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

    def value(self, theta: Array) -> float:
        B, delta = self._coefficients(theta)
        quad = self.syy - 2 * np.einsum("jo,jo->o", B, self.h)
        quad += np.einsum("jo,jo->o", B, self.G @ B)
        # rounding can take a residual variance near 0 just below it
        return 0.5 * float(np.sum(np.maximum(quad, 0.0) + delta**2))

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
