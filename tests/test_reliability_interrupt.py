"""Fault injection: a KeyboardInterrupt during ``fit`` or ``partial_fit``.

The training loop catches the interrupt, restores the progress snapshot of the
last complete epoch and writes the fitted attributes from it (weights,
optimizer state, history curves, counters and random state all agree; the
final checks of a normal fit are skipped). Then ``fit`` / ``partial_fit``
re-raise a ``KeyboardInterrupt`` ("<ClassName> interrupted; it holds the
weights of its last complete epoch (<n_iter_>).") instead of returning, so a
loop or a search around the fit stops too rather than scoring a truncated
model; no warning is emitted. A caller that catches the interrupt finds the
estimator fitted: it predicts, pickles, and continues (``partial_fit``, warm
``fit``) exactly like an uninterrupted twin stopped at the same epoch.

Two ways of interrupting are exercised:

- deterministic: the model's ``backward`` is wrapped to raise
  KeyboardInterrupt on its k-th call (mid-epoch, between two optimizer steps);
- real signal: a ``threading.Timer`` sends SIGINT to this process; Python runs
  the default handler on the main thread, which raises KeyboardInterrupt
  wherever the training loop is. The timer is armed from inside the first
  ``backward`` call so the signal can only land during training.

Every interrupted call runs inside ``pytest.raises(KeyboardInterrupt,
match="last complete epoch")``: a raw interrupt escaping the training loop
(without that message) fails the match instead of passing as the expected one.
"""

import functools
import os
import pickle
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from _reliability import (
    ESTIMATORS,
    fit_quietly,
    flat_params,
    make_data,
    make_estimator,
    split_rows,
)
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skgd import GDMLPClassifier, GDRegressor
from skgd._base import _Progress
from skgd._data import LeastSquaresStats
from skgd._models import MLP, LinearModel
from skgd._optimizers import SOLVERS

_ESTIMATOR_CLASS = {"GDRegressor": GDRegressor, "GDMLPClassifier": GDMLPClassifier}
_MODEL_CLASS = {"GDRegressor": LinearModel, "GDMLPClassifier": MLP}
_CURVES = ("loss_curve_", "learning_rate_curve_", "grad_norm_curve_")


def _state(est):
    return {
        "n_iter_": est.n_iter_,
        "t_": est.t_,
        **{name: list(getattr(est, name)) for name in _CURVES},
    }


def _gradient_methods(cls):
    """Where a training step takes its gradient: the model's ``backward``, and
    for the linear model also the full-batch sufficient statistics."""
    methods = [(cls, "backward")]
    if cls is LinearModel:
        methods.append((LeastSquaresStats, "value_and_grad"))
    return methods


class _RaiseOnCall:
    """Patch the gradient methods of ``cls`` to raise KeyboardInterrupt on
    call number ``k`` (counted over all of them)."""

    def __init__(self, monkeypatch, cls, k):
        self.calls = 0
        self.k = k
        for owner, name in _gradient_methods(cls):
            monkeypatch.setattr(owner, name, self._wrap(getattr(owner, name)))

    def _wrap(self, original):
        def method(obj, *args):
            self.calls += 1
            if self.calls == self.k:
                raise KeyboardInterrupt
            return original(obj, *args)

        return method


def _expect_interrupted(fit, X, y, timers=()):
    """Run ``fit``, which must keep its last complete epoch and re-raise.

    Returns the message of the re-raised KeyboardInterrupt, after checking it
    names the estimator and the epoch it holds. The timer is joined inside the
    ``raises`` block: its signal is handled there at the latest, so it can
    neither abort the pytest session nor pass unnoticed.
    """
    est = fit.__self__
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        warnings.filterwarnings("error", category=RuntimeWarning, module="skgd")
        with pytest.raises(KeyboardInterrupt, match="last complete epoch") as info:
            try:
                fit(X, y)
            finally:
                for timer in timers:
                    timer.join()
    message = str(info.value)
    assert message == (
        f"{type(est).__name__} interrupted; it holds the weights of its last "
        f"complete epoch ({est.n_iter_})."
    )
    # the exception replaced the former warning, and an interrupted fit skips
    # the final checks (final objective, worse than a constant)
    assert not [w for w in record if "interrupted" in str(w.message).lower()]
    assert not [w for w in record if issubclass(w.category, ConvergenceWarning)]
    return message


def _assert_consistent(est):
    assert est.n_iter_ == len(est.loss_curve_) == len(est.learning_rate_curve_)
    assert len(est.grad_norm_curve_) == est.n_iter_
    assert np.all(np.isfinite(flat_params(est)))


# ---------------------------------------------------------------- deterministic
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_fit_interrupted_mid_epoch_keeps_last_complete_epoch(monkeypatch, name, solver):
    X, y = make_data(name)
    # gd: one step per epoch, so call 7 is epoch 7's; others: 10 steps per epoch
    k = 7 if solver == "gd" else 25
    patch = _RaiseOnCall(monkeypatch, _MODEL_CLASS[name], k)
    est = make_estimator(
        name, solver, max_iter=10_000, tol=0.0, n_iter_no_change=10_000
    )
    message = _expect_interrupted(est.fit, X, y)
    assert patch.calls == k
    expected_epochs = k - 1 if solver == "gd" else (k - 1) // 10
    assert est.n_iter_ == expected_epochs
    assert f"({expected_epochs})" in message
    _assert_consistent(est)
    monkeypatch.undo()

    twin = fit_quietly(
        make_estimator(
            name, solver, max_iter=est.n_iter_, tol=0.0, n_iter_no_change=10_000
        ),
        X,
        y,
    )
    # bit-identical: no half-updated parameter vector, no stale curve entry
    np.testing.assert_array_equal(flat_params(est), flat_params(twin))
    assert _state(est) == _state(twin)
    steps = 1 if solver == "gd" else 10
    assert est.t_ == steps * est.n_iter_

    # the model predicts and pickles
    pred = est.predict(X)
    np.testing.assert_array_equal(pred, twin.predict(X))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), pred)

    # and a warm fit continues from there exactly as from the twin
    for model in (est, twin):
        model.set_params(warm_start=True, max_iter=3)
        fit_quietly(model, X, y)
    np.testing.assert_array_equal(flat_params(est), flat_params(twin))
    assert _state(est) == _state(twin)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_partial_fit_interrupted_mid_epoch_changes_nothing(monkeypatch, name, solver):
    X, y = make_data(name)
    kw = {"classes": np.unique(y)} if name == "GDMLPClassifier" else {}
    est = make_estimator(name, solver)
    est.partial_fit(X, y, **kw)
    est.partial_fit(X, y)
    before, coefs = _state(est), flat_params(est).copy()
    opt_before = {k: v.copy() for k, v in est._progress.opt_state.items()}

    patch = _RaiseOnCall(monkeypatch, _MODEL_CLASS[name], 1 if solver == "gd" else 5)
    message = _expect_interrupted(est.partial_fit, X, y)
    assert patch.calls >= 1
    assert "last complete epoch (2)" in message
    monkeypatch.undo()
    assert _state(est) == before
    np.testing.assert_array_equal(flat_params(est), coefs)
    opt_after = est._progress.opt_state
    assert opt_after.keys() == opt_before.keys()
    for key, value in opt_before.items():
        np.testing.assert_array_equal(opt_after[key], value)
    _assert_consistent(est)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(est)).predict(X), est.predict(X)
    )


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_resume_after_interrupt_matches_uninterrupted_twin(monkeypatch, name, solver):
    """After an interrupted epoch, continuing equals the never-interrupted twin.

    The snapshot restores opt_state, counters and curves; the shuffling
    generator must be restored too, or the next epoch's batches differ.
    """
    X, y = make_data(name)
    kw = {"classes": np.unique(y)} if name == "GDMLPClassifier" else {}
    est = make_estimator(name, solver)
    twin = make_estimator(name, solver)
    for model in (est, twin):
        model.partial_fit(X, y, **kw)
    _RaiseOnCall(monkeypatch, _MODEL_CLASS[name], 1 if solver == "gd" else 5)
    _expect_interrupted(est.partial_fit, X, y)
    monkeypatch.undo()
    for _ in range(2):
        est.partial_fit(X, y)
        twin.partial_fit(X, y)
    np.testing.assert_array_equal(flat_params(est), flat_params(twin))
    assert _state(est) == _state(twin)


# ------------------------------------------------------------- real SIGINT
def _arm_sigint_on_first_backward(monkeypatch, cls, delay, sleep=0.0):
    """Send SIGINT ``delay`` s after the first backward call (from a Timer thread)."""
    assert threading.current_thread() is threading.main_thread()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    timers = []

    def wrap(original):
        def method(obj, *args):
            if not timers:
                timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
                timer.start()
                timers.append(timer)
            if sleep:
                time.sleep(sleep)
            return original(obj, *args)

        return method

    for owner, name in _gradient_methods(cls):
        monkeypatch.setattr(owner, name, wrap(getattr(owner, name)))
    return timers


@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
def test_sigint_during_long_fit(monkeypatch, solver):
    digits = load_digits()
    X, y = digits.data[:300] / 16.0, digits.target[:300]
    params = {
        "hidden_layer_sizes": (16,),
        "solver": solver,
        "learning_rate_init": 0.01,
        "batch_size": 64,
        "max_iter": 10**6,
        "tol": 0.0,
        "n_iter_no_change": 10**6,
        "random_state": 0,
    }
    timers = _arm_sigint_on_first_backward(monkeypatch, MLP, 0.4)
    est = GDMLPClassifier(**params)
    start = time.perf_counter()
    _expect_interrupted(est.fit, X, y, timers)
    assert time.perf_counter() - start < 30
    monkeypatch.undo()
    assert 1 <= est.n_iter_ < 10**6
    _assert_consistent(est)
    steps = 1 if solver == "gd" else 5  # 300 rows, batches of 64
    assert est.t_ == steps * est.n_iter_

    twin = fit_quietly(GDMLPClassifier(**{**params, "max_iter": est.n_iter_}), X, y)
    np.testing.assert_array_equal(flat_params(est), flat_params(twin))
    assert _state(est) == _state(twin)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(est)).predict(X), twin.predict(X)
    )


@pytest.mark.parametrize("name", ESTIMATORS)
def test_sigint_during_long_partial_fit_epoch(monkeypatch, name):
    # 2000 rows in batches of 10: 200 steps of >= 2 ms, so the epoch lasts
    # >= 0.4 s and the signal (0.1 s in) lands mid-epoch
    X, y = make_data(name, n=2000)
    kw = {"classes": np.unique(y)} if name == "GDMLPClassifier" else {}
    est = make_estimator(name, "adam", batch_size=10)
    est.partial_fit(X[:100], y[:100], **kw)
    before, coefs = _state(est), flat_params(est).copy()
    timers = _arm_sigint_on_first_backward(
        monkeypatch, _MODEL_CLASS[name], 0.1, sleep=0.002
    )
    _expect_interrupted(est.partial_fit, X, y, timers)
    monkeypatch.undo()
    assert _state(est) == before
    np.testing.assert_array_equal(flat_params(est), coefs)
    _assert_consistent(est)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(est)).predict(X), est.predict(X)
    )


@pytest.mark.parametrize("solver", ["gd", "adam"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_interrupt_between_two_epochs_is_caught_too(monkeypatch, name, solver):
    """A real SIGINT lands on any bytecode, also between two epochs (here:
    while the loop takes its per-epoch snapshot, before the next epoch's
    ``try``). It must be handled like one inside an epoch, not escape ``fit``
    and discard every completed epoch: the interrupt leaves ``fit`` only as
    the re-raised one, after the last complete epoch was written."""
    X, y = make_data(name)
    original = _Progress.snapshot
    calls = []

    def snapshot(progress):
        calls.append(1)
        if len(calls) == 3:  # after two complete epochs
            raise KeyboardInterrupt
        return original(progress)

    monkeypatch.setattr(_Progress, "snapshot", snapshot)
    est = make_estimator(name, solver, max_iter=50, tol=0.0, n_iter_no_change=1000)
    _expect_interrupted(est.fit, X, y)
    monkeypatch.undo()
    assert est.n_iter_ >= 1  # 1 or 2, depending on where the loop snapshots
    _assert_consistent(est)
    twin = fit_quietly(
        make_estimator(
            name, solver, max_iter=est.n_iter_, tol=0.0, n_iter_no_change=1000
        ),
        X,
        y,
    )
    np.testing.assert_array_equal(flat_params(est), flat_params(twin))
    assert _state(est) == _state(twin)


# ------------------------------------------------- early stopping, first step
@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_interrupt_with_early_stopping_keeps_history_and_best_epoch(
    monkeypatch, name, solver
):
    X, y = make_data(name)
    # 128 training rows in batches of 16: 8 steps per epoch; gd: 1
    k, steps = (7, 1) if solver == "gd" else (30, 8)
    patch = _RaiseOnCall(monkeypatch, _MODEL_CLASS[name], k)
    params = {
        "max_iter": 10_000,
        "tol": 0.0,
        "n_iter_no_change": 10_000,
        "early_stopping": True,
        "validation_fraction": 0.2,
    }
    est = make_estimator(name, solver, **params)
    _expect_interrupted(est.fit, X, y)
    assert patch.calls == k
    monkeypatch.undo()
    epochs = (k - 1) // steps
    assert est.n_iter_ == len(est.validation_scores_) == epochs
    assert len(est.validation_loss_curve_) == epochs
    assert est.best_validation_score_ == max(est.validation_scores_)
    _, va = split_rows(name, y, 0.2, seed=0)
    assert est.score(X[va], y[va]) == est.best_validation_score_
    twin = fit_quietly(
        make_estimator(name, solver, **{**params, "max_iter": epochs}), X, y
    )
    np.testing.assert_array_equal(flat_params(est), flat_params(twin))
    assert est.validation_scores_ == twin.validation_scores_


@pytest.mark.parametrize("name", ESTIMATORS)
def test_interrupt_in_the_first_step_leaves_the_initial_model(monkeypatch, name):
    X, y = make_data(name)
    _RaiseOnCall(monkeypatch, _MODEL_CLASS[name], 1)
    est = make_estimator(name, "adam")
    message = _expect_interrupted(est.fit, X, y)
    monkeypatch.undo()
    assert "last complete epoch (0)" in message
    assert est.n_iter_ == est.t_ == 0 and est.loss_curve_ == []
    pred = est.predict(X)
    assert np.all(np.isfinite(flat_params(est)))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), pred)
    # and training can go on from there
    est.partial_fit(X, y)
    assert est.n_iter_ == 1


# ---------------------------------------------------------------- grid search
class _InterruptNthFit:
    """Count the ``fit`` calls of ``est_cls`` and raise KeyboardInterrupt in
    the ``k``-th training step (``model_cls.backward`` call) of fit ``n``."""

    def __init__(self, monkeypatch, est_cls, model_cls, n, k):
        self.fits = []  # the alpha of every fit started, in order
        self.steps = 0  # training steps of the current fit
        original_fit, original_backward = est_cls.fit, model_cls.backward

        @functools.wraps(original_fit)
        def fit(est, *args, **kwargs):
            self.fits.append(est.alpha)
            self.steps = 0
            return original_fit(est, *args, **kwargs)

        def backward(model, *args):
            self.steps += 1
            if len(self.fits) == n and self.steps == k:
                raise KeyboardInterrupt
            return original_backward(model, *args)

        monkeypatch.setattr(est_cls, "fit", fit)
        monkeypatch.setattr(model_cls, "backward", backward)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_interrupt_propagates_out_of_a_grid_search(monkeypatch, name):
    """Ctrl-C inside a search stops the search: it neither scores the
    interrupted candidate's truncated model nor fits the later candidates."""
    X, y = make_data(name)
    alphas = [1e-4, 1e-3, 1e-2]
    # candidate-major order: fits 1-2 are the first candidate's two folds, fit
    # 3 the second candidate's first fold; 80 training rows in batches of 16
    # are 5 steps per epoch, so step 7 lies in its second epoch
    hook = _InterruptNthFit(
        monkeypatch, _ESTIMATOR_CLASS[name], _MODEL_CLASS[name], n=3, k=7
    )
    est = make_estimator(name, "adam", max_iter=5, tol=0.0, n_iter_no_change=1000)
    search = GridSearchCV(est, {"alpha": alphas}, cv=2, n_jobs=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(KeyboardInterrupt, match="last complete epoch") as info:
            search.fit(X, y)
    monkeypatch.undo()
    assert str(info.value) == (
        f"{name} interrupted; it holds the weights of its last complete epoch (1)."
    )
    assert hook.steps == 7
    # the second candidate's second fold and the third candidate never started
    assert hook.fits == [alphas[0], alphas[0], alphas[1]]
    # nothing was scored, selected or refitted
    for attr in ("cv_results_", "best_params_", "best_estimator_"):
        assert not hasattr(search, attr)
