"""BaseGD: the one training loop behind every skgd estimator.

A concrete estimator supplies its targets (encoding, output activation), its
model, its initial parameters and its validation score; this module owns
parameter constraints, batching, the optimizer / schedule / penalty / clipping
composition, early stopping, history, verbose output, the divergence guard
and clean interruption.
"""

import contextlib
import copy
import functools
import math
import sys
import time
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from skgd._data import ArrayRows, is_dask_collection
from skgd._doc_links import DocLinkMixin
from skgd._losses import LOSSES
from skgd._models import Model
from skgd._optimizers import (
    FULL_BATCH_SOLVERS,
    SOLVERS,
    Optimizer,
    make_optimizer,
    without_subnormals,
)
from skgd._penalties import ElasticNet, make_penalty
from skgd._schedules import SCHEDULES, Schedule, make_schedule
from skgd._validation import (
    Integral,
    Interval,
    Options,
    Real,
    StrOptions,
    check_sample_weight,
    has_callbacks,
    validate_data,
)

Array = np.ndarray

try:  # scikit-learn >= 1.9: estimators accept sklearn.callback callbacks
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # pragma: no cover - older scikit-learn, no callbacks

    class CallbackSupportMixin:  # type: ignore[no-redef]
        """Stand-in without ``set_callbacks`` (scikit-learn < 1.9)."""

    def with_callbacks(method):  # type: ignore[no-redef]
        return method


try:  # installed with scikit-learn; scanned once, then cheap to use
    from threadpoolctl import ThreadpoolController

    _THREADPOOLS: Any = ThreadpoolController()
except Exception:  # pragma: no cover - threadpoolctl missing or failing
    _THREADPOOLS = None
# batch rows x weights below which the epochs run on one BLAS thread
_SMALL_STEP = 1 << 25
# entries of X below which a whole fit (statistics, checks, predictions of
# the end) runs on one BLAS thread: its passes are a few small products
_SMALL_INPUT = 1 << 20

# what scikit-learn's callback machinery keeps on the estimator during a fit
_CALLBACK_STATE = ("_callback_fit_ctx", "_skl_callbacks_to_teardown")
# a run whose objective exceeds this multiple of the reference objective (the
# larger of the starting objective and that of an all-zero output) diverged
_DIVERGENCE_FACTOR = 1e4
# the "adaptive" schedule stops once its rate falls below this (scikit-learn's value)
_MIN_ADAPTIVE_LR = 1e-6
# optimizer steps (counted over the whole fit, across epochs and partial_fit
# calls) between two sweeps of the optimizer's state for subnormal numbers
_SUBNORMAL_SWEEP = 64
_CURVES = (
    "loss_curve_",
    "validation_scores_",
    "validation_loss_curve_",
    "learning_rate_curve_",
    "grad_norm_curve_",
)


@dataclass
class _Progress:
    """Everything a fit leaves to the next warm-started fit or partial_fit."""

    opt_state: dict[str, Array]
    rng: np.random.RandomState
    learning_rate: float
    loss_ref: float
    t: int = 0
    n_iter: int = 0
    lr_scale: float = 1.0
    no_improvement: int = 0
    best_score: float = -np.inf
    theta: Array | None = None
    packed: Array | None = None
    # the units of tol: of the training objective, and of its gradient
    loss_unit: float = 1.0
    grad_unit: float = 1.0
    # the running average of the iterates since the last plateau (or None)
    avg: Array | None = None
    avg_count: int = 0
    # what the learning rate was resolved on: data fingerprint and parameters
    rate_key: tuple | None = None
    # why the last call stopped, and the epoch whose weights it kept (and how)
    stop_reason: str = ""
    kept_epoch: int = 0
    kept_how: str = ""
    lowest_epoch: int = 0
    # the lowest value of the loss curve (a running minimum)
    best_loss: float = np.inf
    curves: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in _CURVES}
    )

    _SCALARS = (
        "t",
        "n_iter",
        "lr_scale",
        "no_improvement",
        "best_score",
        "avg",
        "avg_count",
        "best_loss",
    )

    def fork(self) -> "_Progress":
        """The progress one call works on. The curves are append-only and
        shared: a failed call truncates them back (see ``BaseGD._fit``),
        rather than each call copying them whole, which over a stream of
        ``partial_fit`` calls would cost time quadratic in the calls. Every
        array is replaced, never written, by the loop and the optimizers;
        the random state, changed in place, is shared too and set back."""
        new = copy.copy(self)
        new.opt_state = dict(self.opt_state)
        return new

    def lengths(self) -> dict[str, int]:
        return {name: len(c) for name, c in self.curves.items()}

    def snapshot(self) -> dict[str, Any]:
        snap = {name: getattr(self, name) for name in self._SCALARS}
        snap["opt_state"] = self.opt_state
        snap["lengths"] = self.lengths()
        snap["rng_state"] = self.rng.get_state()
        return snap

    def restore(self, snap: dict[str, Any]) -> None:
        for name in self._SCALARS:
            setattr(self, name, snap[name])
        self.opt_state = snap["opt_state"]
        for name, length in snap["lengths"].items():
            del self.curves[name][length:]
        self.rng.set_state(snap["rng_state"])


class _FitCallbacks:
    """One fit call's tasks for scikit-learn's callbacks (``set_callbacks``,
    or those a meta-estimator such as GridSearchCV propagates): the fit is
    the root task and each epoch a sub-task, so that ``ProgressBar`` nests
    inside searches and pipelines. Inert where scikit-learn has no
    callbacks. The contexts live on the estimator only during the call."""

    def __init__(self, estimator, X, y, sample_weight, max_epochs: int) -> None:
        self.estimator = estimator
        self.ctx = self.epoch_ctx = None
        # what a scorer of the callbacks evaluates: the data as passed
        meta = None if sample_weight is None else {"sample_weight": sample_weight}
        self.data = {"X": X, "y": y, "metadata": meta}
        init = getattr(estimator, "_init_callback_context", None)
        if init is not None:
            self.ctx = init(max_subtasks=max_epochs)
            self.ctx.call_on_fit_task_begin(estimator=estimator, **self.data)
        # without callbacks an epoch's task would only cost time (10 us)
        self.active = self.ctx is not None and has_callbacks(self.ctx)

    def epoch_begin(self) -> None:
        if self.active:
            self.epoch_ctx = self.ctx.subcontext(task_name="epoch")
            self.epoch_ctx.call_on_fit_task_begin(estimator=self.estimator)

    def epoch_end(self, fitted) -> bool:
        """End the epoch's task; True when a callback asks to stop."""
        if self.epoch_ctx is None:
            return False
        ctx, self.epoch_ctx = self.epoch_ctx, None
        return bool(
            ctx.call_on_fit_task_end(
                estimator=self.estimator,
                reconstruction_attributes=fitted,
                **self.data,
            )
        )

    def end(self, fitted) -> None:
        if self.ctx is not None:
            self.ctx.call_on_fit_task_end(
                estimator=self.estimator,
                reconstruction_attributes=fitted,
                **self.data,
            )


@dataclass
class _Run:
    """The parts one fit call composes; rebuilt from the parameters each call."""

    model: Model
    loss: Any
    penalty: ElasticNet
    optimizer: Optimizer
    schedule: Schedule
    schedule_name: str
    batch_size: int
    full_batch: bool
    clip_norm: float | None
    clip_value: float | None
    # the full-batch objective (and its gradient) from sufficient statistics,
    # or None: full-batch steps, and every solver's objective values (start,
    # end, averaging) without a pass over the rows
    stats: Any = None
    # Polyak-Ruppert averaging of the mini-batch iterates
    averaging: bool = False
    callbacks: Any = None
    incremental: bool = False


class BaseGD(CallbackSupportMixin, DocLinkMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the skgd estimators: parameters, fit driver, training loop."""

    _parameter_constraints: dict = {
        "solver": [StrOptions(set(SOLVERS))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "learning_rate": [StrOptions({"auto", *SCHEDULES})],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "amsgrad": ["boolean"],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="left")],
        "lr_step_size": [Interval(Integral, 1, None, closed="left")],
        "lr_gamma": [Interval(Real, 0, 1, closed="right")],
        "lr_restart_period": [Interval(Integral, 1, None, closed="left")],
        "lr_restart_mult": [Interval(Real, 1, None, closed="left")],
        "lr_warmup": [Interval(Integral, 0, None, closed="left")],
        "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
        "clip_value": [Interval(Real, 0, None, closed="neither"), None],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    # scikit-learn's y_numeric flag of validate_data
    _y_numeric = False
    # whether the first fit or partial_fit call fixes data statistics
    _first_call_statistics = False

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _validate_targets(
        self, y, sw: Array, dtype, *, reset: bool, classes, warm: bool = False
    ):
        """Return ``(Y, sw)``: 2-D targets of ``dtype`` for the loss, and
        weights; ``warm`` for a warm-started ``fit``."""

    @abstractmethod
    def _make_model(self, data: ArrayRows, *, reset: bool) -> Model:
        """The model for the current parameters and training rows ``data``
        (their statistics on reset)."""

    @abstractmethod
    def _score_sums(self) -> Callable:
        """The validation score's sums over rows: a function
        ``(raw, Y, sw) -> sums`` of a block's raw outputs (picklable: it
        runs where the rows live)."""

    @abstractmethod
    def _score_value(self, sums, data) -> float:
        """The validation score (higher is better) from the sums of
        :meth:`_score_sums` over the rows ``data``."""

    @abstractmethod
    def _worse_than_constant(self, run, theta, data, raw) -> str | None:
        """How the model at ``theta`` scores below the best constant
        prediction on the rows ``data`` (a clause for the warning), or None
        if it does not; ``raw``, its output when in memory, or None."""

    @abstractmethod
    def _pack(self, model: Model, dtype) -> Array:
        """The flat parameter vector from the fitted attributes."""

    @abstractmethod
    def _unpack(self, model: Model, theta: Array) -> None:
        """Write the fitted attributes from the flat parameter vector."""

    def _initial_theta(self, model, data, rng, incremental=False) -> Array:
        """The parameters a fresh fit (or first partial_fit call, with
        ``incremental``) starts from."""
        return model.init(rng, data.dtype)

    def _loss(self):
        """The loss, a ``value_and_grad(raw, Y, sw, total=None)`` function of
        the raw output: by default the one the output activation implies."""
        return LOSSES[self.out_activation_]

    def _resolve_learning_rate(
        self, model, penalty, data, batch_size: int, theta: Array
    ) -> float:
        """The rate 'auto' stands for, given the data and the parameters the
        call starts from."""
        return float(self.learning_rate_init)

    def _auto_schedule(self, full_batch: bool, incremental: bool) -> str:
        """The schedule that ``learning_rate='auto'`` stands for."""
        return "constant"

    def _tol_units(self, start: float, data) -> tuple[float, float]:
        """The units of ``tol`` for the training objective and its gradient,
        given the starting objective and the training rows: absolute by
        default."""
        return 1.0, 1.0

    def _full_batch_stats(self, model) -> Any:
        """An object whose ``value_and_grad(theta, grad)``, ``value(theta)``
        and ``null_value()`` give the full-batch loss without a pass over
        the rows, or None."""
        return None

    def _averaging(self, full_batch: bool, incremental: bool) -> bool:
        """Whether this call averages its mini-batch iterates."""
        return False

    def _certified_gap(self, run: _Run, theta) -> float | None:
        """The training objective at ``theta`` minus its minimum, in units of
        ``tol`` (the worst target's share of what it can gain), when it can be
        computed without a pass over the rows, else None."""
        return None

    def _grad_unit(self, model) -> float | Array:
        """The unit of each gradient entry, which the adaptive rules'
        ``epsilon`` is measured in: 1 by default."""
        return 1.0

    def _decay_scale(self) -> float:
        """Factor on ``weight_decay``, so that ``lr * weight_decay`` (the share
        of the weights decayed per step) does not carry the unit of a rate
        resolved from the data."""
        return 1.0

    # whether early stopping's split is stratified by class (on dask: within
    # each chunk; in memory :meth:`_split_validation` says)
    _stratified = False

    def _split_validation(self, Y: Array, rng) -> tuple[Array, Array]:
        n = Y.shape[0]
        n_val = int(np.ceil(self.validation_fraction * n))
        perm = rng.permutation(n)
        return perm[n_val:], perm[:n_val]

    # ------------------------------------------------------------ fit driver
    @with_callbacks
    def _fit(self, X, y, sample_weight, *, incremental: bool, classes=None):
        # a failed fit (bad input, divergence) leaves the estimator as it was:
        # fitted arrays are replaced, never mutated, so a shallow copy suffices
        saved = dict(self.__dict__)
        progress = saved.get("_progress")
        lengths = None if progress is None else progress.lengths()
        rng_state = None if progress is None else progress.rng.get_state()
        # a partial_fit call on a small chunk, or a fit on small data, runs on
        # one BLAS thread from start to end (statistics, unpacking, steps,
        # checks): several threads on products of a few rows spin, and on a
        # busy machine cost milliseconds (a fit's epochs choose by their step)
        size = _input_size(X)
        if not incremental and size >= _SMALL_INPUT:
            size = _SMALL_STEP
        try:
            with _blas_threads(size):
                interrupted = self._fit_unguarded(
                    X, y, sample_weight, incremental, classes
                )
        except BaseException:
            # the callbacks' contexts of this call stay for their teardown
            live = {k: v for k, v in vars(self).items() if k in _CALLBACK_STATE}
            self.__dict__.clear()
            self.__dict__.update(saved)
            self.__dict__.update(live)
            if progress is not None:
                # the curves the failed call shared and appended to
                for name, length in lengths.items():
                    del progress.curves[name][length:]
                progress.rng.set_state(rng_state)
            raise
        if interrupted:
            # the estimator keeps its last complete epoch, and the interrupt
            # goes on: a loop or a search around this fit stops too, rather
            # than scoring a truncated model
            raise KeyboardInterrupt(
                f"{type(self).__name__} interrupted; it holds the weights of its "
                f"last complete epoch ({self.n_iter_})."
            )
        return self

    def _fit_unguarded(self, X, y, sample_weight, incremental, classes):
        self._clock = time.perf_counter()
        continuing = (incremental or self.warm_start) and hasattr(self, "_progress")
        data = self._rows(X, y, sample_weight, continuing, incremental, classes)
        if incremental and not continuing and self._first_call_statistics:
            rows = data.positive
            if rows < 2:
                _warn(
                    f"{type(self).__name__}: the first partial_fit call has {rows} "
                    "row(s) of positive weight, but its statistics (the features' "
                    "and targets' means and scales, and the 'auto' rate of 'gd' "
                    "and 'sgd') are kept for every later call. Pass a first chunk "
                    "of many rows, or precondition=False and a learning_rate_init.",
                    UserWarning,
                )
        if continuing:
            # a failed call must leave the saved progress as it was
            progress = self._progress.fork()
        else:
            progress = _Progress({}, check_random_state(self.random_state), 0.0, 0.0)
        # the held-out rows never inform the data statistics or the start
        train, val = self._train_val_split(data, progress, incremental)
        model = self._make_model(train, reset=not continuing)
        if continuing:
            theta = self._resume_theta(model, progress, data.dtype)
        else:
            theta = self._initial_theta(model, train, progress.rng, incremental)

        run = self._make_run(model, theta, train, progress, continuing, incremental)
        run.callbacks = _FitCallbacks(
            self, X, y, sample_weight, 1 if incremental else self.max_iter
        )
        fresh = run.optimizer.init(theta)
        if not continuing or not _same_layout(fresh, progress.opt_state):
            # a new solver, momentum or amsgrad switched on or off, or another
            # parameter layout (fit_intercept switched): the memory of another
            # update rule or of other parameters cannot be continued
            progress.opt_state = fresh
        if not continuing:
            progress.loss_ref, start = _reference_loss(run, theta, train)
            progress.loss_unit, progress.grad_unit = self._tol_units(start, train)
        if not incremental:
            # each fit call watches its own plateaus: a warm start begins at the
            # rate it is given, not at the one a past plateau cut it to
            progress.no_improvement, progress.best_score = 0, -np.inf
            progress.lr_scale = 1.0
            progress.avg, progress.avg_count = None, 0

        if self.verbose:
            # the statistics, the preconditioner and the rate, before epoch 1
            print(f"Set-up: {time.perf_counter() - self._clock:.2f} s")
        with _blas_threads(_step_size(train, run.batch_size, model)):
            theta, lowest, interrupted = self._train(
                run, progress, theta, train, val, incremental
            )
        if not incremental and not interrupted:
            # overflow here shows in the numbers checked; an invalid flag
            # would be OpenBLAS's spurious one (numpy#24067)
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                raw = None
                if not continuing:
                    theta, raw = self._check_final(
                        run, progress, theta, lowest, train, start
                    )
                # warm fits too; tol=None asks for a fixed budget: no check
                if not run.full_batch and self.tol is not None:
                    self._check_shortfall(run, progress, theta, train, raw)
                # the data the caller passed: held-out rows included (neither
                # the training output nor the training rows' moments apply)
                if val is not None:
                    raw, run = None, replace(run, stats=None)
                self._check_constant(run, progress, theta, data, raw)
        self._write_fitted(model, theta, progress)
        if self.verbose:
            print(
                f"Stopped after epoch {progress.n_iter}: {progress.stop_reason}. "
                f"Kept the weights of epoch {progress.kept_epoch}{progress.kept_how}."
            )
        run.callbacks.end({})
        progress.theta, progress.packed = theta, self._pack(model, theta.dtype)
        self._progress = progress
        del self._clock
        return interrupted

    def _rows(self, X, y, sample_weight, continuing, incremental, classes):
        """The training rows, checked and encoded: in memory, or where a
        dask array's chunks live."""
        reset, warm = not continuing, continuing and not incremental
        if is_dask_collection(X):
            from skgd._dask import dask_rows

            return dask_rows(
                self, X, y, sample_weight, reset=reset, classes=classes, warm=warm
            )
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            multi_output=True,
            y_numeric=self._y_numeric,
        )
        if sp.issparse(X):
            X = X.tocsr()
        sw = check_sample_weight(sample_weight, X, X.dtype)
        Y, sw = self._validate_targets(
            y, sw, X.dtype, reset=reset, classes=classes, warm=warm
        )
        return ArrayRows(X, Y, sw)

    def _fitted_arrays(self, model, theta) -> dict[str, Any]:
        """The fitted attributes of ``theta`` (what ``_unpack`` writes), for
        a callback's copy of the estimator; this one is left as it is."""
        scratch = copy.copy(self)
        scratch._unpack(model, theta)
        mine = vars(self)
        return {k: v for k, v in vars(scratch).items() if mine.get(k, None) is not v}

    def _resume_theta(self, model, progress: _Progress, dtype) -> Array:
        """The parameters to continue from: the fitted attributes, repacked.

        Repacking rounds (the linear model's coordinates are rescaled), so
        while the attributes are those the last call wrote, its exact vector
        is reused: k calls of partial_fit then equal k epochs of fit.
        """
        theta = self._pack(model, dtype)
        if progress.packed is not None and np.array_equal(theta, progress.packed):
            theta = progress.theta.astype(dtype)
        progress.opt_state = {
            k: v.astype(dtype) if v.dtype.kind == "f" else v
            for k, v in progress.opt_state.items()
        }
        return theta

    def _train_val_split(self, data, progress, incremental):
        if not self.early_stopping or incremental:
            return data, None
        if data.local:
            tr, va = self._split_validation(data.Y, progress.rng)
            train, val = data.subset(tr), data.subset(va)
        else:
            # a share of every chunk, where it lives
            train, val = data.split(
                self.validation_fraction, progress.rng, self._stratified
            )
        # rows of weight 0 neither train nor score
        n_val, n_train = val.positive, train.positive
        if n_val < 2 or n_train < 1:
            raise ValueError(
                f"early_stopping with validation_fraction={self.validation_fraction} "
                f"on {data.shape[0]} samples leaves {n_val} validation and {n_train} "
                "training samples with positive weight; at least 2 validation "
                "samples are needed to score and 1 to train. Use more data, a "
                "larger validation_fraction, or early_stopping=False."
            )
        return train, val

    def _make_run(self, model, theta, data, progress, continuing, incremental) -> _Run:
        n = data.shape[0]
        full_batch = self.solver in FULL_BATCH_SOLVERS
        if full_batch:
            batch_size = n
        elif self.batch_size == "auto":
            batch_size = _auto_batch_size(data)
        else:
            if self.batch_size > n:
                _warn(
                    f"batch_size={self.batch_size} is larger than the {n} training "
                    "samples; using full batches.",
                    UserWarning,
                )
            batch_size = min(self.batch_size, n)
        penalty = make_penalty(
            self.penalty,
            self.alpha,
            self.l1_ratio,
            model.n_penalized,
            model.penalty_weights,
        )
        params = self.get_params()
        # a full-batch partial_fit call is one step on the data it is given:
        # its rate is resolved on that data when it differs from the last
        # call's (the chunks of a stream differ; the same data gives the same
        # rate, found again from a fingerprint rather than the curvature)
        # (and a partial_fit after set_params, e.g. another solver, resolves
        # the rate of the new parameters)
        key: tuple = (repr(params),)
        if full_batch and incremental:
            key += (data.shape, data.weight, data.full_sum(column_sums))
        old = progress.rate_key
        stale = not (continuing and incremental) or not _same_key(key, old)
        if stale:
            progress.learning_rate = self._resolve_learning_rate(
                model, penalty, data, batch_size, theta
            )
        progress.rate_key = key
        params["weight_decay"] = self.weight_decay * self._decay_scale()
        params["grad_unit"] = self._grad_unit(model)
        name = self.learning_rate
        if name == "auto":
            name = self._auto_schedule(full_batch, incremental)
        return _Run(
            model=model,
            loss=self._loss(),
            penalty=penalty,
            optimizer=make_optimizer(self.solver, params, model.n_penalized),
            schedule=make_schedule(name, progress.learning_rate, params),
            schedule_name=name,
            batch_size=batch_size,
            full_batch=full_batch,
            clip_norm=self.clip_norm,
            clip_value=self.clip_value,
            stats=self._full_batch_stats(model),
            averaging=self._averaging(full_batch, incremental),
            incremental=incremental,
        )

    def _write_fitted(self, model, theta, progress: _Progress) -> None:
        self._unpack(model, theta)
        self.learning_rate_init_ = progress.learning_rate
        self.n_iter_ = progress.n_iter
        self.t_ = progress.t
        # the append-only curves themselves, as MLPClassifier's loss_curve_:
        # a copy per partial_fit call would cost time quadratic in the calls
        for name, curve in progress.curves.items():
            setattr(self, name, curve)
        self.best_loss_ = float(progress.best_loss)
        self.best_epoch_ = progress.kept_epoch
        self.stop_reason_ = progress.stop_reason
        if self.early_stopping and progress.curves["validation_scores_"]:
            self.best_validation_score_ = progress.best_score
        else:
            self.best_validation_score_ = None

    # --------------------------------------------------------- training loop
    def _train(self, run: _Run, progress: _Progress, theta, train, val, incremental):
        max_epochs = 1 if incremental else self.max_iter
        # (theta, best theta, snapshot) of the last complete epoch, stored in one
        # assignment so that an interrupt arriving anywhere finds it consistent
        done = (theta, theta, progress.snapshot())
        # the parameters that entered the epoch of lowest training loss
        lowest, lowest_loss = theta, np.inf
        interrupted = False
        best_epoch = progress.n_iter
        progress.stop_reason, progress.kept_how = "", ""
        with np.errstate(
            over="ignore", invalid="ignore", divide="ignore", under="ignore"
        ):
            try:
                for _ in range(max_epochs):
                    run.callbacks.epoch_begin()
                    new, stop, improved = self._epoch(
                        run, progress, done[0], train, val
                    )
                    fitted = functools.partial(self._fitted_arrays, run.model, new)
                    if run.callbacks.epoch_end(fitted) and not stop:
                        progress.stop_reason = "a callback asked to stop"
                        stop = True
                    if progress.curves["loss_curve_"][-1] < lowest_loss:
                        lowest, lowest_loss = (
                            done[0],
                            progress.curves["loss_curve_"][-1],
                        )
                        progress.lowest_epoch = progress.n_iter - 1
                    best_epoch = progress.n_iter if improved else best_epoch
                    done = (new, new if improved else done[1], progress.snapshot())
                    if stop:
                        break
                else:
                    progress.stop_reason = (
                        "one epoch per partial_fit call"
                        if incremental
                        else f"max_iter={self.max_iter} epochs"
                        + (" (tol=None)" if self.tol is None else "")
                    )
                    if run.averaging and progress.avg is not None:
                        if (
                            _objective(run, progress.avg, train)[0]
                            < _objective(run, done[0], train)[0]
                        ):
                            done = (progress.avg, done[1], progress.snapshot())
                            progress.kept_how = (
                                " (the average of the epochs since the last plateau)"
                            )
                    if not incremental and self.tol is not None:
                        _warn(
                            f"{type(self).__name__}: max_iter={self.max_iter} epochs "
                            "reached before convergence. Increase max_iter, or "
                            "raise tol.",
                            ConvergenceWarning,
                        )
            except KeyboardInterrupt:
                progress.restore(done[2])
                progress.stop_reason = "interrupted (KeyboardInterrupt)"
                interrupted = True
        theta, best_theta = done[0], done[1]
        progress.kept_epoch = progress.n_iter
        if val is not None and progress.curves["validation_scores_"]:
            theta = best_theta  # early stopping restores the best epoch
            progress.kept_epoch = best_epoch
            progress.kept_how = " (the best validation score)"
        return theta, lowest, interrupted

    def _epoch(self, run: _Run, progress: _Progress, theta, train, val):
        lr = run.schedule(progress.n_iter) * progress.lr_scale
        theta, loss, grad_norm, gd_stat = self._run_epoch(
            run, progress, theta, train, lr
        )
        progress.n_iter += 1
        curves = progress.curves
        curves["loss_curve_"].append(loss)
        progress.best_loss = min(progress.best_loss, loss)
        curves["learning_rate_curve_"].append(lr)
        curves["grad_norm_curve_"].append(grad_norm)
        improved = False
        if val is not None:
            sums, val_loss = output_sum(
                val, _scored, run.model, theta, self._score_sums(), run.loss, val.total
            )
            score = self._score_value(sums, val)
            curves["validation_scores_"].append(score)
            curves["validation_loss_curve_"].append(val_loss)
            metric, improved = score, score > progress.best_score
        else:
            metric = -loss
        self._log_epoch(progress)
        scale = progress.lr_scale
        stop = self._should_stop(run, progress, metric, gd_stat)
        if run.averaging and val is None:
            theta, stop = self._average(run, progress, theta, train, stop, scale)
        return theta, stop, improved

    def _average(self, run: _Run, progress: _Progress, theta, train, stop, scale):
        """Tail averaging (Polyak-Ruppert) of the mini-batch iterates.

        The average runs over the epochs since the objective last improved,
        the stationary tail at the current rate (an improving epoch restarts
        it). At a plateau (a rate cut or the stop) it replaces the last
        iterate when its training objective is lower; and the fit stops as
        soon as the average is provably within ``tol`` of the optimum.
        """
        gap = None
        if progress.avg is not None:
            gap = self._certified_gap(run, progress.avg)
        # provably within a tenth of tol of the optimum: tol bounds the
        # decrease per epoch of the plateau rule, this the distance itself
        if gap is not None and gap <= 0.1 * self._tol(1.0):
            progress.stop_reason = (
                "the averaged weights are provably within tol / 10 of the optimum"
            )
            progress.kept_how = " (the average of the epochs since the last plateau)"
            return progress.avg, True
        if (stop or progress.lr_scale != scale) and progress.avg is not None:
            if (
                _objective(run, progress.avg, train)[0]
                < _objective(run, theta, train)[0]
            ):
                theta = progress.avg
                if stop:
                    progress.kept_how = (
                        " (the average of the epochs since the last plateau)"
                    )
            progress.avg, progress.avg_count = theta, 1
        elif progress.no_improvement == 0 or progress.avg is None:
            progress.avg, progress.avg_count = theta, 1
        return theta, stop

    def _run_epoch(self, run: _Run, progress: _Progress, theta, data, lr):
        model, penalty, optimizer = run.model, run.penalty, run.optimizer
        state = progress.opt_state
        grad = np.empty_like(theta)
        loss_sum = weight_sum = norm_sum = 0.0
        n_steps = 0
        gd_stat = np.inf
        n, weight = data.shape[0], float(data.total)
        if run.full_batch:
            # one step on all rows: a full-batch sum, wherever they live
            batches: Any = [(None, None, None)]
        else:
            batches = data.batches(
                run.batch_size, self.shuffle, progress.rng, light=model.light_rows
            )
        for X_b, Y_b, sw_b in batches:
            w = weight if sw_b is None else float(sw_b.sum())
            if not w > 0:
                continue  # a batch of zero-weight rows carries no gradient
            # b rows stand for the share b / n of the data: normalizing by that
            # share of the weight, not by the batch's own weight (a ratio
            # estimator, biased when weights vary), keeps the batch gradient
            # an unbiased estimate of the full one; without weights both are b
            b = n if sw_b is None else sw_b.shape[0]
            total = None if b == n else weight * b / n
            point = optimizer.lookahead(theta, state)
            if X_b is None and run.stats is not None:
                loss = run.stats.value_and_grad(point, grad)
            elif X_b is None:
                loss, grad = data.full_sum(
                    value_and_grad, model, run.loss, point, data.total
                )
            else:
                raw, cache = model.forward(point, X_b)
                loss, draw = run.loss(raw, Y_b, sw_b, total)
                model.backward(point, X_b, draw, cache, grad)
            loss += penalty.value(point)
            penalty.add_grad(point, grad)
            self._check_divergence(loss, progress)
            norm_sum += _clip(grad, run.clip_norm, run.clip_value)
            theta, state = optimizer.update(theta, grad, state, lr, penalty.prox)
            if run.averaging and progress.avg is not None:
                # a new array each step: snapshots keep the old one
                progress.avg_count += 1
                progress.avg = progress.avg + (theta - progress.avg) / (
                    progress.avg_count
                )
            if run.full_batch and lr > 0:
                gd_stat = float(np.max(np.abs(theta - point), initial=0.0)) / lr
            w = w if total is None else total
            loss_sum += loss * w
            weight_sum += w
            n_steps += 1
            if (progress.t + n_steps) % _SUBNORMAL_SWEEP == 0:
                state = without_subnormals(state)
        if not np.all(np.isfinite(theta)):
            self._check_divergence(np.inf, progress)
        if run.full_batch and gd_stat <= self._tol(progress.grad_unit):
            # stationarity was measured where the gradient was taken; a last
            # step that went uphill (a rate far beyond 2 / L, e.g. a converged
            # fit warm-started with a huge rate) is not an answer: go on
            if _objective(run, theta, data)[0] > loss + 1e-6 * progress.loss_ref:
                gd_stat = np.inf
        progress.opt_state = state
        progress.t += n_steps
        return theta, loss_sum / weight_sum, norm_sum / max(n_steps, 1), gd_stat

    def _check_divergence(self, loss: float, progress: _Progress) -> None:
        limit = _DIVERGENCE_FACTOR * progress.loss_ref
        if np.isfinite(loss) and loss <= limit:
            return
        what = "became non-finite" if not np.isfinite(loss) else f"reached {loss:.3g}"
        raise self._divergence_error(
            f"in epoch {progress.n_iter + 1}: the training objective {what} "
            f"(reference {progress.loss_ref:.3g})",
            progress,
        )

    def _check_final(self, run: _Run, progress: _Progress, theta, lowest, train, start):
        """A fresh fit never returns a model worse than where it started.

        A climb slower than the divergence guard's factor can stall the
        no-improvement rule, which then stops on the worst epoch. Such a fit
        falls back, with a warning, to the parameters that entered its epoch
        of lowest training loss when those beat the start, and raises
        otherwise.
        """
        # rounding: the residuals of targets far from 0 carry the ulp of the
        # targets, which puts the objective off by about 2 eps sqrt(ref start)
        eps = float(np.finfo(theta.dtype).eps)
        slack = 1e-4 * start + 4 * eps * np.sqrt(progress.loss_ref * start)
        final, raw = _objective(run, theta, train)
        if final <= start + slack:
            return theta, raw
        fallback, raw = _objective(run, lowest, train)
        if fallback <= start + slack:
            progress.kept_epoch = progress.lowest_epoch
            progress.kept_how = " (the lowest training objective)"
            _warn(
                f"{type(self).__name__}: the training objective ended at "
                f"{final:.3g}, above its starting value {start:.3g}; returning "
                f"the weights of the epoch of lowest training loss ({fallback:.3g})."
                " Lower learning_rate_init, scale the features, or set clip_norm.",
                ConvergenceWarning,
            )
            return lowest, raw
        raise self._divergence_error(
            f": after {progress.n_iter} epochs the training objective ended at "
            f"{final:.3g}, above its starting value {start:.3g}",
            progress,
        )

    def _check_constant(self, run: _Run, progress: _Progress, theta, train, raw):
        """Warn when ``fit`` returns a model that does worse on the rows given
        (all those passed to ``fit``) than the best constant prediction;
        ``raw`` is the output at ``theta``, or None."""
        shortfall = self._worse_than_constant(run, theta, train, raw)
        if shortfall is None:
            return
        _warn(
            f"{type(self).__name__}: after {progress.n_iter} epochs {shortfall}: "
            "the model is worse than a constant. Scale the features (e.g. "
            "StandardScaler), tune learning_rate_init (the rate was "
            f"{progress.learning_rate:.3g}), or raise max_iter.",
            ConvergenceWarning,
        )

    def _check_shortfall(self, run: _Run, progress: _Progress, theta, train, raw):
        """Warn when the full gradient at the end proves that the training
        objective could still fall by a relevant amount: a mini-batch fit
        stopped on its noise floor, or at a rate far off."""
        shortfall = self._shortfall(run, theta, train, raw)
        if shortfall is None:
            return
        _warn(
            f"{type(self).__name__}: after {progress.n_iter} epochs {shortfall}: "
            "the mini-batch steps stopped on their noise floor, or the rate "
            f"({progress.learning_rate:.3g}) was far off. Keep learning_rate="
            "'auto' (it cuts the rate on plateaus), raise max_iter, lower tol, "
            "or use solver='gd'.",
            ConvergenceWarning,
        )

    def _shortfall(self, run: _Run, theta, train, raw) -> str | None:
        """How far the objective provably is from its minimum (a clause for
        the warning), or None when that is small or unknown."""
        return None

    def _divergence_error(self, where: str, progress: _Progress) -> ValueError:
        sep = "" if where.startswith(":") else " "
        return ValueError(
            f"{type(self).__name__} diverged{sep}{where}. "
            "Scale the features (e.g. StandardScaler), lower learning_rate_init "
            f"(the rate was {progress.learning_rate:.3g}), or set clip_norm."
        )

    def _tol(self, unit: float) -> float:
        # tol=None: no stopping rule, exactly max_iter epochs
        return -np.inf if self.tol is None else self.tol * unit

    def _should_stop(self, run: _Run, progress: _Progress, metric, gd_stat) -> bool:
        # the counter tracks the validation score, or minus the training loss
        unit = 1.0 if self.early_stopping else progress.loss_unit
        if metric > progress.best_score + self._tol(unit):
            progress.no_improvement = 0
        else:
            progress.no_improvement += 1
        progress.best_score = max(progress.best_score, metric)
        if self.tol is None or run.incremental:
            # partial_fit runs one epoch per call and never cuts the rate: the
            # losses of successive chunks are not a plateau to watch
            return False
        if run.full_batch and gd_stat <= self._tol(progress.grad_unit):
            # full batch: the proximal gradient has vanished
            progress.stop_reason = (
                f"the largest entry of the proximal gradient ({gd_stat:.3g}) is at "
                f"most tol times its unit ({self._tol(progress.grad_unit):.3g})"
            )
            return True
        if progress.no_improvement < self.n_iter_no_change:
            return False
        what = "validation score" if self.early_stopping else "training objective"
        progress.stop_reason = (
            f"the {what} did not improve by tol for {self.n_iter_no_change} "
            "consecutive epochs"
        )
        if run.schedule_name == "adaptive":
            lr = run.schedule(progress.n_iter) * progress.lr_scale
            if lr / 5 > _MIN_ADAPTIVE_LR:
                progress.lr_scale /= 5
                progress.no_improvement = 0
                return False
            progress.stop_reason += f" at the smallest 'adaptive' rate ({lr:.3g})"
            return True
        # full-batch descent stops on its gradient, unless early stopping
        return self.early_stopping or not run.full_batch

    def _log_epoch(self, progress: _Progress) -> None:
        if not self.verbose:
            return
        c = progress.curves
        line = f"Epoch {progress.n_iter}, loss = {c['loss_curve_'][-1]:.8f}"
        if c["validation_scores_"] and len(c["validation_scores_"]) == len(
            c["loss_curve_"]
        ):
            line += f", validation score = {c['validation_scores_'][-1]:.6f}"
        line += f", learning rate = {c['learning_rate_curve_'][-1]:.3g}"
        print(line + f", time = {time.perf_counter() - self._clock:.2f} s")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _same_layout(a: dict[str, Array], b: dict[str, Array]) -> bool:
    """Whether two optimizer states hold the same arrays' shapes."""
    return a.keys() == b.keys() and all(np.shape(a[k]) == np.shape(b[k]) for k in a)


def _auto_batch_size(data: Any) -> int:
    """``batch_size='auto'``: ``min(200, n)`` rows; on sparse rows, more
    where 200 hold fewer than about twice as many nonzeros as there are
    features, up to a twentieth of the rows. A step also costs O(n_features)
    of dense work (the coefficients, the optimizer); on wide sparse data a
    batch of 200 rows holds far fewer entries than that, and the dense work
    would dominate."""
    n, d = data.shape
    size = 200
    if data.sparse and n > 0:
        per_row = max(data.nnz / n, 1.0)
        size = max(size, min(math.ceil(2 * d / per_row), n // 20))
    return min(size, n)


def _step_size(data: Any, batch_size: int, model) -> int:
    """The multiply-adds of a step's products: the batch's entries (its
    nonzeros, for sparse rows) times the outputs of the first layer, or
    the parameters' count when that is larger."""
    n, d = data.shape
    per_row = data.nnz / max(n, 1)
    first = model.n_penalized / max(d, 1)
    return int(max(batch_size * per_row * first, model.size))


def _input_size(X: Any) -> int:
    """The entries of ``X`` (its nonzeros, when sparse), as passed."""
    nnz = getattr(X, "nnz", None)
    if nnz is not None:
        return int(nnz)
    shape = getattr(X, "shape", None)
    if shape is None:
        try:
            shape = np.shape(X)
        except TypeError:  # an array-like that refuses numpy's functions
            return _SMALL_STEP  # unknown: BLAS keeps its threads
    size = float(np.prod(shape, dtype=np.float64))
    # dask arrays of unknown chunk sizes have NaN dimensions
    return int(size) if np.isfinite(size) else _SMALL_STEP


def _blas_threads(step_size: int):
    """One BLAS thread for the epochs when a step's products are small.

    A step multiplies a batch by the weights (``batch rows x weights``
    multiply-adds, three products per step): below about 3e7 of them,
    several BLAS threads spin and fight more than they share, and timings
    vary tenfold on a busy 2-core machine. Larger steps keep BLAS as it is.
    """
    if _THREADPOOLS is None or step_size >= _SMALL_STEP:
        return contextlib.nullcontext()
    return _THREADPOOLS.limit(limits=1, user_api="blas")


def _warn(message: str, category: type[Warning]) -> None:
    """Warn at the caller's line: the first frame outside skgd, outside
    ``sklearn.base`` (the ``_fit_context`` wrapper, ``fit_transform``) and
    outside ``sklearn.callback`` (the callbacks' wrapper of the fit).

    A fixed ``stacklevel`` would point into this package, since the same
    warning is raised at different depths of the training loop.
    """
    frame, level = sys._getframe(1), 2
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (
            module == "skgd"
            or module.startswith(("skgd.", "sklearn.callback."))
            or module == "sklearn.base"
        ):
            break
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def expected_smoothness(L: float, L_max: float, n: int, b: int) -> float:
    """The curvature that bounds a mini-batch step: for batches of ``b`` of
    the ``n`` rows, ``n (b - 1) / (b (n - 1)) L + (n - b) / (b (n - 1))
    L_max`` (Gower et al., 2019), with ``L`` the full batch's and ``L_max``
    the largest one-row curvature."""
    if 1 < b < n:
        return (n * (b - 1) * L + (n - b) * L_max) / (b * (n - 1))
    if b == 1 < n:
        return L_max
    return L


def column_sums(X: Any, Y: Array, sw: Array) -> Array:
    """``X.T @ sw``: the weighted column sums of these rows."""
    return np.asarray(X.T @ sw).ravel()


def value_and_grad(X: Any, Y: Array, sw: Array, model, loss, theta, total):
    """The loss of these rows at ``theta`` (their share of ``total``, the
    whole data's weight) and its gradient: one forward and one backward
    pass."""
    raw, cache = model.forward(theta, X)
    value, draw = loss(raw, Y, sw, total)
    return value, model.backward(theta, X, draw, cache, np.empty_like(theta))


def forward_rows(X: Any, Y: Array, sw: Array, model, theta) -> Array:
    """The raw output of these rows at ``theta``."""
    return model.forward(theta, X)[0]


def output_sum(data, fn: Callable, model, theta: Array, *args: Any, raw=None) -> Any:
    """``fn(raw, Y, sw, *args)`` summed over the blocks of ``data``, ``raw``
    the block's output at ``theta``; the whole output ``raw``, when in memory,
    spares the forward pass."""
    if raw is not None:
        return fn(raw, data.Y, data.sw, *args)
    return data.full_sum(_on_output, fn, model, theta, args)


def _on_output(X: Any, Y: Array, sw: Array, fn, model, theta, args) -> Any:
    return fn(model.forward(theta, X)[0], Y, sw, *args)


def _loss_value(raw: Array, Y: Array, sw: Array, loss, total) -> float:
    return loss(raw, Y, sw, total)[0]


def _null_loss(raw: Array, Y: Array, sw: Array, loss, total) -> float:
    """The loss of the all-zero output."""
    return loss(np.zeros_like(raw), Y, sw, total)[0]


def _scored(raw: Array, Y: Array, sw: Array, score_sums, loss, total) -> tuple:
    """The validation score's sums and the loss of a block."""
    return score_sums(raw, Y, sw), loss(raw, Y, sw, total)[0]


def _same_key(a: tuple, b: tuple | None) -> bool:
    if b is None or len(a) != len(b):
        return False
    return all(
        np.array_equal(u, v) if isinstance(u, np.ndarray) else u == v
        for u, v in zip(a, b, strict=True)
    )


def _clip(grad: Array, clip_norm: float | None, clip_value: float | None) -> float:
    """Clip ``grad`` in place; return its L2 norm before clipping."""
    norm = float(np.sqrt(np.dot(grad, grad)))
    if clip_value is not None:
        np.clip(grad, -clip_value, clip_value, out=grad)
    if clip_norm is not None:
        clipped = float(np.sqrt(np.dot(grad, grad)))
        if clipped > clip_norm:
            grad *= clip_norm / clipped
    return norm


def _objective(run: _Run, theta: Array, data) -> tuple[float, Array]:
    """The training objective (loss plus penalty) at ``theta``, and the raw
    output it was computed from."""
    if run.stats is not None:
        return run.stats.value(theta) + run.penalty.value(theta), None
    # in memory the output is kept: the end-of-fit checks score it again
    raw = data.map_rows(forward_rows, run.model, theta) if data.local else None
    value = output_sum(
        data, _loss_value, run.model, theta, run.loss, data.total, raw=raw
    )
    return value + run.penalty.value(theta), raw


def _reference_loss(run: _Run, theta: Array, data) -> tuple[float, float]:
    """The divergence guard's reference scale, and the starting objective."""
    if run.stats is not None:
        start = run.stats.value(theta) + run.penalty.value(theta)
        null = run.stats.null_value()
    else:
        start, raw = _objective(run, theta, data)
        null = output_sum(
            data, _null_loss, run.model, theta, run.loss, data.total, raw=raw
        )
    ref = max(start, null)
    return (ref if np.isfinite(ref) and ref > 0 else 1.0), start
