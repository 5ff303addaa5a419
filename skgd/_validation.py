"""The only module that imports scikit-learn's private API.

Everything skgd needs from ``sklearn.utils._param_validation`` and
``sklearn.utils.validation`` comes through here, so an upstream move is a
one-file fix.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, validate_data

__all__ = [
    "Integral",
    "Interval",
    "Real",
    "StrOptions",
    "_fit_context",
    "check_sample_weight",
    "validate_data",
]


def check_sample_weight(sample_weight, X, dtype) -> np.ndarray:
    """Validated sample weights: finite, non-negative, not all zero, of ``dtype``.

    Raises ``ValueError`` naming the problem before any training happens.
    """
    if sample_weight is not None and not np.isscalar(sample_weight):
        arr = np.asarray(sample_weight)
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"sample_weight must be numeric, got an array of dtype {arr.dtype}."
            )
    sw = _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if not sw.sum() > 0:
        raise ValueError("sample_weight must not be all zero: nothing to fit.")
    return sw
