"""Fault injection: a KeyboardInterrupt during ``fit`` or ``partial_fit``.

The training loop catches the interrupt per epoch, restores the progress
snapshot and keeps the weights of the last complete epoch. Two ways of
interrupting are exercised:

- deterministic: the model's ``backward`` is wrapped to raise
  KeyboardInterrupt on its k-th call (mid-epoch, between two optimizer steps);
- real signal: a ``threading.Timer`` sends SIGINT to this process; Python runs
  the default handler on the main thread, which raises KeyboardInterrupt
  wherever the training loop is. The timer is armed from inside the first
  ``backward`` call so the signal can only land during training.
"""

import os
import pickle
import signal
import threading
import time

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

from skgd import GDMLPClassifier
from skgd._base import _Progress
from skgd._models import MLP, LinearModel
from skgd._optimizers import SOLVERS

_MODEL_CLASS = {"GDRegressor": LinearModel, "GDMLPClassifier": MLP}
_CURVES = ("loss_curve_", "learning_rate_curve_", "grad_norm_curve_")


def _state(est):
    return {
        "n_iter_": est.n_iter_,
        "t_": est.t_,
        **{name: list(getattr(est, name)) for name in _CURVES},
    }


class _RaiseOnCall:
    """Patch ``cls.backward`` to raise KeyboardInterrupt on call number ``k``."""

    def __init__(self, monkeypatch, cls, k):
        self.calls = 0
        self.k = k
        original = cls.backward

        def backward(model, *args):
            self.calls += 1
            if self.calls == self.k:
                raise KeyboardInterrupt
            return original(model, *args)

        monkeypatch.setattr(cls, "backward", backward)


def _expect_interrupted(fit, X, y, timers=()):
    """Run ``fit``, which must catch the interrupt and warn.

    A KeyboardInterrupt escaping a test would abort the whole pytest session,
    so it is turned into a failure (the timer is joined inside the ``try``:
    its signal is then handled here at the latest).
    """
    try:
        with pytest.warns(UserWarning, match="Training interrupted") as record:
            fit(X, y)
        for timer in timers:
            timer.join()
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped fit/partial_fit")
    return record


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
    record = _expect_interrupted(est.fit, X, y)
    assert patch.calls == k
    expected_epochs = k - 1 if solver == "gd" else (k - 1) // 10
    assert est.n_iter_ == expected_epochs
    assert any(f"({expected_epochs})" in str(w.message) for w in record)
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
    _expect_interrupted(est.partial_fit, X, y)
    assert patch.calls >= 1
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
    original = cls.backward
    timers = []

    def backward(model, *args):
        if not timers:
            timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            timers.append(timer)
        if sleep:
            time.sleep(sleep)
        return original(model, *args)

    monkeypatch.setattr(cls, "backward", backward)
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
    and discard every completed epoch."""
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
    record = _expect_interrupted(est.fit, X, y)
    monkeypatch.undo()
    assert any("last complete epoch (0)" in str(w.message) for w in record)
    assert est.n_iter_ == est.t_ == 0 and est.loss_curve_ == []
    pred = est.predict(X)
    assert np.all(np.isfinite(flat_params(est)))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), pred)
    # and training can go on from there
    est.partial_fit(X, y)
    assert est.n_iter_ == 1
