"""Losses as ``value_and_grad`` functions of the raw model output.

Each loss takes the raw output ``raw`` of shape (n_samples, n_outputs), the
encoded targets ``y`` of the same shape and the sample weights ``sw`` of
shape (n_samples,), and returns the weighted mean loss together with its
gradient with respect to ``raw``. The mean is taken over the sum of the
weights, never over the number of rows, so that a weight of 2 and a repeated
row give the same objective; a mini-batch passes ``total``, the share of the
whole data's weight its rows stand for, as the denominator instead. Value and
gradient come from one function so the two can never drift apart.

The dictionaries are keyed by the name of the output activation, which fixes
the loss: identity -> squared error, logistic -> binary cross-entropy per
column, softmax -> categorical cross-entropy.
"""

from collections.abc import Callable

import numpy as np
from scipy.special import expit, log_softmax, softmax

Array = np.ndarray
LossFn = Callable[..., tuple[float, Array]]


def _weighted_mean(per_sample: Array, sw: Array, total: float) -> float:
    return float(np.dot(sw, per_sample) / total)


def squared_error(
    raw: Array, y: Array, sw: Array, total: float | None = None
) -> tuple[float, Array]:
    """Half squared error summed over outputs: ``0.5 * ||raw_i - y_i||^2``."""
    total = sw.sum() if total is None else total
    diff = raw - y
    value = 0.5 * _weighted_mean(np.einsum("ij,ij->i", diff, diff), sw, total)
    diff *= (sw / total)[:, None]
    return value, diff


def binary_log_loss(
    raw: Array, y: Array, sw: Array, total: float | None = None
) -> tuple[float, Array]:
    """Cross-entropy of one sigmoid per column (binary and multilabel)."""
    total = sw.sum() if total is None else total
    # log(1 + exp(raw)) - y * raw is the stable form of -y log p - (1-y) log(1-p)
    per_sample = (np.logaddexp(0, raw) - y * raw).sum(axis=1)
    value = _weighted_mean(per_sample, sw, total)
    grad = expit(raw)
    grad -= y
    grad *= (sw / total)[:, None]
    return value, grad


def log_loss(
    raw: Array, y: Array, sw: Array, total: float | None = None
) -> tuple[float, Array]:
    """Categorical cross-entropy of a softmax over the columns."""
    total = sw.sum() if total is None else total
    # one exp serves both the log-sum-exp and the softmax; shifting by the row
    # maximum keeps every exponent <= 0, so nothing overflows. Worked on the
    # transposes: numpy is slow along rows of a few columns (a loop per row)
    e = np.array(raw.T, order="C")
    w = sw / total
    wy = np.multiply(y.T, w, order="C")
    y_raw = np.vdot(wy, e)
    shift = np.maximum.reduce(e, axis=0)
    e -= shift
    np.exp(e, out=e)
    norm = np.add.reduce(e, axis=0)
    lse = np.log(norm)
    lse += shift
    value = float(np.dot(w, lse) - y_raw)
    # (softmax - y) * w, with softmax = exp / norm
    np.divide(w, norm, out=norm)
    e *= norm
    e -= wy
    return value, np.ascontiguousarray(e.T)


def huber(
    raw: Array, y: Array, sw: Array, total: float | None = None, *, epsilon: float
) -> tuple[float, Array]:
    """Huber loss with a fixed threshold ``epsilon``, summed over outputs:
    ``0.5 * r**2`` for ``|r| <= epsilon``, ``epsilon * |r| - 0.5 * epsilon**2``
    beyond (``r = raw - y``; :class:`~sklearn.linear_model.SGDRegressor`'s)."""
    total = sw.sum() if total is None else total
    r = raw - y
    # the gradient in r is r clipped to [-epsilon, epsilon]; the loss is
    # psi * (r - psi / 2), which is both branches at once
    psi = np.clip(r, -epsilon, epsilon)
    per_sample = np.einsum("ij,ij->i", psi, r - 0.5 * psi)
    value = _weighted_mean(per_sample, sw, total)
    psi *= (sw / total)[:, None]
    return value, psi


def squared_hinge(
    raw: Array, y: Array, sw: Array, total: float | None = None
) -> tuple[float, Array]:
    """Squared hinge of one-vs-rest margins, summed over columns:
    ``max(0, 1 - s * raw)**2`` with ``s = 2 y - 1`` in {-1, +1}
    (:class:`~sklearn.svm.LinearSVC`'s loss)."""
    total = sw.sum() if total is None else total
    s = 2.0 * y - 1.0
    slack = np.maximum(1.0 - s * raw, 0.0)
    value = _weighted_mean(np.einsum("ij,ij->i", slack, slack), sw, total)
    grad = slack
    grad *= s
    grad *= (-2.0 * sw / total)[:, None]
    return value, grad


LOSSES: dict[str, LossFn] = {
    "identity": squared_error,
    "logistic": binary_log_loss,
    "softmax": log_loss,
}


def _identity(raw: Array) -> Array:
    return raw


def _log_expit(raw: Array) -> Array:
    # log(sigmoid(z)) = -log(1 + exp(-z)), exact for huge |z|
    return -np.logaddexp(0, -raw)


OUTPUT_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "identity": _identity,
    "logistic": expit,
    "softmax": lambda raw: softmax(raw, axis=1),
}

LOG_OUTPUT_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "logistic": _log_expit,
    "softmax": lambda raw: log_softmax(raw, axis=1),
}
