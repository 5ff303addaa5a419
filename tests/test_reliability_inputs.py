"""Reliability of input validation, for both estimators and every solver.

Every bad input raises the documented exception, with a message that names the
problem, before any training happens; a previously fitted estimator is left
exactly as it was and a fresh one stays unfitted. The caller's arrays are
never written to, and read-only memory-mapped input is accepted.
"""

import copy
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _reliability import assert_same_state, flat_params
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_array, check_is_fitted

from skgd import GDMLPClassifier, GDRegressor
from skgd._base import BaseGD
from skgd._optimizers import SOLVERS
from skgd._validation import _extremes, validate_data

N, P = 40, 3
KINDS = ("regressor", "classifier")


def _data(kind, n=N, p=P, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    if kind == "regressor":
        y = X @ np.arange(1.0, p + 1) + 0.5
    else:
        y = np.digitize(X[:, 0], [-0.4, 0.4])  # three classes
    return X, y


def _make(kind, solver, **params):
    params = {"solver": solver, "max_iter": 3, "random_state": 0, **params}
    if kind == "regressor":
        return GDRegressor(**params)
    params.setdefault("learning_rate_init", 0.01)
    return GDMLPClassifier((4,), **params)


def _quiet_fit(est, X, y, sample_weight=None):
    # max_iter is tiny on purpose: the convergence warning is expected noise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, sample_weight=sample_weight)


def _fitted(kind, solver):
    X, y = _data(kind)
    return _quiet_fit(_make(kind, solver), X, y)


def _no_train(*args, **kwargs):
    raise AssertionError("training started before the input was rejected")


@pytest.fixture
def no_training(monkeypatch):
    """Fail loudly if a training loop starts: validation must come first."""
    monkeypatch.setattr(BaseGD, "_train", _no_train)


def _bad_cases(kind):
    """name -> (call(est, X, y, sw), exception type, message fragment)."""
    X, y = _data(kind)
    sw = np.ones(N)

    def with_value(a, value, where=(0, 0)):
        a = np.array(a, dtype=float)
        a[where if a.ndim == 2 else where[0]] = value
        return a

    object_X = X.astype(object)
    object_X[0, 0] = {"not": "a number"}
    none_X = X.astype(object)
    none_X[0, 1] = None
    cases = {
        "X_nan": (lambda e: e.fit(with_value(X, np.nan), y), ValueError, "NaN"),
        "X_inf": (lambda e: e.fit(with_value(X, np.inf), y), ValueError, "infinity"),
        "X_neginf": (
            lambda e: e.fit(with_value(X, -np.inf), y),
            ValueError,
            "infinity",
        ),
        "y_nan": (
            lambda e: e.fit(X, with_value(y, np.nan)),
            ValueError,
            "y contains NaN",
        ),
        "y_inf": (lambda e: e.fit(X, with_value(y, np.inf)), ValueError, "infinity"),
        "sw_nan": (
            lambda e: e.fit(X, y, sample_weight=with_value(sw, np.nan)),
            ValueError,
            "sample_weight contains NaN",
        ),
        "sw_inf": (
            lambda e: e.fit(X, y, sample_weight=with_value(sw, np.inf)),
            ValueError,
            "sample_weight contains infinity",
        ),
        "X_empty": (lambda e: e.fit(X[:0], y[:0]), ValueError, "0 sample(s)"),
        "X_no_features": (lambda e: e.fit(X[:, :0], y), ValueError, "0 feature(s)"),
        "X_1d": (lambda e: e.fit(X[:, 0], y), ValueError, "Expected 2D array"),
        "X_3d": (lambda e: e.fit(X[:, :, None], y), ValueError, "dim 3"),
        "len_X_y": (
            lambda e: e.fit(X, y[:-1]),
            ValueError,
            "inconsistent numbers of samples",
        ),
        "len_X_sw": (
            lambda e: e.fit(X, y, sample_weight=sw[:-1]),
            ValueError,
            "sample_weight.shape == (39,)",
        ),
        "sw_too_long": (
            lambda e: e.fit(X, y, sample_weight=np.ones(N + 1)),
            ValueError,
            "sample_weight.shape == (41,)",
        ),
        "sw_2d": (
            lambda e: e.fit(X, y, sample_weight=np.ones((N, 1))),
            ValueError,
            "1D array or scalar",
        ),
        "X_strings": (
            lambda e: e.fit(np.full((N, P), "abc"), y),
            ValueError,
            "X contains non-numeric values: could not convert string to float",
        ),
        "X_complex": (
            lambda e: e.fit(X + 1j, y),
            ValueError,
            "X contains complex numbers",
        ),
        "X_object_dict": (
            lambda e: e.fit(object_X, y),
            TypeError,
            "X contains non-numeric values: float() argument must be",
        ),
        "X_object_none": (lambda e: e.fit(none_X, y), ValueError, "NaN"),
        "y_complex": (
            lambda e: e.fit(X, y + 1j),
            ValueError,
            "y contains complex numbers",
        ),
        "sw_negative": (
            lambda e: e.fit(X, y, sample_weight=with_value(sw, -1.0)),
            ValueError,
            "Negative values",
        ),
        "sw_all_zero": (
            lambda e: e.fit(X, y, sample_weight=np.zeros(N)),
            ValueError,
            "non-zero",
        ),
        "sw_strings": (
            lambda e: e.fit(X, y, sample_weight=np.full(N, "a")),
            ValueError,
            "sample_weight must be numeric",
        ),
        "sw_complex": (
            lambda e: e.fit(X, y, sample_weight=sw + 1j),
            ValueError,
            "sample_weight must be numeric",
        ),
        # finite, but squares overflow float64: rejected, not a LinAlgError
        "X_huge_finite": (
            lambda e: e.fit(X * 1e200, y),
            ValueError,
            "X contains values too large to train on",
        ),
        "X_huge_finite_float32": (
            lambda e: e.fit((X * 1e30).astype(np.float32), y),
            ValueError,
            "X contains values too large to train on",
        ),
        "partial_fit_X_nan": (
            lambda e: _partial_fit(e, with_value(X, np.nan), y),
            ValueError,
            "NaN",
        ),
        "partial_fit_sw_negative": (
            lambda e: _partial_fit(e, X, y, sample_weight=with_value(sw, -1.0)),
            ValueError,
            "Negative values",
        ),
    }
    if kind == "classifier":
        cont = X @ np.arange(1.0, P + 1) + 0.5
        cases["y_continuous"] = (
            lambda e: e.fit(X, cont),
            ValueError,
            "Unknown label type: continuous",
        )
        cases["y_single_class"] = (
            lambda e: e.fit(X, np.zeros(N, dtype=int)),
            ValueError,
            "only one class",
        )
        cases["y_single_class_str"] = (
            lambda e: e.fit(X, np.full(N, "cat")),
            ValueError,
            "only one class",
        )
    else:
        cases["y_huge_finite"] = (
            lambda e: e.fit(X, y * 1e160),
            ValueError,
            "y contains values too large to train on",
        )
        # y is cast to the dtype of X for training: checked in that dtype
        cases["y_huge_for_float32_X"] = (
            lambda e: e.fit(X.astype(np.float32), y * 1e20),
            ValueError,
            "samples of dtype float32 sums of squares overflow",
        )
        cases["y_strings"] = (
            lambda e: e.fit(X, np.full(N, "abc")),
            ValueError,
            "y contains non-numeric values: could not convert string to float",
        )
    return cases


def _partial_fit(est, X, y, sample_weight=None):
    if isinstance(est, GDMLPClassifier) and not hasattr(est, "classes_"):
        return est.partial_fit(X, y, classes=np.unique(y), sample_weight=sample_weight)
    return est.partial_fit(X, y, sample_weight=sample_weight)


def _case_ids(kind):
    return [(kind, name) for name in _bad_cases(kind)]


CASES = _case_ids("regressor") + _case_ids("classifier")


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(("kind", "case"), CASES, ids=[f"{k}-{c}" for k, c in CASES])
def test_bad_input_rejected_before_training(kind, case, solver, no_training):
    call, exc, fragment = _bad_cases(kind)[case]

    fresh = _make(kind, solver)
    before_fresh = copy.deepcopy(vars(fresh))
    with pytest.raises(exc, match=_literal(fragment)):
        call(fresh)
    assert_same_state(before_fresh, vars(fresh))
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(("kind", "case"), CASES, ids=[f"{k}-{c}" for k, c in CASES])
def test_bad_input_leaves_fitted_estimator_unchanged(kind, case, solver, monkeypatch):
    call, exc, fragment = _bad_cases(kind)[case]
    est = _fitted(kind, solver)
    before = copy.deepcopy(vars(est))
    X, _ = _data(kind)
    pred = est.predict(X)

    monkeypatch.setattr(BaseGD, "_train", _no_train)
    with pytest.raises(exc, match=_literal(fragment)):
        call(est)
    assert_same_state(before, vars(est))
    np.testing.assert_array_equal(est.predict(X), pred)


def _literal(fragment):
    return re.escape(fragment)


FEATURE_COUNT_CALLS = [
    (kind, method)
    for kind in KINDS
    for method in (
        "predict",
        "partial_fit",
        "score",
        "predict_proba",
        "predict_log_proba",
    )
    if kind == "classifier" or not method.startswith("predict_")
]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(("kind", "method"), FEATURE_COUNT_CALLS)
def test_wrong_feature_count_after_fit(kind, solver, method, monkeypatch):
    X, y = _data(kind)
    est = _fitted(kind, solver)
    before = copy.deepcopy(vars(est))
    monkeypatch.setattr(BaseGD, "_train", _no_train)
    call = {
        "predict": lambda: est.predict(X[:, :2]),
        "partial_fit": lambda: est.partial_fit(X[:, :2], y),
        "score": lambda: est.score(np.hstack([X, X]), y),
        "predict_proba": lambda: est.predict_proba(X[:, :1]),
        "predict_log_proba": lambda: est.predict_log_proba(X[:, :1]),
    }[method]
    with pytest.raises(ValueError, match=r"features, but \w+ is expecting 3 features"):
        call()
    assert_same_state(before, vars(est))


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_predict_before_fit(kind, solver):
    X, _ = _data(kind)
    est = _make(kind, solver)
    before = copy.deepcopy(vars(est))
    methods = ["predict", "score"]
    if kind == "classifier":
        methods += ["predict_proba", "predict_log_proba"]
    for method in methods:
        args = (X,) if method != "score" else (X, _data(kind)[1])
        with pytest.raises(NotFittedError, match="is not fitted yet"):
            getattr(est, method)(*args)
    assert_same_state(before, vars(est))


@pytest.mark.parametrize("solver", SOLVERS)
def test_classifier_partial_fit_needs_classes(solver, no_training):
    X, y = _data("classifier")
    est = _make("classifier", solver)
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


# ------------------------------------------------------- caller's arrays


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layout", ["float64-C", "float32-F", "float64-2d-y", "int-X"])
def test_caller_arrays_never_modified(kind, solver, layout):
    X, y = _data(kind)
    sw = np.random.RandomState(1).uniform(0.5, 2.0, N)
    if layout == "float32-F":
        X, sw = np.asfortranarray(X, dtype=np.float32), sw.astype(np.float32)
    elif layout == "float64-2d-y" and kind == "regressor":
        y = np.column_stack([y, -y])
    elif layout == "int-X":
        X = np.round(X * 10).astype(np.int64)
    originals = [a.copy() for a in (X, y, sw)]
    flags = [a.flags.c_contiguous for a in (X, y, sw)]

    est = _make(kind, solver, warm_start=True)
    _quiet_fit(est, X, y, sample_weight=sw)
    _quiet_fit(est, X, y, sample_weight=sw)  # warm-started continuation
    _partial_fit(est, X, y, sample_weight=sw)
    est.predict(X)
    est.score(X, y, sample_weight=sw)
    if kind == "classifier":
        est.predict_proba(X)
        est.predict_log_proba(X)
    fresh = _make(kind, solver)
    _partial_fit(fresh, X, y, sample_weight=sw)

    for a, orig, c in zip((X, y, sw), originals, flags, strict=True):
        assert a.dtype == orig.dtype
        assert a.flags.c_contiguous == c
        np.testing.assert_array_equal(a, orig)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_caller_arrays_never_modified_class_weight_and_early_stopping(kind, solver):
    X, y = _data(kind)
    sw = np.random.RandomState(1).uniform(0.5, 2.0, N)
    originals = [a.copy() for a in (X, y, sw)]
    params = {"early_stopping": True, "validation_fraction": 0.25}
    if kind == "classifier":
        params["class_weight"] = "balanced"
    est = _make(kind, solver, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, sample_weight=sw)
    for a, orig in zip((X, y, sw), originals, strict=True):
        np.testing.assert_array_equal(a, orig)


# ------------------------------------------------ read-only memmap input


def _memmap(tmp_path, name, array):
    path = tmp_path / f"{name}.dat"
    writable = np.memmap(path, dtype=array.dtype, mode="w+", shape=array.shape)
    writable[...] = array
    writable.flush()
    del writable
    return np.memmap(path, dtype=array.dtype, mode="r", shape=array.shape)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_read_only_memmap_input(kind, solver, tmp_path):
    X, y = _data(kind)
    sw = np.random.RandomState(1).uniform(0.5, 2.0, N)
    Xm, ym, swm = (
        _memmap(tmp_path, name, a) for name, a in (("X", X), ("y", y), ("sw", sw))
    )
    for a in (Xm, ym, swm):
        assert not a.flags.writeable

    est = _quiet_fit(_make(kind, solver), Xm, ym, sample_weight=swm)
    ref = _quiet_fit(_make(kind, solver), X, y, sample_weight=sw)
    np.testing.assert_array_equal(est.predict(Xm), ref.predict(X))

    est.partial_fit(Xm, ym, sample_weight=swm)
    ref.partial_fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(est.predict(Xm), ref.predict(X))

    fresh = _make(kind, solver)
    _partial_fit(fresh, Xm, ym, sample_weight=swm)
    assert np.all(np.isfinite(fresh.predict(Xm)))
    if kind == "classifier":
        proba = est.predict_proba(Xm)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)

    for a, orig in zip((Xm, ym, swm), (X, y, sw), strict=True):
        np.testing.assert_array_equal(a, orig)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("what", ["X", "y"])
@pytest.mark.parametrize("scale", [1e100, 1e150])
def test_large_finite_values_below_the_limit_never_crash_in_numpy(what, scale, solver):
    """Just below the rejection bound: a fit, or the divergence ValueError."""
    X, y = _data("regressor")
    if what == "X":
        X = X * scale
    else:
        y = y * scale
    est = _make("regressor", solver, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        with np.errstate(over="warn", invalid="warn", divide="warn"):
            try:
                est.fit(X, y)
            except ValueError as exc:
                assert "diverged in epoch" in str(exc)
                return
    assert np.all(np.isfinite(est.coef_)) and np.isfinite(est.intercept_)
    assert np.all(np.isfinite(est.predict(X)))


BAD_PARAMETERS = {
    "class_weight_negative": ({"class_weight": {0: -0.1, 1: 1.0}}, "{0: -0.1}"),
    "class_weight_inf": ({"class_weight": {1: np.inf}}, "{1: inf}"),
    "class_weight_nan": ({"class_weight": {2: np.nan}}, "{2: nan}"),
    "hidden_fractional": ({"hidden_layer_sizes": [3.5]}, "got [3.5]"),
    "hidden_2d": ({"hidden_layer_sizes": [[3, 4]]}, "got [[3, 4]]"),
    "hidden_zero": ({"hidden_layer_sizes": (4, 0)}, "got (4, 0)"),
}


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", BAD_PARAMETERS)
def test_bad_classifier_parameters_rejected_before_training(case, solver, monkeypatch):
    """Regression: a negative class weight was accepted (a loss unbounded
    below), a fractional layer size silently truncated, a 2-D one a TypeError
    deep in the comparison of lists."""
    params, fragment = BAD_PARAMETERS[case]
    what = "class_weight" if "class_weight" in params else "hidden_layer_sizes"
    X, y = _data("classifier")
    fitted = _fitted("classifier", solver)
    before = copy.deepcopy(vars(fitted))
    monkeypatch.setattr(BaseGD, "_train", _no_train)
    for est in (_make("classifier", solver), fitted):
        with pytest.raises(ValueError, match=f"{what} must .*{re.escape(fragment)}"):
            est.set_params(**params).fit(X, y)
    after = vars(fitted)
    assert_same_state(
        {k: v for k, v in before.items() if k != what},
        {k: v for k, v in after.items() if k != what},
    )


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_predicting_from_values_too_large_is_a_value_error(kind, solver):
    """Regression: predict on finite X of 1e308 returned NaN or inf with
    RuntimeWarnings; it gets the same magnitude check as fit."""
    X, _ = _data(kind)
    est = _fitted(kind, solver)
    methods = ["predict"] + (
        ["predict_proba", "predict_log_proba"] * (kind != "regressor")
    )
    for method in methods:
        for bad in (np.full((1, P), 1e308), X * 1e200):
            with pytest.raises(ValueError, match="X contains values too large"):
                getattr(est, method)(bad)


@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scale", [1e-300, 1e39, 1e300, 1e307])
def test_only_the_ratios_of_sample_weights_matter(kind, solver, scale):
    """Regression: weights of 1e308 crashed in eigvalsh (LinAlgError), those
    of 1e305 overflowed into a misleading 'diverged'. Weights are rescaled by
    a power of two, so any scale gives the model of weights near 1."""
    X, y = _data(kind)
    sw = np.ones(N)
    sw[:10] = 3.0
    ref = _quiet_fit(_make(kind, solver), X, y, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scaled = _quiet_fit(_make(kind, solver), X, y, sample_weight=sw * scale)
    a = flat_params(scaled)
    np.testing.assert_allclose(
        a, flat_params(ref), rtol=1e-9, atol=1e-12 * np.abs(a).max()
    )


class _ThroughPartialFit:
    """Routes a bad case's ``fit`` call to ``partial_fit``."""

    def __init__(self, est):
        self.est = est

    def fit(self, X, y, sample_weight=None):
        return _partial_fit(self.est, X, y, sample_weight=sample_weight)


# the fit cases, each also sent to a first and a later partial_fit call; on a
# classifier that knows its classes, one class in a later chunk is legitimate
PARTIAL_FIT_CASES = [
    (kind, case, fitted)
    for kind, case in CASES
    if not case.startswith("partial_fit_")
    for fitted in (False, True)
    if not (fitted and case.startswith("y_single_class"))
]


@pytest.mark.parametrize(
    ("kind", "case", "fitted"),
    PARTIAL_FIT_CASES,
    ids=[f"{k}-{c}-{'later' if f else 'first'}" for k, c, f in PARTIAL_FIT_CASES],
)
def test_bad_input_to_partial_fit_rejected_before_training(
    kind, case, fitted, monkeypatch
):
    call, exc, fragment = _bad_cases(kind)[case]
    est = _fitted(kind, "sgd") if fitted else _make(kind, "sgd")
    before = copy.deepcopy(vars(est))
    monkeypatch.setattr(BaseGD, "_train", _no_train)
    with pytest.raises(exc, match=_literal(fragment)):
        call(_ThroughPartialFit(est))
    assert_same_state(before, vars(est))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [1e-50, 1e39, 1e300])
def test_only_the_ratios_of_class_weights_matter(scale, dtype):
    """Regression: class weights were multiplied in after the sample weights
    were rescaled: 1e39 overflowed float32 (RuntimeWarnings, then a misleading
    'diverged'), 1e-50 underflowed to 'every sample weight 0'."""
    X, y = _data("classifier")
    X = X.astype(dtype)
    make = dict(solver="sgd", max_iter=5, random_state=0, learning_rate_init=0.01)
    ref_weights = {0: 1, 1: 3, 2: 2}
    ref = _quiet_fit(GDMLPClassifier((4,), class_weight=ref_weights, **make), X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        weights = {k: w * scale for k, w in ref_weights.items()}
        est = _quiet_fit(GDMLPClassifier((4,), class_weight=weights, **make), X, y)
    a = flat_params(est)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(
        a, flat_params(ref), rtol=rtol, atol=rtol * np.abs(a).max()
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("layout", ["float64", "float32", "csr"])
def test_non_finite_X_gets_scikit_learns_message_at_every_entry(kind, value, layout):
    # the finiteness of X is read from the magnitude check's minimum and
    # maximum, not from scikit-learn's own pass: the message must not change
    X, y = _data(kind)
    bad = X.copy()
    bad[5, 1] = value
    if layout == "float32":
        X, bad = X.astype(np.float32), bad.astype(np.float32)
    elif layout == "csr":
        X, bad = sp.csr_matrix(X), sp.csr_matrix(bad)
    est = _make(kind, "sgd")
    with pytest.raises(ValueError) as expected:
        check_array(bad, accept_sparse="csr", estimator=est, input_name="X")
    message = re.escape(str(expected.value))
    with pytest.raises(ValueError, match=message):
        _quiet_fit(clone(est), bad, y)
    fitted = _quiet_fit(clone(est), X, y)
    with pytest.raises(ValueError, match=message):
        fitted.predict(bad)
    with pytest.raises(ValueError, match=message):
        fitted.partial_fit(bad, y)
    # and still reject it when scikit-learn's check is asked for explicitly
    with pytest.raises(ValueError, match=message):
        validate_data(clone(est), bad, y, accept_sparse="csr", ensure_all_finite=True)


@pytest.mark.parametrize("layout", ["C", "F", "strided", "small"])
@pytest.mark.parametrize("where", [None, 0, 70_000, -1])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e30])
def test_extremes_of_the_magnitude_check_match_numpys(layout, where, value):
    # taken block by block: a NaN or an extreme value in any block, the
    # first, one in the middle or the short last one, must surface
    rng = np.random.RandomState(0)
    X = rng.standard_normal((3_001, 50)).astype(np.float32)
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "small":
        X = X[:20]
    if where is not None:
        flat = X.reshape(-1, order="F" if layout == "F" else "C")  # a view
        flat[min(where, X.size - 1)] = value
    if layout == "strided":
        X = X[:, ::2]
    high, low = _extremes(X)
    np.testing.assert_equal([high, low], [np.max(X), np.min(X)])
