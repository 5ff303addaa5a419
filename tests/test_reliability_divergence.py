"""Reliability of the divergence guard, for both estimators and every solver.

A run that blows up raises one ValueError that names the epoch and the
remedies; it is detected from the objective, not only from NaN; numpy's
floating-point warnings never reach the user; a diverging candidate in a grid
search scores nan and never wins; probabilities stay finite for huge logits.
"""

import copy
import re
import sys
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from _reliability import assert_same_state
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning, NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.utils.validation import check_is_fitted

from skgd import GDMLPClassifier, GDRegressor
from skgd._data import ArrayRows
from skgd._losses import (
    LOG_OUTPUT_ACTIVATIONS,
    OUTPUT_ACTIVATIONS,
    binary_log_loss,
    log_loss,
)
from skgd._models import LinearModel
from skgd._optimizers import SOLVERS

N, P = 40, 3
KINDS = ("regressor", "classifier")
_EPOCH = re.compile(r"diverged in epoch (\d+)")


def _data(kind, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(N, P)
    if kind == "regressor":
        return X, X @ np.array([1.0, 2.0, 3.0]) + 0.5
    return X, np.digitize(X[:, 0], [-0.4, 0.4])  # three classes


def _make(kind, solver, **params):
    params = {"solver": solver, "max_iter": 20, "random_state": 0, **params}
    if kind == "regressor":
        return GDRegressor(**params)
    params.setdefault("learning_rate_init", 0.01)
    return GDMLPClassifier((4,), **params)


@contextmanager
def _strict_numpy():
    """Turn every numpy floating-point event into an error the test would see.

    The estimator may silence numpy internally; whatever it lets through
    becomes a RuntimeWarning, and that warning becomes an exception.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(all="warn"):
            yield


def _assert_divergence_message(message):
    assert _EPOCH.search(message), message
    assert "StandardScaler" in message and "Scale the features" in message
    assert "learning_rate_init" in message
    assert "clip_norm" in message


# a rate far beyond any stable step: every solver blows up within two epochs
_HUGE_LR = 1e6


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_divergence_raises_named_error(kind, solver):
    X, y = _data(kind)
    if kind == "regressor":
        X = X * 1e3  # unscaled features, as in the message's advice
    est = _make(kind, solver, learning_rate_init=_HUGE_LR)
    with _strict_numpy():
        with pytest.raises(ValueError, match="diverged in epoch") as info:
            est.fit(X, y)
    _assert_divergence_message(str(info.value))
    assert int(_EPOCH.search(str(info.value)).group(1)) <= est.max_iter
    # the failed fit leaves the fresh estimator unfitted
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_divergence_leaves_fitted_estimator_unchanged(kind, solver):
    X, y = _data(kind)
    est = _make(kind, solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    pred = est.predict(X)
    est.set_params(learning_rate_init=_HUGE_LR)
    before = copy.deepcopy(vars(est))
    with _strict_numpy():
        with pytest.raises(ValueError, match="diverged in epoch") as info:
            est.fit(X * 1e3 if kind == "regressor" else X, y)
    _assert_divergence_message(str(info.value))
    assert_same_state(before, vars(est))
    np.testing.assert_array_equal(est.predict(X), pred)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_divergence_of_warm_started_fit(kind, solver):
    X, y = _data(kind)
    # two epochs: not yet converged, so the huge rate meets a real gradient
    # (whitened, 'gd' lands on these noiseless data at once: the diagonal
    # preconditioner keeps it descending)
    extra = (
        {"precondition": "diagonal"} if (kind, solver) == ("regressor", "gd") else {}
    )
    est = _make(kind, solver, warm_start=True, max_iter=2, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    n_iter = est.n_iter_
    # a warm start continues the epoch count: the message names the new epoch
    est.set_params(learning_rate_init=_HUGE_LR)
    with _strict_numpy():
        with pytest.raises(ValueError, match="diverged in epoch") as info:
            est.fit(X, y)
    _assert_divergence_message(str(info.value))
    assert int(_EPOCH.search(str(info.value)).group(1)) > n_iter
    assert est.n_iter_ == n_iter


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_warm_start_with_huge_rate_never_returns_a_ruined_model(kind, solver):
    """Warm-starting a converged fit with a far too large rate.

    Either the fit raises, or the model it returns is no worse than the one
    it started from: a silent step into a model worse than predicting the
    mean (regressor) is the failure this test guards against.
    """
    X, y = _data(kind)
    est = _make(kind, solver, warm_start=True, max_iter=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    before = est.score(X, y)
    est.set_params(learning_rate_init=_HUGE_LR)
    try:
        with _strict_numpy(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
    except ValueError as exc:
        _assert_divergence_message(str(exc))
        assert est.score(X, y) == before  # the failed fit changed nothing
    else:
        assert est.score(X, y) >= before - 0.05, (before, est.score(X, y))


def _lipschitz(X):
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    return float(np.linalg.eigvalsh(Xa.T @ Xa / X.shape[0]).max())


def test_plain_gradient_descent_divergence_detected_from_objective():
    """Step 2.1 / L: the error grows by 1.1 per step, finite for ~7000 steps."""
    X, y = _data("regressor")
    L = _lipschitz(X)
    params = dict(
        solver="gd", momentum=0, precondition=False, learning_rate_init=2.1 / L
    )
    max_iter = 2000
    est = GDRegressor(max_iter=max_iter, **params)
    with _strict_numpy():
        with pytest.raises(ValueError, match="diverged in epoch") as info:
            est.fit(X, y)
    message = str(info.value)
    _assert_divergence_message(message)
    assert "reached" in message  # the objective grew; nothing was non-finite
    epoch = int(_EPOCH.search(message).group(1))
    assert epoch < max_iter / 10, message

    # until shortly before, every weight and objective is finite: a check for
    # NaN or infinity alone would not have fired (epoch - 2 epochs: the
    # objective at the end of epoch k is the one checked early in epoch k + 1)
    if epoch > 2:
        short = GDRegressor(max_iter=epoch - 2, **params)
        with _strict_numpy(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            short.fit(X, y)
        assert np.all(np.isfinite(short.coef_)) and np.isfinite(short.intercept_)
        assert np.all(np.isfinite(short.loss_curve_))
        # the objective was already growing geometrically
        assert short.loss_curve_[-1] > 10 * short.loss_curve_[0]


def test_plain_gradient_descent_below_two_over_l_converges():
    """The control: 1.9 / L is stable, so the guard must not fire."""
    X, y = _data("regressor")
    L = _lipschitz(X)
    est = GDRegressor(
        solver="gd",
        momentum=0,
        precondition=False,
        learning_rate_init=1.9 / L,
        max_iter=2000,
        tol=1e-8,
    )
    with _strict_numpy():
        est.fit(X, y)
    np.testing.assert_allclose(est.coef_, [1.0, 2.0, 3.0], atol=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_grid_search_diverging_candidate_scores_nan(kind, solver):
    X, y = _data(kind)
    good = "auto" if kind == "regressor" else 0.01
    est = _make(kind, solver, max_iter=10)
    search = GridSearchCV(
        est,
        {"learning_rate_init": [_HUGE_LR, good]},
        cv=3,
        error_score=np.nan,
    )
    fit_X = X * 1e3 if kind == "regressor" else X
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="warn"):
            search.fit(fit_X, y)
    categories = {w.category for w in caught}
    assert FitFailedWarning in categories
    # numpy's floating-point warnings are plain RuntimeWarnings (sklearn's
    # FitFailedWarning subclasses RuntimeWarning, hence the exact check)
    assert RuntimeWarning not in categories, [str(w.message) for w in caught]
    failed = [str(w.message) for w in caught if w.category is FitFailedWarning]
    assert any("diverged in epoch" in m for m in failed)

    res = search.cv_results_
    bad = list(res["param_learning_rate_init"]).index(_HUGE_LR)
    ok = 1 - bad
    assert np.isnan(res["mean_test_score"][bad])
    for k in range(3):
        assert np.isnan(res[f"split{k}_test_score"][bad])
    assert np.isfinite(res["mean_test_score"][ok])
    assert res["rank_test_score"][ok] == 1
    assert search.best_params_ == {"learning_rate_init": good}
    assert np.all(np.isfinite(search.best_estimator_.predict(fit_X)))


# ------------------------------------------------------ huge logits


@pytest.mark.parametrize("logit", [1e4, -1e4, 1e300])
def test_losses_finite_for_huge_logits(logit):
    raw = np.array([[logit, -logit, 0.0], [-logit, logit, 0.0], [0.0, 0.0, logit]])
    Y = np.eye(3)[[0, 0, 1]]
    sw = np.ones(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            value, grad = log_loss(raw.copy(), Y, sw)
            bvalue, bgrad = binary_log_loss(raw.copy(), Y, sw)
            proba = OUTPUT_ACTIVATIONS["softmax"](raw)
            log_proba = LOG_OUTPUT_ACTIVATIONS["softmax"](raw)
            sig = OUTPUT_ACTIVATIONS["logistic"](raw)
            log_sig = LOG_OUTPUT_ACTIVATIONS["logistic"](raw)
    for a in (value, grad, bvalue, bgrad, proba, log_proba, sig, log_sig):
        assert np.all(np.isfinite(a))
    assert value >= 0 and bvalue >= 0
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(log_proba <= 0) and np.all(log_sig <= 0)
    # the exact values: a confidently wrong logit costs about |logit|
    scale = abs(logit)
    if scale == 1e4:
        per_row = [log_loss(raw[i : i + 1], Y[i : i + 1], sw[:1])[0] for i in range(3)]
        expected = [0.0, 2e4] if logit > 0 else [2e4, 0.0]
        np.testing.assert_allclose(per_row[:2], expected, atol=1e-6)
    # the gradient of a weighted mean loss is bounded by the weights
    assert np.all(np.abs(grad) <= 1.0 + 1e-12)
    assert np.all(np.abs(bgrad) <= 1.0 + 1e-12)


@pytest.mark.parametrize("scale", [1e3, 1e5, 1e8])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_proba_finite_for_scaled_weights(n_classes, scale):
    X, _ = _data("classifier")
    y = (X[:, 0] > 0).astype(int) if n_classes == 2 else _data("classifier")[1]
    clf = GDMLPClassifier((4,), max_iter=30, random_state=0, learning_rate_init=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    labels = clf.predict(X)
    clf.coefs_[-1] = clf.coefs_[-1] * scale
    clf.intercepts_[-1] = clf.intercepts_[-1] * scale
    raw = clf._raw(X)
    assert np.abs(raw).max() >= 1e3  # the logits really are huge
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            proba = clf.predict_proba(X)
            log_proba = clf.predict_log_proba(X)
            pred = clf.predict(X)
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(log_proba <= 0)
    # log_proba is the log of proba wherever proba is representable
    mask = proba > 1e-300
    np.testing.assert_allclose(
        log_proba[mask], np.log(proba[mask]), rtol=1e-10, atol=1e-15
    )
    # a positive scaling of the last layer never changes the argmax
    np.testing.assert_array_equal(pred, labels)
    np.testing.assert_array_equal(clf.classes_[np.argmax(log_proba, axis=1)], pred)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("target_scale", [1e4, 1e8])
def test_regressor_auto_rate_never_diverges_with_the_target_scale(solver, target_scale):
    """The default ('auto') rate follows the scale of y: no unit makes it blow up.

    A divergence here would also carry wrong advice: the message tells the
    user to scale the features, which are already standardized.
    """
    X, y = _data("regressor")
    est = GDRegressor(solver=solver, max_iter=100, random_state=0)
    with _strict_numpy(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y * target_scale)
    assert np.all(np.isfinite(est.coef_))
    assert np.all(np.isfinite(est.predict(X)))


# ------------------------------------------- worse than the majority class
def _unscaled_binary():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] + 0.5 * rng.standard_normal(60) > 0.3).astype(int)
    return X, y  # 32 of 60 rows are class 0: majority 0.5333


def test_classifier_worse_than_majority_warns_with_both_numbers():
    """Regression: on features scaled by 1e3, 5 epochs at a rate of 1e-4 gave
    a training accuracy of 0.35 against a majority share of 0.533, and the only
    signal was the max_iter warning."""
    X, y = _unscaled_binary()
    X = X * 1e3
    clf = GDMLPClassifier(
        (4,), solver="adam", learning_rate_init=1e-4, max_iter=5, random_state=4
    )
    with pytest.warns(ConvergenceWarning) as record:
        clf.fit(X, y)
    messages = [str(w.message) for w in record if "constant" in str(w.message)]
    assert len(messages) == 1
    assert (
        "after 5 epochs the training accuracy 0.35 is below the 0.5333 of "
        "always predicting the most frequent class: the model is worse than a "
        "constant" in messages[0]
    )
    for hint in ("StandardScaler", "the rate was 0.0001", "max_iter"):
        assert hint in messages[0]
    assert clf.score(X, y) == pytest.approx(0.35)


def _constant_warnings(fit):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fit()
    return [w for w in record if "worse than a constant" in str(w.message)]


def test_classifier_majority_check_silent_on_a_sound_fit():
    X, y = _unscaled_binary()
    clf = GDMLPClassifier((4,), learning_rate_init=0.01, random_state=3)
    assert _constant_warnings(lambda: clf.fit(X, y)) == []
    assert clf.score(X, y) > 0.85


def test_classifier_majority_check_uses_the_class_weights():
    # 'balanced' trades accuracy for the rare class on purpose: under the
    # training weights the majority share is 1/2, and that is the baseline
    rng = np.random.RandomState(0)
    X = rng.standard_normal((400, 2))
    y = (X[:, 0] + rng.standard_normal(400) > 2.0).astype(int)
    majority = 1 - y.mean()
    clf = GDMLPClassifier((8,), class_weight="balanced", random_state=0)
    assert _constant_warnings(lambda: clf.fit(X, y)) == []
    assert clf.score(X, y) < majority  # below the unweighted share, no alarm
    recall = clf.predict(X[y == 1]).mean()
    assert recall > 0.5


def test_classifier_majority_check_runs_on_warm_started_fits():
    X, y = _unscaled_binary()
    clf = GDMLPClassifier(
        (4,), learning_rate_init=1e-4, max_iter=5, warm_start=True, random_state=4
    )
    assert len(_constant_warnings(lambda: clf.fit(X * 1e3, y))) == 1
    clf.set_params(max_iter=1)
    assert len(_constant_warnings(lambda: clf.fit(X * 1e3, y))) == 1
    assert clf.n_iter_ == 6
    sound = GDMLPClassifier(
        (4,), learning_rate_init=0.01, warm_start=True, random_state=3
    )
    for _ in range(2):
        assert _constant_warnings(lambda: sound.fit(X, y)) == []
        assert sound.score(X, y) > 0.85


def test_classifier_majority_check_not_run_by_partial_fit():
    X, y = _unscaled_binary()
    clf = GDMLPClassifier((4,), solver="adam", learning_rate_init=1e-4, random_state=4)
    fit = lambda: clf.partial_fit(X * 1e3, y, classes=[0, 1])  # noqa: E731
    assert _constant_warnings(fit) == []
    assert clf.score(X * 1e3, y) < 0.5333  # the same poor start, by design


@pytest.mark.parametrize(
    "Y, sw, multilabel, expected",
    [
        # binary: one column of 0/1
        ([[0], [1], [1], [0], [1]], [1, 1, 1, 1, 1], False, 3 / 5),
        ([[0], [1], [1], [0], [1]], [4, 1, 1, 1, 1], False, 5 / 8),
        # multiclass, one-hot
        (
            [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]],
            [1, 2, 1, 0.5],
            False,
            2 / 4.5,
        ),
        # multilabel: the most frequent label set, not per-label majorities
        ([[1, 0], [1, 0], [0, 1], [1, 1]], [1, 1, 3, 1], True, 3 / 6),
    ],
)
def test_classifier_null_score_is_the_most_frequent_row(Y, sw, multilabel, expected):
    Y, sw = np.asarray(Y, float), np.asarray(sw, float)
    clf = GDMLPClassifier()
    clf.classes_ = np.arange(max(2, Y.shape[1]))
    clf._multilabel = multilabel
    null = clf._null_score(ArrayRows(np.empty((len(Y), 0)), Y, sw))
    assert null == pytest.approx(expected, rel=1e-15)


def test_warnings_point_at_the_callers_line():
    """Regression: every warning pointed into skgd/_base.py, whatever the depth
    of the training loop it came from, instead of at the user's call."""
    X, y = _unscaled_binary()
    y = np.r_[y[:-1], 2]  # a class of one row: the split cannot stratify it
    clf = GDMLPClassifier(
        (4,),
        learning_rate_init=1e-4,
        max_iter=5,
        early_stopping=True,
        batch_size=500,
        random_state=3,
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        clf.fit(X * 1e3, y)
    messages = " | ".join(str(w.message) for w in record)
    for fragment in ("[2] have", "batch_size=500", "max_iter=5", "a constant"):
        assert fragment in messages
    assert {(w.filename, w.lineno) for w in record} == {(__file__, line)}


# ---------------------------------------- regressor worse than the mean
def _linear_data(n=200):
    rng = np.random.RandomState(0)
    X = rng.randn(n, 3)
    return X, X @ np.array([1.0, 2.0, 3.0]) + 0.1 * rng.randn(n), rng


@pytest.mark.parametrize("solver", ["adam", "adamw"])
def test_warm_fit_that_wrecks_a_good_model_warns(solver):
    """Regression: warm-started fits skipped every final check; a converged
    regressor refitted with learning_rate_init=30 returned R² -7.2 silently."""
    X, y, _ = _linear_data()
    reg = GDRegressor(solver=solver, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    assert reg.score(X, y) > 0.9
    # (constant: the default schedule of the mini-batch solvers would cut
    # the rate until the fit recovered)
    reg.set_params(learning_rate_init=30, learning_rate="constant", max_iter=5)
    with pytest.warns(ConvergenceWarning) as record:
        reg.fit(X, y)
    r2 = reg.score(X, y)
    assert r2 < -1e-3
    expected = (
        f"the training R² is {r2:.4g}, below the 0 of always predicting the "
        "mean: the model is worse than a constant"
    )
    assert any(expected in str(w.message) for w in record)


def test_multioutput_target_worse_than_the_mean_is_named():
    """Regression: with targets 1e4 apart in scale, the summed objective fell
    while the small target's R² reached -3476; score() said -1738, silently."""
    X, y, rng = _linear_data()
    Y = np.column_stack([1e-4 * (X @ [1.0, 2.0, 3.0]) + 1e-5 * rng.randn(200), y])
    # in plain coordinates: preconditioned, every target has its own unit
    # (see test_defaults.py), and this fit lands
    reg = GDRegressor(
        solver="rmsprop", random_state=0, precondition=False, learning_rate="constant"
    )
    with pytest.warns(ConvergenceWarning, match=r"R² of target\(s\) \[0\] is -"):
        reg.fit(X, Y)
    per_target = r2_score(Y, reg.predict(X), multioutput="raw_values")
    assert per_target[0] < -1e-3 < 0.99 < per_target[1]


@pytest.mark.parametrize("solver", SOLVERS)
def test_regressor_constant_check_silent_on_sound_fits(solver):
    X, y, rng = _linear_data()
    Y = np.column_stack([y, -2 * y + rng.randn(200)])
    # Adadelta's default epsilon makes it slow on this scale (see its docs)
    extra = {"epsilon": 1e-4} if solver == "adadelta" else {}
    for target in (y, Y):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            reg = GDRegressor(solver=solver, random_state=0, **extra)
            reg.fit(X, target)
        assert not [w for w in record if "worse than a constant" in str(w.message)]
        assert reg.score(X, target) > 0.9


@pytest.mark.parametrize("seed", range(5))
def test_full_batch_partial_fit_on_a_stream_stays_sound(seed):
    """Regression: partial_fit with 'gd' kept the 'auto' rate 1/L of the first
    chunk; with momentum 0.9 a stream of 20-row chunks drove the training R²
    from 1.0 to -2626 silently before the guard fired. The rate is now
    resolved on each call's data."""
    rng = np.random.RandomState(seed)
    w = np.array([1.0, -2.0])
    reg = GDRegressor(solver="gd", random_state=0)
    rates = set()
    for _ in range(50):
        X = rng.randn(20, 2)
        reg.partial_fit(X, X @ w + 0.1 * rng.randn(20))
        rates.add(reg.learning_rate_init_)
    X_test = rng.randn(1000, 2)
    assert reg.score(X_test, X_test @ w) > 0.97
    assert len(rates) == 50  # one rate per chunk


def test_full_batch_partial_fit_resolves_the_rate_once_per_distinct_data(
    monkeypatch,
):
    """The curvature costs a Gram matrix: the same data again (the same
    fingerprint and parameters) reuses the rate; new data resolves it."""
    calls = []
    original = LinearModel.curvature

    def curvature(model, data, *args, **kwargs):
        calls.append(data.shape[0])
        return original(model, data, *args, **kwargs)

    monkeypatch.setattr(LinearModel, "curvature", curvature)
    X, y, _ = _linear_data()
    reg = GDRegressor(solver="gd", random_state=0)
    for _ in range(5):
        reg.partial_fit(X, y)
    assert len(calls) == 1
    reg.partial_fit(X[:100], y[:100])
    reg.set_params(alpha=0.5, penalty="l2")
    reg.partial_fit(X[:100], y[:100])
    assert len(calls) == 3
