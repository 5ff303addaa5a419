"""GDRegressor: linear least squares with elastic-net penalties, by gradient descent."""

from functools import partial

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted

from skgd._base import _warn, output_sum
from skgd._dask import blockwise
from skgd._data import LeastSquaresStats, target_stats
from skgd._docstrings import fill_doc
from skgd._linear_base import (
    _LinearBase,
    _targets_clause,
)
from skgd._losses import huber, squared_error
from skgd._optimizers import ADAPTIVE_SOLVERS, FULL_BATCH_SOLVERS
from skgd._regression import _RegressionTargets
from skgd._validation import Interval, Real, StrOptions, _fit_context, validate_data

# a Huber fit with more than this share of its residuals beyond the
# threshold is nearly a least-absolute-deviation fit (see _check_huber_threshold)
_HUBER_BEYOND = 0.9


@fill_doc
class GDRegressor(_RegressionTargets, RegressorMixin, _LinearBase):
    """Linear regression trained by gradient descent, SGD or Adam.

    Minimizes the elastic-net objective of :class:`~sklearn.linear_model.ElasticNet`
    (see Notes) with full-batch gradient descent, mini-batch stochastic gradient
    descent or Adam. Full-batch descent uses a step from the Lipschitz constant,
    Nesterov momentum with adaptive restarts and, for L1 penalties, proximal
    (FISTA) steps, so that it reaches the closed-form solution.

    Parameters
    ----------
    loss : {'squared_error', 'huber'}, default='squared_error'
        The loss of the residuals ``r = y - X W - b``: half the squared error,
        or the Huber loss, ``r**2 / 2`` for ``|r| <= huber_epsilon`` and
        ``huber_epsilon * |r| - huber_epsilon**2 / 2`` beyond, which fits
        the bulk of the data by least squares and lets outliers pull only
        linearly (``SGDRegressor(loss='huber')``'s loss). The closed-form
        intercept, the sufficient statistics (``precompute``), the stopping
        certificate of ``average`` and the end-of-fit R² checks are those of
        least squares, used with 'squared_error' only.

    %(solver)s

    %(learning_rate_init)s

    %(learning_rate)s

    %(power_t)s

    %(penalty)s

    %(alpha)s

    %(l1_ratio)s

    %(fit_intercept)s

    %(precondition)s

    precompute : 'auto' or bool, default='auto'
        Whether full-batch 'gd' takes each epoch's loss and gradient from the
        weighted second moments of the standardized data (the Gram matrix
        ``Z.T @ Z``, ``Z.T @ y`` and ``y.T @ y``, computed in one pass over
        ``X``) instead of two passes over the rows: an epoch then costs
        ``O(n_features**2)`` whatever the number of samples, as in
        :class:`~sklearn.linear_model.ElasticNet`'s ``precompute``. The
        mini-batch solvers take the training objective they report and check
        (at the start, at the end, for averaging) from the same moments. The
        loss curve and every check stay the same, up to rounding. 'auto' uses it
        where the full preconditioner computes the Gram matrix anyway (see
        ``precondition``); True also on dense data that is only scaled (an
        L1 part, more than 1000 features); False never. It needs
        ``precondition`` and applies while the data are those of the first
        call (warm starts and partial_fit on other rows use the rows).

    %(average)s

    %(batch_size)s

    %(max_iter)s

    %(tol)s

    %(n_iter_no_change)s

    %(early_stopping)s

    %(validation_fraction)s

    %(momentum)s

    %(nesterovs_momentum)s

    %(beta_1)s

    %(beta_2)s

    %(epsilon)s

    huber_epsilon : float, default=0.1
        The threshold of the Huber loss, in the unit of ``y`` (not rescaled:
        ``SGDRegressor``'s ``epsilon``, not ``HuberRegressor``'s). Named
        apart from ``epsilon``, the adaptive solvers' stability constant.
        Only used when ``loss='huber'``.

    %(amsgrad)s

    %(weight_decay)s

    %(rho)s

    %(lr_step_size)s

    %(lr_gamma)s

    %(lr_restart_period)s

    %(lr_restart_mult)s

    %(lr_warmup)s

    %(clip_norm)s

    %(clip_value)s

    %(shuffle)s

    %(random_state)s

    %(warm_start)s

    %(verbose)s

    Attributes
    ----------
    %(n_iter_)s

    %(t_)s

    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        The weights, with the dtype of the training data (float32 or float64).

    intercept_ : float or ndarray of shape (n_targets,)
        The intercept (0.0 when ``fit_intercept=False``).

    learning_rate_init_ : float
        The initial step size used (the resolved value of 'auto').

    out_activation_ : str
        The output activation, always 'identity' (squared-error loss).

    loss_curve_ : list of float
        The training objective (penalty included) of each epoch: for 'gd' at
        the point where the gradient was taken, for the mini-batch solvers the
        weighted mean of the batch objectives.

    %(best_loss_)s

    %(best_epoch_)s

    %(stop_reason_)s

    validation_scores_ : list of float
        Validation R² after each epoch; empty without early stopping.

    validation_loss_curve_ : list of float
        Validation mean squared error / 2 after each epoch (no penalty); empty
        without early stopping.

    best_validation_score_ : float or None
        The best validation R², that of the restored weights; None without
        early stopping.

    %(learning_rate_curve_)s

    grad_norm_curve_ : list of float
        Mean L2 norm (before clipping) of the gradient of the smooth part of
        the objective over the steps of each epoch.

    %(n_features_in_)s

    %(feature_names_in_)s

    See Also
    --------
    sklearn.linear_model.LinearRegression : Closed-form least squares.
    sklearn.linear_model.ElasticNet : Coordinate descent on the same objective.
    sklearn.linear_model.SGDRegressor : One-sample stochastic gradient descent.
    GDMLPClassifier : Multi-layer perceptron classifier on the same machinery.

    Notes
    -----
    With sample weights ``s`` (all ones by default), the objective is

    .. math::

        \\frac{1}{2 \\sum_i s_i} \\sum_i s_i \\lVert y_i - x_i W - b \\rVert^2
        + \\alpha \\rho \\lVert W \\rVert_1
        + \\frac{\\alpha (1 - \\rho)}{2} \\lVert W \\rVert_2^2

    with ``rho = l1_ratio`` ('l2' means ``rho = 0``, 'l1' means ``rho = 1``,
    None means ``alpha = 0``). Hence ``penalty=None`` matches
    ``LinearRegression()``, 'l2' matches ``Ridge(alpha=alpha * n_samples)``,
    'l1' matches ``Lasso(alpha=alpha)`` and 'elasticnet' matches
    ``ElasticNet(alpha=alpha, l1_ratio=l1_ratio)``. Normalizing by the sum of
    the weights makes a weight of 2 the same as a repeated row. With
    ``loss='huber'`` each squared residual ``r**2 / 2`` is replaced by its Huber
    loss (see ``loss``), the objective of ``SGDRegressor(loss='huber',
    epsilon=huber_epsilon, alpha=alpha)`` (with its ``penalty``).

    One step on the parameter vector ``theta`` with gradient ``g`` of the
    smooth part, momentum ``mu`` and velocity ``v`` (the previous
    displacement) is ``theta' = prox(theta + mu v - lr g)`` with ``g`` taken at
    ``theta + mu v`` (Nesterov) or at ``theta`` (heavy ball), and ``prox`` the
    soft-thresholding of the weights by ``lr * alpha * rho``. 'gd' resets
    ``v`` to zero whenever the step goes uphill (O'Donoghue & Candès, 2015).
    The coefficients start at zero and the intercept at the weighted mean of
    ``y``.

    Reliability: a fit whose objective becomes non-finite or grows beyond 1e4
    times its starting scale raises a ``ValueError`` naming the epoch. A fresh
    ``fit`` whose final objective ends above its starting value falls back to
    the parameters of its epoch of lowest training loss with a
    ``ConvergenceWarning``, or raises if none beats the start. Every ``fit``
    (warm-started ones included; not ``partial_fit``) ends by computing the
    R² of each target on the rows passed to it: below -1e-3, worse than
    predicting the mean, it warns, naming the targets. A failed call leaves
    the estimator as it was; Ctrl-C keeps the last complete epoch and re-raises.
    The same ``random_state`` gives bit-identical results across
    processes; across BLAS thread counts results agree to about 1e-13
    (OpenBLAS splits its sums differently).

    References
    ----------
    Beck, A. & Teboulle, M. (2009). A fast iterative shrinkage-thresholding
    algorithm for linear inverse problems. SIAM J. Imaging Sciences 2(1).

    O'Donoghue, B. & Candès, E. (2015). Adaptive restart for accelerated
    gradient schemes. Foundations of Computational Mathematics 15.

    Gower, R. M. et al. (2019). SGD: general analysis and improved rates. ICML.

    Kingma, D. P. & Ba, J. (2015). Adam: a method for stochastic optimization.
    ICLR.

    Examples
    --------
    >>> import numpy as np
    >>> from skgd import GDRegressor
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 2.0]])
    >>> y = X @ np.array([2.0, -1.0]) + 0.5
    >>> reg = GDRegressor(tol=1e-10).fit(X, y)
    >>> np.round(reg.coef_, 4)
    array([ 2., -1.])
    >>> round(float(reg.intercept_), 4)
    0.5
    >>> reg.predict([[1.0, 1.0]]).round(4)
    array([1.5])
    """

    _parameter_constraints: dict = {
        **_LinearBase._parameter_constraints,
        "loss": [StrOptions({"squared_error", "huber"})],
        "huber_epsilon": [Interval(Real, 0, None, closed="neither")],
        "precompute": ["boolean", StrOptions({"auto"})],
    }
    _y_numeric = True

    def __init__(
        self,
        *,
        loss="squared_error",
        solver="gd",
        learning_rate_init="auto",
        learning_rate="auto",
        power_t=0.5,
        penalty=None,
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        precondition=True,
        precompute="auto",
        average="auto",
        batch_size="auto",
        max_iter=1000,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        huber_epsilon=0.1,
        amsgrad=False,
        weight_decay=0.0,
        rho=0.95,
        lr_step_size=10,
        lr_gamma=0.9,
        lr_restart_period=10,
        lr_restart_mult=2,
        lr_warmup=0,
        clip_norm=None,
        clip_value=None,
        shuffle=True,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self.loss = loss
        self.huber_epsilon = huber_epsilon
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precondition = precondition
        self.precompute = precompute
        self.average = average
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.weight_decay = weight_decay
        self.rho = rho
        self.lr_step_size = lr_step_size
        self.lr_gamma = lr_gamma
        self.lr_restart_period = lr_restart_period
        self.lr_restart_mult = lr_restart_mult
        self.lr_warmup = lr_warmup
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by running up to ``max_iter`` epochs.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data. Sparse CSR/CSC input stays sparse; a dask array is
            not gathered (see the user guide, Scaling out).

        y : {array-like, dask array} of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        sample_weight : {array-like, dask array} of shape (n_samples,), default=None
            Non-negative weights; a weight of 2 counts a row twice.

        Returns
        -------
        self : GDRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch on the given data, continuing the previous state.

        The weights, optimizer state (momentum, moments) and schedule position
        carry over between calls; early stopping is not used.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data. A dask array is not gathered: see the user
            guide, Scaling out.

        y : {array-like, dask array} of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        sample_weight : {array-like, dask array} of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : GDRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    @blockwise
    def predict(self, X):
        """Predict with the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples. A dask array gives a dask array, computed chunk by
            chunk where the chunks live.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted values.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            reset=False,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
        )
        return safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_

    # ----------------------------------------------------------------- hooks
    @property
    def _closed_form_intercept(self):
        return self.loss == "squared_error"

    def _loss(self):
        if self.loss == "huber":
            return partial(huber, epsilon=float(self.huber_epsilon))
        return squared_error

    def _output_scale(self, data):
        # per-target weighted deviations (root mean squares without
        # intercept, whose targets are not centered; 1 for a zero target)
        stats = target_stats(data)
        y_std = np.sqrt(stats.var if self.fit_intercept else stats.mean_sq)
        self._y_std = np.where(y_std > 0, y_std, 1.0).astype(np.float64)
        # the adaptive rules move every coordinate by about the rate: in
        # units of each target's deviation that step suits every target
        return self._y_std if self.solver in ADAPTIVE_SOLVERS else None

    def _start_intercept(self, data, incremental=False):
        return target_stats(data).mean

    def _rate_unit(self):
        # in units of the targets' deviations when preconditioned
        return 1.0 if self._y_scale is not None else float(self._y_std.mean())

    def _wants_gram(self, data):
        # 'gd' takes its epochs from the Gram matrix even where the full
        # preconditioner does not compute it anyway
        return (
            self.precompute is True
            and self.solver == "gd"
            and self.loss == "squared_error"
            and not data.sparse
        )

    def _exact_stats(self, model):
        """The sufficient statistics of the rows at hand, or None: they
        describe the rows of the first call, with the intercept at its
        closed form."""
        stats = getattr(self, "_stats", None)
        if stats is None or not model.on_stats_rows or self.loss != "squared_error":
            return None
        if model.fit_intercept and not model.fixed_intercept:
            return None
        return LeastSquaresStats(model, *stats)

    def _full_batch_stats(self, model):
        if (
            self.precompute is True
            and self.loss != "squared_error"
            and self.solver in FULL_BATCH_SOLVERS
        ):
            raise ValueError(
                "precompute=True needs loss='squared_error': the Gram matrix "
                f"gives the least-squares objective only, not loss={self.loss!r}."
            )
        # 'auto' uses them where they were computed anyway, for the full
        # preconditioner
        if not self.precompute or (self.precompute == "auto" and model.whiten is None):
            return None
        return self._exact_stats(model)

    def _certified_shares(self, run, theta):
        """Per target, the share of its variance the training objective at
        ``theta`` is above its minimum, computed exactly from the statistics
        in O(d**2): whitened, least squares (ridge included) has the Hessian
        out_scale**2 times the identity, so the gap is g**2 / (2 out_scale**2).
        None where that does not hold."""
        model = run.model
        if model.whiten is None or run.penalty.l1:
            return None
        stats = self._exact_stats(model)
        if stats is None:
            return None
        grad = np.empty(theta.shape, dtype=np.float64)
        stats.value_and_grad(theta, grad)
        run.penalty.add_grad(theta.astype(np.float64), grad)
        k = model.n_penalized
        G = grad[:k].reshape(model.n_features, model.n_outputs)
        gap = 0.5 * np.sum(G**2, axis=0) / model.out_scale**2
        return gap / np.maximum(stats.y_var / 2, np.finfo(np.float64).tiny)

    def _certified_gap(self, run, theta):
        shares = self._certified_shares(run, theta)
        return None if shares is None else float(np.max(shares))

    def _tol_units(self, start, data):
        # the best constant's objective, var(y) / 2 (summed over targets): tol
        # is relative to it (a share of R²), and the gradient's to std(y)
        unit = 0.5 * float(np.sum(target_stats(data).var))
        if not (np.isfinite(unit) and unit > 0):
            return 1.0, 1.0
        grad_unit = float(np.sqrt(2.0 * unit))
        if self.loss == "huber":
            # the objective of the start (the mean): the Huber loss is linear
            # beyond huber_epsilon, which also bounds its gradient
            unit = start if np.isfinite(start) and start > 0 else unit
            grad_unit = min(grad_unit, float(self.huber_epsilon))
        return unit, grad_unit

    def _decay_scale(self):
        # without targets in units of their deviation, the 'auto' rate of the
        # adaptive solvers is 0.01 * std(y), and the decay lr * weight_decay * w
        # would grow with the unit of y
        if self.learning_rate_init == "auto" and self._y_scale is None:
            return 1.0 / float(self._y_std.mean())
        return 1.0

    def _gain_shares(self, gain, run, data):
        if self.loss != "squared_error":
            return super()._gain_shares(gain, run, data)
        # least squares: per target, a share of its variance (of R²)
        var = target_stats(data).var
        return gain / np.maximum(var / 2, np.finfo(np.float64).tiny)

    def _shortfall_clause(self, bad, shown, n_targets):
        if self.loss != "squared_error":
            return super()._shortfall_clause(bad, shown, n_targets)
        which, values = _targets_clause(bad, shown, n_targets, "{:.3g}")
        return (
            f"the training R²{which} can still rise by at least {values} (the "
            "full gradient at the end proves it)"
        )

    def _check_huber_threshold(self, run, theta, data, raw):
        """Warn when nearly every residual lies beyond ``huber_epsilon``: the
        Huber loss is then the absolute error scaled by it, whose gradient
        (at most ``huber_epsilon``) is tiny next to the residuals, so that
        gradient steps approach the optimum very slowly and the end-of-fit
        bounds, built on the curvature, cannot see how far it is."""
        eps = float(self.huber_epsilon)
        beyond, size = output_sum(data, _beyond, run.model, theta, eps, raw=raw)
        beyond, size = beyond / data.weight, size / data.weight
        if beyond < _HUBER_BEYOND:
            return
        _warn(
            f"{type(self).__name__}: {beyond:.0%} of the residuals exceed "
            f"huber_epsilon={eps:.3g} (their mean size is {size:.3g}): the "
            "Huber loss is then nearly the absolute error, whose optimum gradient "
            "steps approach very slowly, and the fit may have stopped far from "
            "it. Set huber_epsilon (in the unit of y) near the scale of the "
            "residuals of a good fit (HuberRegressor uses 1.35 times it), or use "
            "solver='adam'.",
            ConvergenceWarning,
        )

    def _worse_than_constant(self, run, theta, data, raw):
        if self.loss != "squared_error":
            # a robust fit may trail the mean in squared error: its own
            # objective is checked against the start (the mean) instead
            self._check_huber_threshold(run, theta, data, raw)
            return None
        return super()._worse_than_constant(run, theta, data, raw)

    def _unpack(self, model, theta):
        super()._unpack(model, theta)
        if self._y_ndim == 1:
            self.coef_, self.intercept_ = self.coef_[0].copy(), self.intercept_[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _beyond(raw, Y, sw, eps: float) -> tuple[float, float]:
    """The weighted share of the residuals beyond ``eps`` (per row: the
    mean over targets) and their weighted mean size, as sums."""
    r = np.abs(np.asarray(raw, dtype=np.float64) - Y)
    w = np.asarray(sw, dtype=np.float64)
    return float(np.dot(w, np.mean(r > eps, axis=1))), float(np.dot(w, r.mean(1)))
