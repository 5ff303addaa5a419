"""What the linear estimators share: the preconditioned linear model, its
start and its 'auto' rates.

:class:`~skgd.GDRegressor` and :class:`~skgd.GDClassifier` differ in their
targets and loss only; the change of variables (centering, scaling,
whitening), the 'auto' learning rate from the curvature, averaging and the
layout of ``coef_`` live here, behind a few hooks:

- ``_closed_form_intercept``: least squares, whose intercept is set at the
  weighted mean of the targets rather than optimized;
- ``_output_scale(Y, sw)``: the unit the coefficients are measured in, per
  output (the targets' deviations for a regressor's adaptive solvers);
- ``_start_intercept(Y, sw)``: the intercepts of the best constant model;
- ``_loss_curvature()``: the largest second derivative of the loss in the
  raw output, which turns the curvature of least squares into the loss's;
- ``_rate_unit()``: the factor on the adaptive solvers' 'auto' rates.
"""

import numpy as np

from skgd._base import BaseGD, column_sums, expected_smoothness, value_and_grad
from skgd._data import target_stats
from skgd._models import (
    LinearModel,
    moments,
    standardized_gram,
    weighted_mean_scale,
    whitening,
)
from skgd._optimizers import ADAPTIVE_SOLVERS
from skgd._penalties import ElasticNet, make_penalty
from skgd._validation import Interval, Real, StrOptions

# 'auto' rates of the adaptive solvers, whose step does not scale with the
# curvature (Adam moves each coordinate by about lr per step), in units of the
# coefficients (for a regressor: of the targets' deviations); Adagrad's steps
# shrink as 1 / sqrt(t), and Adadelta's first step is the rate times
# sqrt(epsilon) (1e-4 at Zeiler's rate 1: too slow a start for the
# no-improvement rule)
_ADAPTIVE_AUTO_LR = {
    "adam": 0.01,
    "adamw": 0.01,
    "rmsprop": 0.01,
    "adagrad": 0.1,
    "adadelta": 10.0,
}
# the full preconditioner's d x d matrices are built for at most this many features
_MAX_WHITEN = 1000
# the end-of-fit check builds the Hessian on the rows at hand only below this
# many multiply-adds (about half a second): it must not cost more than a fit
_HESSIAN_FLOPS = 1e10
# a fresh single-output fit ends with R² >= -1e-4 (the final-objective check);
# below this, a training R² (or a share of the objective) is a real
# shortfall, not rounding or an orbit
_R2_SLACK = 1e-3


class _LinearBase(BaseGD):
    """Base of the linear estimators: ``raw = X @ W + b`` in preconditioned
    coordinates (see :class:`~skgd._models.LinearModel`)."""

    _parameter_constraints: dict = {
        **BaseGD._parameter_constraints,
        "fit_intercept": ["boolean"],
        "precondition": ["boolean", StrOptions({"diagonal"})],
        "average": ["boolean", StrOptions({"auto"})],
        "learning_rate_init": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="neither"),
        ],
    }

    _first_call_statistics = True

    # ------------------------------------------------------------ sub-hooks
    @property
    def _closed_form_intercept(self) -> bool:
        return False

    def _output_scale(self, data) -> np.ndarray | None:
        return None

    def _start_intercept(self, data, incremental=False) -> np.ndarray:
        return np.zeros(data.n_targets)

    def _loss_curvature(self) -> float:
        return 1.0

    def _rate_unit(self) -> float:
        return 1.0

    def _wants_gram(self, data) -> bool:
        """Whether the Gram matrix is wanted even without the full
        preconditioner (the regressor's ``precompute=True``)."""
        return False

    # ---------------------------------------------------------------- hooks
    def _make_model(self, data, *, reset):
        if reset:
            self._set_statistics(data)
            same_data = True
        else:
            # a warm start or later partial_fit call on the rows the statistics
            # came from keeps the intercept at its closed form; other rows
            # (a stream of chunks) leave it to the optimizer
            same_data = self._stats_key is not None and _same_data(
                self._stats_key, _data_key(data)
            )
        whiten = self._x_whiten
        if whiten is not None and self._strengths().l1:
            whiten = None  # a warm start switched to an L1 penalty
        model = LinearModel(
            data.shape[1],
            data.n_targets,
            self.fit_intercept,
            self._x_mean,
            self._x_scale,
            self._y_scale,
            # centered on these rows, least squares puts c at mean(y) exactly
            fixed_intercept=same_data
            and bool(self.precondition)
            and self._closed_form_intercept,
            whiten=whiten,
        )
        # the statistics describe these rows: a warm start or later
        # partial_fit call on them continues from them (bit for bit)
        model.on_stats_rows = same_data
        if same_data and self._stats is not None:
            d = data.shape[1]
            model.gram = self._stats[0][: d + 1, : d + 1]
        return model

    def _set_statistics(self, data) -> None:
        """The change of variables, from the rows of the first call: one pass
        over ``X`` for the means and scales, and, for the full
        preconditioner, the Gram matrix (least squares: with the targets,
        its sufficient statistics)."""
        mean = scale = out = whiten = gram = gram_y_mean = None
        out_scale = self._output_scale(data)
        exact = self._closed_form_intercept
        if self.precondition:
            full = self._can_whiten(data)
            if full or self._wants_gram(data):
                d = data.shape[1]
                mean, scale, gram_y_mean, gram = moments(
                    data, self.fit_intercept, targets=exact
                )
                if full:
                    whiten = whitening(gram[:d, :d], self._strengths().l2 / scale**2)
            else:
                mean, scale = weighted_mean_scale(data, center=self.fit_intercept)
            out = out_scale
        self._x_mean, self._x_scale, self._y_scale = mean, scale, out
        self._x_whiten = whiten
        self._stats = None if gram is None or not exact else (gram, gram_y_mean)
        if not exact:
            self._stats_key = None
        elif gram is not None:
            # the key's column sums are the moments' means times the weight:
            # no extra pass (later calls compare to 1e-12)
            d, total = data.shape[1], data.weight
            raw_y = gram_y_mean if self.fit_intercept else gram[d, d + 1 :]
            self._stats_key = (data.shape, total, mean * total, raw_y * total)
        else:
            self._stats_key = _data_key(data)

    def _averaging(self, full_batch, incremental):
        if full_batch or incremental or self.early_stopping or not self.average:
            return False
        if self.average == "auto":
            # tol=None asks for plain epochs; 'auto' averages where it also
            # picks the schedule
            return self.learning_rate == "auto" and self.tol is not None
        return True

    def _strengths(self) -> ElasticNet:
        """The penalty's L1 and L2 strengths (``.l1``, ``.l2``), as the loop
        builds them."""
        return make_penalty(self.penalty, self.alpha, self.l1_ratio, 0)

    def _can_whiten(self, data) -> bool:
        """Whether the full (whitening) preconditioner applies: dense data,
        no L1 part (its proximal step needs per-coordinate weights), and a
        Gram matrix that is small and of full rank."""
        d = data.shape[1]
        return (
            self.precondition is True
            and not data.sparse
            and not self._strengths().l1
            and d <= _MAX_WHITEN
            and d < data.positive
        )

    def _initial_theta(self, model, data, rng, incremental=False):
        theta = model.init(rng, data.dtype)
        if self.fit_intercept:
            # starting at the best constant removes the intercept's slow mode
            b0 = self._start_intercept(data, incremental)
            theta[model.n_penalized :] = model.intercept_at(b0, data.dtype)
        return theta

    def _resolve_learning_rate(self, model, penalty, data, batch_size, theta):
        if self.learning_rate_init != "auto":
            return float(self.learning_rate_init)
        if self.solver in ADAPTIVE_SOLVERS:
            # a step of about the rate per coordinate
            return _ADAPTIVE_AUTO_LR[self.solver] * self._rate_unit()
        n, b = data.positive, batch_size
        L, L_max = model.curvature(data, penalty.l2, row_max=b < n)
        # the loss's second derivative in the raw output is at most c, so its
        # Hessian is at most c times that of least squares; curvature()
        # includes the L2 term, which c must not shrink
        c = self._loss_curvature()
        L = c * L + max(0.0, 1.0 - c) * penalty.curvature
        L_max = c * L_max + penalty.curvature
        L = expected_smoothness(L, L_max, n, b)
        lr = 1.0 / L if L > 0 else 1.0
        if self.solver == "sgd":
            # momentum multiplies the long-run step by 1 / (1 - momentum); full
            # batches ('gd') afford the larger step thanks to the restarts
            lr *= 1.0 - self.momentum
        return lr

    def _auto_schedule(self, full_batch, incremental):
        # a constant rate leaves mini-batch steps at their noise floor; 'gd'
        # converges at a constant rate. partial_fit calls (chunks of a stream)
        # decay it per call, as SGDRegressor's partial_fit does
        if full_batch:
            return "constant"
        return "invscaling" if incremental else "adaptive"

    def _grad_unit(self, model):
        # in units of std(y) per target, a gradient entry of target o carries
        # out_o**2 (the parameter's unit times the residual's): epsilon, a
        # guard against dividing by zero, must not depend on the unit of y
        if self._y_scale is None:
            return 1.0
        out2 = model.out_scale**2
        unit = np.tile(out2, model.n_features)
        if model.fit_intercept:
            unit = np.concatenate([unit, out2])
        return unit

    def _certified_shares(self, run, theta):
        """Per output, the exact share of its unit by which the objective at
        ``theta`` is above its minimum, without a pass over the rows, or
        None (least squares overrides it)."""
        return None

    def _constant_loss(self, data, dtype) -> float:
        """The mean loss of the best constant model (the start), on the rows
        ``data``."""
        const = np.asarray(self._start_intercept(data), dtype=dtype)
        return float(data.target_sum(_constant_block, const, self._loss(), data.total))

    def _shortfall(self, run, theta, train, raw):
        # the loss's second derivative is at most c, so its Hessian is at
        # most H = c Z'Z + the penalty's (Z: the rows in the solver's
        # coordinates), and the step -H^+ g lowers the objective by at least
        # g' H^+ g / 2: a proof that it can still fall that much (for least
        # squares, c = 1, it is exact with the intercept at its closed form)
        if not self.precondition or run.penalty.l1:
            return None
        share = self._certified_shares(run, theta)
        if share is None:
            gain = self._provable_gain(run, theta, train)
            if gain is None:
                return None
            share = self._gain_shares(gain, run, train)
        bad = np.flatnonzero(share > _R2_SLACK)
        if not bad.size:
            return None
        # rounded down: the number is a bound, and must stay one when printed
        shown = np.floor(share / _decade(share) * 100) * _decade(share) / 100
        return self._shortfall_clause(bad, shown, train.n_targets)

    def _provable_gain(self, run, theta, train):
        """Per output, a decrease of the objective that one step provably
        achieves from ``theta`` (``g' H^+ g / 2``), or None where the
        Hessian bound is not at hand."""
        model, penalty = run.model, run.penalty
        c = self._loss_curvature()
        # the training rows' moments, when they were computed (no pass)
        H = self._coefficient_hessian(model, penalty, train, c, gram=model.gram)
        if H is None and not model.on_stats_rows:
            return None
        G, g_b = self._end_gradient(run, theta, train)
        d = model.n_features
        if H is None:
            # sparse or wide, on the statistics' rows: standardized columns,
            # whose diagonal Hessian is at most c + l2 / scale**2 (the gain of
            # the best one-coordinate step, a lower bound)
            h = c + penalty.l2 / model.scale[:, None] ** 2
            gain = 0.5 * np.max(G**2 / h, axis=0, initial=0.0)
        else:
            if H.shape[0] > d:  # the intercepts move too
                G = np.vstack([G, g_b])
            gain = _half_inverse_norm(H, G)
        return gain / model.out_scale**2

    def _end_gradient(self, run, theta, train):
        """The full gradient at ``theta`` in the solver's coordinates: the
        coefficients' block (n_features, n_outputs) and the intercepts'."""
        model, penalty = run.model, run.penalty
        if run.stats is not None:
            # least squares on the statistics' rows: from the moments
            grad = np.empty(theta.shape, dtype=np.float64)
            run.stats.value_and_grad(theta, grad)
            theta = theta.astype(np.float64)
        else:
            _, grad = train.full_sum(
                value_and_grad, model, run.loss, theta, train.total
            )
        penalty.add_grad(theta, grad)
        k, d, n_out = model.n_penalized, model.n_features, model.n_outputs
        G = grad[:k].reshape(d, n_out).astype(np.float64)
        return G, grad[k:].astype(np.float64)

    def _coefficient_hessian(self, model, penalty, data, c=1.0, gram=None):
        """``c`` times the Hessian of least squares plus the penalty's, in
        the coefficients and the intercept when it is optimized (one output,
        unit ``out_scale``), in the solver's coordinates, on the rows at
        hand: one pass over dense ``X`` (at most 1000 features and 1e10
        multiply-adds, so that the check stays cheap next to the fit); None
        otherwise."""
        d = model.n_features
        if data.sparse or d > _MAX_WHITEN or data.shape[0] * d * d > _HESSIAN_FLOPS:
            return None
        m, s = model.mean / model.scale, 1.0 / model.scale
        G = gram if gram is not None else standardized_gram(data, m, s)
        H = c * G
        H[:d, :d] += penalty.l2 * np.diag(s**2)
        if model.whiten is not None:
            H[:d, :] = model.whiten.T @ H[:d, :]
            H[:, :d] = H[:, :d] @ model.whiten
        # the intercepts' block when they are optimized (off their closed form)
        return H if model.fit_intercept and not model.fixed_intercept else H[:d, :d]

    def _gain_shares(self, gain, run, data):
        """The provable gains as shares of the unit the warning speaks in:
        by default, all outputs together, of the best constant's objective."""
        null = self._constant_loss(data, np.float64)
        return np.array([float(np.sum(gain)) / max(null, np.finfo(np.float64).tiny)])

    def _shortfall_clause(self, bad, shown, n_targets):
        return (
            f"the training objective can still fall by at least {shown[0]:.3g} "
            "times that of the best constant model (the full gradient at the "
            "end proves it)"
        )

    def _pack(self, model, dtype):
        W = np.asarray(self.coef_).reshape(-1, self.n_features_in_).T
        return model.from_coef(W, self.intercept_, dtype)

    def _unpack(self, model, theta):
        W, b = model.coef(theta)
        self.coef_, self.intercept_ = W.T.copy(), b.copy()


def _data_key(data) -> tuple:
    """What identifies the training rows: their count, weight sum and the
    weighted column sums of ``X`` and ``Y`` (one pass over ``X``)."""
    stats = target_stats(data)
    return (
        data.shape,
        data.weight,
        data.full_sum(column_sums).astype(np.float64),
        stats.mean * stats.total,
    )


def _same_data(a: tuple | None, b: tuple) -> bool:
    if a is None or a[0] != b[0]:
        return False
    return all(
        np.allclose(u, v, rtol=1e-12, atol=0) for u, v in zip(a[1:], b[1:], strict=True)
    )


def _half_inverse_norm(H: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``g' H^+ g / 2`` for each column ``g`` of ``G``, through the
    eigenvalues of the symmetric ``H`` (exact where it is singular, for
    gradients in its range)."""
    w, U = np.linalg.eigh(H)
    keep = w > 1e-12 * max(float(w[-1]), np.finfo(np.float64).tiny)
    proj = U[:, keep].T @ G
    return 0.5 * np.sum(proj**2 / w[keep][:, None], axis=0)


def _constant_block(Y, sw, const, loss, total) -> float:
    """The loss of the constant output ``const`` on these rows."""
    raw = np.broadcast_to(const, Y.shape)
    return loss(np.array(raw), Y, sw, total)[0]


def _targets_clause(bad, values, n_targets: int, fmt: str) -> tuple[str, str]:
    """`` of target(s) [i, ...]`` (for several targets) and their values."""
    which = f" of target(s) {bad.tolist()}" if n_targets > 1 else ""
    return which, ", ".join(fmt.format(v) for v in values[bad])


def _decade(values: np.ndarray) -> np.ndarray:
    """The power of ten of each positive value (1 for 0)."""
    safe = np.where(values > 0, values, 1.0)
    return 10.0 ** np.floor(np.log10(safe))
