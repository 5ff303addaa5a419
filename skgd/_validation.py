"""The only module that imports scikit-learn's private API.

Everything skgd needs from ``sklearn.utils._param_validation`` and
``sklearn.utils.validation`` comes through here, so an upstream move is a
one-file fix.
"""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context
from sklearn.utils import assert_all_finite
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight
from sklearn.utils.validation import validate_data as _sklearn_validate_data

__all__ = [
    "Integral",
    "Interval",
    "Options",
    "Real",
    "StrOptions",
    "_fit_context",
    "check_sample_weight",
    "has_callbacks",
    "rescale_weights",
    "validate_data",
]


def validate_data(_estimator, /, X="no_validation", y="no_validation", **kwargs):
    """scikit-learn's ``validate_data``, plus a magnitude check.

    Finite values so large that their squares overflow (about 1e153 in
    float64) make the data statistics, the curvature, the objective and the
    predictions non-finite; they are rejected up front, when fitting and when
    predicting, with a message naming the remedy rather than surfacing as
    numpy overflow warnings, a ``LinAlgError`` or NaN predictions. A numeric
    ``y`` is checked in the dtype of ``X``, which it is cast to for training.

    ``X``'s finiteness is checked by the magnitude check's own reductions
    (NaN and infinities surface in its minimum and maximum) rather than by a
    third pass in scikit-learn's ``check_array``; an array that fails gets
    scikit-learn's own message.
    """
    # (with X, scikit-learn passes the flag to check_array; without, nowhere)
    finite_check = not isinstance(X, str) and "ensure_all_finite" not in kwargs
    if finite_check:
        kwargs["ensure_all_finite"] = False
    try:
        out = _plain_continuation(_estimator, X, y, kwargs)
        if out is None:
            out = _sklearn_validate_data(_estimator, X, y, **kwargs)
    except (TypeError, ValueError) as exc:
        named = _name_non_numeric(exc, X, y)
        if named is exc:
            raise
        raise named from exc
    if isinstance(X, str):
        return out  # "no_validation" was passed for X
    name = type(_estimator).__name__ if finite_check else None
    if isinstance(y, str):
        _check_magnitude(out, "X", estimator_name=name)
        return out
    X_valid, y_valid = out
    _check_magnitude(X_valid, "X", estimator_name=name)
    if kwargs.get("y_numeric"):
        _check_magnitude(y_valid, "y", dtype=X_valid.dtype)
    return out


# the arguments of the fit calls that _plain_continuation understands
_PLAIN_KWARGS = {
    "reset",
    "accept_sparse",
    "dtype",
    "multi_output",
    "y_numeric",
    "ensure_all_finite",
}


def _plain_continuation(estimator, X, y, kwargs):
    """``(X, y)`` as scikit-learn's ``validate_data`` returns them, for a
    continuing fit call (``reset=False``) on finite numpy arrays it returns
    unchanged; None where it has anything to check, convert or warn about.

    Its checks cost about as much as one ``partial_fit`` step on a few rows
    (tags, array namespaces, feature names, two ``check_array``).
    """
    if kwargs.get("reset", True) or not kwargs.keys() <= _PLAIN_KWARGS:
        return None
    if type(X) is not np.ndarray or type(y) is not np.ndarray:
        return None
    dtypes = kwargs.get("dtype", "numeric")
    if (
        X.ndim != 2
        or X.shape[0] == 0
        or X.dtype not in (dtypes if isinstance(dtypes, tuple) else ())
        or X.shape[1] != getattr(estimator, "n_features_in_", None)
        # a fit on named features warns of a call without them
        or hasattr(estimator, "feature_names_in_")
        or y.shape[:1] != X.shape[:1]
        or not (
            y.ndim == 1 or (y.ndim == 2 and y.shape[1] and kwargs.get("multi_output"))
        )
        or y.dtype.kind not in ("biuf" if kwargs.get("y_numeric") else "biufUS")
    ):
        return None
    if kwargs.get("ensure_all_finite", True) and not np.isfinite(X).all():
        return None
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        return None
    return X, y


# how numpy and scikit-learn word a failed conversion to float
_NON_NUMERIC = ("float() argument", "could not convert", "Complex data not supported")


def _name_non_numeric(exc: Exception, X, y) -> Exception:
    """The conversion error, saying whether X or y holds the offending values
    (and without scikit-learn's dump of a whole complex array)."""
    message = str(exc)
    if not message.startswith(_NON_NUMERIC):
        return exc
    name = "X" if not _converts(X) else "y"
    what = "complex numbers" if message.startswith("Complex") else "non-numeric values"
    return type(exc)(
        f"{name} contains {what}: {message.splitlines()[0]}. {name} must be numeric."
    )


def _converts(a) -> bool:
    if a is None or isinstance(a, str) or sp.issparse(a):
        return True
    try:
        arr = np.asarray(a)
        if arr.dtype.kind == "c":
            return False
        arr.astype(np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _check_magnitude(a, name: str, dtype=None, estimator_name=None) -> None:
    """Raise when ``a``'s largest magnitude makes sums of squares overflow;
    with ``estimator_name``, first when ``a`` holds NaN or infinities (with
    scikit-learn's message, naming that estimator)."""
    data = a.data if sp.issparse(a) else np.asarray(a)
    if data.dtype.kind != "f" or data.size == 0:
        return
    dtype = np.dtype(dtype if dtype is not None else data.dtype)
    high, low = _extremes(data)
    if estimator_name is not None and not (np.isfinite(high) and np.isfinite(low)):
        assert_all_finite(data, estimator_name=estimator_name, input_name=name)
    _check_magnitude_peak(max(high, -low), a.shape[0], name, dtype)


# entries per block of _extremes: 512 KB of float64, read twice from cache
_EXTREMES_BLOCK = 1 << 16


def _extremes(data: np.ndarray) -> tuple[float, float]:
    """``(max, min)`` of ``data`` (NaN if it holds any): two reductions instead
    of ``abs(data)``, which would copy the whole array, taken block by block
    on contiguous memory so that the second reads the block from cache
    (2M x 50 float32: 0.034 s against 0.046-0.054 s for two whole passes)."""
    if data.size <= _EXTREMES_BLOCK or not (
        data.flags.c_contiguous or data.flags.f_contiguous
    ):
        return float(np.max(data)), float(np.min(data))
    flat = data.ravel(order="K")  # a view of contiguous memory
    n_blocks = -(-flat.size // _EXTREMES_BLOCK)
    high, low = np.empty(n_blocks, flat.dtype), np.empty(n_blocks, flat.dtype)
    for i in range(n_blocks):
        block = flat[i * _EXTREMES_BLOCK : (i + 1) * _EXTREMES_BLOCK]
        high[i], low[i] = block.max(), block.min()
    return float(np.max(high)), float(np.min(low))


def _check_magnitude_peak(peak: float, n_samples: int, name: str, dtype) -> None:
    """Raise when ``n_samples`` squares of magnitude ``peak`` overflow ``dtype``."""
    dtype = np.dtype(dtype)
    n = max(n_samples, 1)
    # sums of n squares stay finite below this bound
    limit = float(np.sqrt(np.finfo(dtype).max / n))
    if peak > limit:
        raise ValueError(
            f"{name} contains values too large to train on or predict from: the "
            f"largest magnitude is {peak:.3g}, and with {n_samples} samples of "
            f"dtype {dtype} sums of squares overflow beyond {limit:.3g}. Scale "
            f"the {'features (e.g. StandardScaler)' if name == 'X' else 'target'}."
        )


def has_callbacks(context) -> bool:
    """Whether a ``sklearn.callback`` context has callbacks to call (its own
    or propagated by a meta-estimator); True when that cannot be told."""
    return bool(getattr(context, "_callbacks", True))


def check_sample_weight(sample_weight, X, dtype) -> np.ndarray:
    """Validated sample weights: finite, non-negative, not all zero, of ``dtype``.

    Raises ``ValueError`` naming the problem before any training happens.
    Weights so large or so small that their sums or products with the loss
    would overflow or underflow are rescaled by a power of two (exact, and
    harmless: the objective is normalized by the sum of the weights).
    """
    if sample_weight is None and (type(X) is np.ndarray or sp.issparse(X)):
        # scikit-learn's answer, without its array-namespace dispatch
        return np.ones(X.shape[0], dtype=dtype)
    if sample_weight is not None and not np.isscalar(sample_weight):
        arr = np.asarray(sample_weight)
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"sample_weight must be numeric, got an array of dtype {arr.dtype}."
            )
        sample_weight = rescale_weights(arr, dtype)
    sw = _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if not sw.sum() > 0:
        raise ValueError("sample_weight must not be all zero: nothing to fit.")
    return sw


def rescale_weights(w: np.ndarray, dtype) -> np.ndarray:
    """``w`` times a power of two (exact) that brings its largest entry near 1
    when it lies outside the square root of the range of ``dtype``; only the
    ratios of weights matter."""
    if w.dtype.kind != "f" or w.size == 0 or not np.all(np.isfinite(w)):
        return w
    shift = rescale_shift(float(np.max(np.abs(w))), dtype)
    return np.ldexp(w, shift) if shift else w


def rescale_shift(peak: float, dtype) -> int:
    """The power of two :func:`rescale_weights` multiplies weights of
    largest magnitude ``peak`` by (0: they are left as they are)."""
    info = np.finfo(dtype)
    if peak == 0 or np.sqrt(float(info.tiny)) <= peak <= np.sqrt(float(info.max)):
        return 0
    return -int(np.frexp(peak)[1])
