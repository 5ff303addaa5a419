"""The multi-layer perceptrons, GDMLPClassifier and GDMLPRegressor, on the shared
training loop."""

import operator

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from skgd._base import BaseGD, expected_smoothness
from skgd._classification import _ClassTargets
from skgd._dask import blockwise
from skgd._data import target_stats
from skgd._docstrings import fill_doc
from skgd._losses import LOG_OUTPUT_ACTIVATIONS, OUTPUT_ACTIVATIONS
from skgd._models import ACTIVATIONS, INITIALIZERS, MLP
from skgd._optimizers import ADAPTIVE_SOLVERS
from skgd._regression import _RegressionTargets
from skgd._validation import (
    Integral,
    Interval,
    Real,
    StrOptions,
    _fit_context,
    validate_data,
)

# learning_rate_init='auto' per solver: Adam's 0.001 (the default of
# MLPClassifier and MLPRegressor) for the rules normalized per coordinate, and
# for the others a rate measured on standardized digits to land within a
# point of Adam (issue 9)
_AUTO_LR = {
    "adam": 0.001,
    "adamw": 0.001,
    "rmsprop": 0.001,
    "adagrad": 0.01,
    "adadelta": 1.0,
    "sgd": 0.1,
    "gd": 0.5,
}


class _MLPBase(BaseGD):
    """What the two perceptrons share: the network's parameters and layout in
    the parameter vector, the fitted weights, the 'auto' rate and ``fit``."""

    _parameter_constraints: dict = {
        **BaseGD._parameter_constraints,
        "learning_rate_init": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "initialization": [StrOptions(set(INITIALIZERS))],
    }
    _auto_lr = _AUTO_LR

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        activation="relu",
        initialization="glorot_uniform",
        solver="adam",
        learning_rate_init="auto",
        learning_rate="auto",
        power_t=0.5,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        weight_decay=0.01,
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.initialization = initialization
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
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
        """Fit the network by running up to ``max_iter`` epochs.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data. A dask array is not gathered: see the user
            guide, Scaling out.

        y : {array-like, dask array} of shape (n_samples,) or (n_samples, n_outputs)
            Target values: class labels, or a binary indicator matrix for
            multilabel targets (classifier); real values (regressor).

        sample_weight : {array-like, dask array} of shape (n_samples,), default=None
            Non-negative weights; a weight of 2 counts a row twice.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _raw(self, X):
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            reset=False,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
        )
        # the fitted weights as they are: no change of variables to undo
        model = self._network(self.n_features_in_, self.n_outputs_)
        dtype = self.coefs_[0].dtype
        # invalid: OpenBLAS can raise a spurious flag (numpy#24067); the
        # weights are finite and X passed the magnitude check
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return model.forward(self._pack(model, dtype), X)[0]

    # ----------------------------------------------------------------- hooks
    def _layer_sizes(self, n_features, n_outputs):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes, dtype=object))
        try:
            hidden = [operator.index(h) for h in sizes.tolist()]
        except TypeError:
            hidden = None
        if sizes.ndim != 1 or hidden is None or any(h < 1 for h in hidden):
            raise ValueError(
                "hidden_layer_sizes must be an int or a sequence of positive "
                f"integers, got {self.hidden_layer_sizes!r}."
            )
        return [n_features, *hidden, n_outputs]

    def _network(self, n_features, n_outputs, **units):
        """The network; ``units`` (``out_scale``, ``out_shift``) set the
        units its output layer is trained in."""
        sizes = self._layer_sizes(n_features, n_outputs)
        return MLP(sizes, self.activation, self.initialization, **units)

    def _resolve_learning_rate(self, model, penalty, data, batch_size, theta):
        if self.learning_rate_init == "auto":
            return self._auto_lr[self.solver]
        return float(self.learning_rate_init)

    def _make_model(self, data, *, reset):
        return self._network(data.shape[1], data.n_targets)

    def _auto_schedule(self, full_batch, incremental):
        # partial_fit calls are the chunks of a stream: momentum SGD at a
        # constant rate set for batches of 200 diverges on calls of one row
        # (make_classification, digits: within 300 calls), so its rate decays
        # per call, as the linear models' does; the adaptive rules normalize
        # their steps and would stall under that decay
        if incremental and not full_batch and self.solver not in ADAPTIVE_SOLVERS:
            return "invscaling"
        return "constant"

    def _pack(self, model, dtype):
        shapes = [W.shape for W in self.coefs_]
        if shapes != model.shapes:
            raise ValueError(
                f"The fitted layer shapes {shapes} do not match {model.shapes}; "
                "hidden_layer_sizes cannot change under warm_start or partial_fit."
            )
        return model.from_coefs(self.coefs_, self.intercepts_, dtype)

    def _unpack(self, model, theta):
        self.coefs_, self.intercepts_ = model.coefs(theta)
        self.n_layers_ = len(model.layer_sizes)


@fill_doc
class GDMLPClassifier(_ClassTargets, ClassifierMixin, _MLPBase):
    """Multi-layer perceptron classifier trained by gradient descent, SGD or Adam.

    A drop-in for :class:`~sklearn.neural_network.MLPClassifier` built on the
    same training loop as :class:`GDRegressor`: the same solvers, schedules,
    penalties (L2, L1, elastic net), clipping, early stopping with restored
    best weights, history and divergence guard; plus class weights, a choice of
    initialization and a validation-loss history.

    Parameters
    ----------
    %(hidden_layer_sizes)s

    %(activation)s

    %(initialization)s

    %(class_weight)s

    %(solver)s

    %(learning_rate_init)s

    %(learning_rate)s

    %(power_t)s

    %(penalty)s

    %(alpha)s

    %(l1_ratio)s

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

    classes_ : ndarray of shape (n_classes,)
        The class labels (for multilabel targets, the label indices).

    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix between layer ``i`` and ``i + 1``.

    intercepts_ : list of ndarray
        ``intercepts_[i]`` is the bias vector of layer ``i + 1``.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of output units.

    out_activation_ : str
        'logistic' for binary and multilabel targets, 'softmax' for multiclass.

    learning_rate_init_ : float
        The initial step size used.

    loss_curve_ : list of float
        The training objective (mean log-loss plus penalty) of each epoch.

    %(best_loss_)s

    %(best_epoch_)s

    %(stop_reason_)s

    validation_scores_ : list of float
        Validation accuracy after each epoch; empty without early stopping.

    validation_loss_curve_ : list of float
        Validation mean log-loss after each epoch (no penalty); empty without
        early stopping.

    best_validation_score_ : float or None
        The best validation accuracy, that of the restored weights; None
        without early stopping.

    %(learning_rate_curve_)s

    grad_norm_curve_ : list of float
        Mean L2 norm (before clipping) of the gradient over the steps of each
        epoch.

    %(n_features_in_)s

    %(feature_names_in_)s

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The multi-layer perceptron of
        scikit-learn.
    GDMLPRegressor : The regressor on the same network.
    GDRegressor : Linear regression on the same training machinery.

    Notes
    -----
    With sample weights ``s`` (times the class weights), the objective is

    .. math::

        \\frac{1}{\\sum_i s_i} \\sum_i s_i \\, \\ell(y_i, f(x_i))
        + \\alpha \\rho \\sum_l \\lVert W_l \\rVert_1
        + \\frac{\\alpha (1 - \\rho)}{2} \\sum_l \\lVert W_l \\rVert_2^2

    with ``l`` the cross-entropy of a softmax output (multiclass) or of one
    sigmoid per output (binary, multilabel), and ``rho`` as in
    :class:`GDRegressor`. ``MLPClassifier`` instead adds
    ``0.5 * alpha * ||W||^2 / (sum of the batch's sample weights)`` to each
    batch, so its penalty shrinks as batches grow: ``MLPClassifier(alpha=a)``
    with batches of ``b`` samples corresponds to
    ``GDMLPClassifier(alpha=a / b)``.

    Probabilities are computed from the logits with log-sum-exp, so they stay
    finite and sum to one for any logits.

    Reliability: a fit whose objective becomes non-finite or grows beyond 1e4
    times its starting scale raises a ``ValueError`` naming the epoch. A fresh
    ``fit`` whose final objective ends above its starting value falls back to
    the parameters of its epoch of lowest training loss with a
    ``ConvergenceWarning``, or raises if none beats the start. Every ``fit``
    (not ``partial_fit``, whose single epochs are expected to start poorly)
    ends by scoring the model on the rows passed to it (held-out validation
    rows included), under the training weights: below the share of the most
    frequent class (label set, for multilabel targets) it warns that the
    model is worse than a constant, a ``ConvergenceWarning`` naming both
    numbers. A failed call leaves the
    estimator as it was; Ctrl-C keeps the last complete epoch and re-raises. The
    same ``random_state`` gives bit-identical results across
    processes; across BLAS thread counts results agree to about 1e-13
    (OpenBLAS splits its sums differently).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skgd import GDMLPClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = GDMLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
    ...                       random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(6)
    array([1., 1.])
    >>> print(clf.n_iter_, round(clf.score(X, y), 2))
    157 1.0
    """

    _parameter_constraints: dict = {
        **_MLPBase._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        activation="relu",
        initialization="glorot_uniform",
        class_weight=None,
        solver="adam",
        learning_rate_init="auto",
        learning_rate="auto",
        power_t=0.5,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        weight_decay=0.01,
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
        self.class_weight = class_weight
        super().__init__(
            hidden_layer_sizes,
            activation=activation,
            initialization=initialization,
            solver=solver,
            learning_rate_init=learning_rate_init,
            learning_rate=learning_rate,
            power_t=power_t,
            penalty=penalty,
            alpha=alpha,
            l1_ratio=l1_ratio,
            batch_size=batch_size,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            weight_decay=weight_decay,
            rho=rho,
            lr_step_size=lr_step_size,
            lr_gamma=lr_gamma,
            lr_restart_period=lr_restart_period,
            lr_restart_mult=lr_restart_mult,
            lr_warmup=lr_warmup,
            clip_norm=clip_norm,
            clip_value=clip_value,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch on the given data, continuing the previous state.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data. A dask array is not gathered: see the user
            guide, Scaling out.

        y : {array-like, dask array} of shape (n_samples,) or (n_samples, n_labels)
            Class labels.

        classes : array-like of shape (n_classes,), default=None
            All the classes that can appear in ``y``. Required on the first
            call; on later calls it may be passed again and must be the same.

        sample_weight : {array-like, dask array} of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : GDMLPClassifier
            The updated estimator.
        """
        classes = self._check_partial_fit_classes(y, classes)
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    @blockwise
    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples. A dask array gives a dask array, computed chunk by
            chunk where the chunks live.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels (an indicator matrix for multilabel targets).
        """
        return self._labels_from_raw(self._raw(X))

    @blockwise
    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples. A dask array gives a dask array, computed chunk by
            chunk where the chunks live.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class (of each label, for multilabel targets).
        """
        raw = self._raw(X)
        act = OUTPUT_ACTIVATIONS[self.out_activation_]
        if self._binary:
            # expit(-z), not 1 - expit(z): the subtraction loses the digits of
            # the smaller probability once the larger is close to 1
            return np.hstack([act(-raw), act(raw)])
        return act(raw)

    @blockwise
    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed without overflow.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples. A dask array gives a dask array, computed chunk by
            chunk where the chunks live.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class.
        """
        raw = self._raw(X)
        log_act = LOG_OUTPUT_ACTIVATIONS[self.out_activation_]
        if self._binary:
            return np.hstack([log_act(-raw), log_act(raw)])
        return log_act(raw)

    # ----------------------------------------------------------------- hooks
    @property
    def _binary(self):
        return self.out_activation_ == "logistic" and not self._multilabel

    def _set_classes(self, y, classes, multilabel):
        super()._set_classes(y, classes, multilabel)
        y_type = self._label_binarizer.y_type_
        self.out_activation_ = "softmax" if y_type == "multiclass" else "logistic"
        self.n_outputs_ = 1 if y_type == "binary" else self.classes_.size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


@fill_doc
class GDMLPRegressor(_RegressionTargets, RegressorMixin, _MLPBase):
    """Multi-layer perceptron regressor trained by gradient descent, SGD or Adam.

    A drop-in for :class:`~sklearn.neural_network.MLPRegressor` on the
    training loop of :class:`GDRegressor` and :class:`GDMLPClassifier`: the
    same solvers, schedules, penalties (L2, L1, elastic net), clipping, early
    stopping with restored best weights, history and divergence guard; plus
    a choice of initialization and a validation-loss history. The output
    layer is trained in units of each target's standard deviation, starting
    at its mean (see Notes), so that targets in thousands train at the
    defaults as standardized targets do. The L2 penalty of the hidden layers
    keeps its unit, as in ``MLPRegressor``'s objective: for targets in
    millionths it outweighs the loss (var(y) / 2 is then about 1e-12) and
    the minimizer is nearly constant; scale such targets, or lower
    ``alpha``.

    Parameters
    ----------
    %(hidden_layer_sizes)s

    %(activation)s

    %(initialization)s

    %(solver)s

    %(learning_rate_init)s

    %(learning_rate)s

    %(power_t)s

    %(penalty)s

    %(alpha)s

    %(l1_ratio)s

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

    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix between layer ``i`` and ``i + 1``,
        in the units of the targets.

    intercepts_ : list of ndarray
        ``intercepts_[i]`` is the bias vector of layer ``i + 1``.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of outputs (targets).

    out_activation_ : str
        The output activation, always 'identity' (squared-error loss).

    learning_rate_init_ : float
        The initial step size used (for 'gd' and 'sgd', in the units of the
        targets: see ``learning_rate_init``).

    loss_curve_ : list of float
        The training objective (half the mean squared error, summed over
        targets, plus the penalty) of each epoch: for 'gd' at the point where
        the gradient was taken, for the mini-batch solvers the weighted mean
        of the batch objectives.

    %(best_loss_)s

    %(best_epoch_)s

    %(stop_reason_)s

    validation_scores_ : list of float
        Validation R² after each epoch; empty without early stopping.

    validation_loss_curve_ : list of float
        Validation mean squared error / 2 (summed over targets, no penalty)
        after each epoch; empty without early stopping.

    best_validation_score_ : float or None
        The best validation R², that of the restored weights; None without
        early stopping.

    %(learning_rate_curve_)s

    grad_norm_curve_ : list of float
        Mean L2 norm (before clipping) of the gradient in the solver's
        coordinates over the steps of each epoch.

    %(n_features_in_)s

    %(feature_names_in_)s

    See Also
    --------
    sklearn.neural_network.MLPRegressor : The multi-layer perceptron of
        scikit-learn.
    GDMLPClassifier : The classifier on the same network.
    GDRegressor : Linear regression on the same training machinery.

    Notes
    -----
    With sample weights ``s`` (all ones by default), the objective is

    .. math::

        \\frac{1}{2 \\sum_i s_i} \\sum_i s_i \\lVert y_i - f(x_i) \\rVert^2
        + \\alpha \\rho \\sum_l \\lVert W_l \\rVert_1
        + \\frac{\\alpha (1 - \\rho)}{2} \\sum_l \\lVert W_l \\rVert_2^2

    with ``rho`` as in :class:`GDRegressor`. ``MLPRegressor`` instead adds
    ``0.5 * alpha * ||W||^2 / (sum of the batch's sample weights)`` to each
    batch, so that ``MLPRegressor(alpha=a)`` with batches of ``b`` samples
    corresponds to ``GDMLPRegressor(alpha=a / b)``; its ``loss_curve_``
    also divides the squared error by the number of targets (its gradient
    does not).

    The solver works on the output layer in the units of each target: with
    ``mu`` and ``sigma`` the weighted mean and standard deviation of each
    target (1 for a constant one) on the rows of the first ``fit`` or
    ``partial_fit`` call (kept by warm starts and later calls), it moves
    ``V`` and ``c`` with ``W = V diag(sigma)`` and ``b = c * sigma + mu``
    for the last layer's weights and intercepts, the penalty staying that of
    ``W``. ``V`` starts from the initializer and ``c`` at 0, and the adaptive
    rules' ``epsilon`` is measured in the unit of each gradient entry (its
    target's variance). The loss of a target is then its variance times that
    of the standardized target; with the rates of ``learning_rate_init``
    and without a penalty on the hidden layers, fitting ``k * y`` takes
    the same steps as fitting ``y`` and predicts ``k`` times its values (up
    to rounding). ``MLPRegressor`` instead starts its output at 0 with
    weights of the scale of standardized targets, and on ``y`` in thousands
    spends its epochs growing them.

    Rates and tolerances are in the targets' units too. The steps of 'gd'
    and 'sgd' are proportional to the gradient, which carries the targets'
    variance: they use ``learning_rate_init`` divided by the largest
    variance of the targets (the value used is ``learning_rate_init_``).
    Their 'auto' rate is 0.05 (the squared error is more curved than the
    log-loss of :class:`GDMLPClassifier`, whose 0.5 and 0.1 diverge here),
    capped by ``1 / L``, with ``L`` the curvature of the objective in the
    output layer where the fit starts (for mini-batches its expected
    smoothness, Gower et al., 2019), so that unscaled features or large
    activations do not make them diverge. The rules normalized per
    coordinate use ``learning_rate_init`` as it is, with the 'auto' rates
    of :class:`GDMLPClassifier`. ``tol`` is relative to ``var(y) / 2``
    (summed over targets), and 'gd' stops when the largest entry of the
    proximal gradient is at most ``tol`` times the sum of the targets'
    variances (the gradient's unit in these coordinates).

    Reliability: a fit whose objective becomes non-finite or grows beyond 1e4
    times its starting scale raises a ``ValueError`` naming the epoch. A fresh
    ``fit`` whose final objective ends above its starting value falls back to
    the parameters of its epoch of lowest training loss with a
    ``ConvergenceWarning``, or raises if none beats the start. Every ``fit``
    (warm-started ones included; not ``partial_fit``) ends by computing the
    R² of each target on the rows passed to it (held-out validation rows
    included): below -1e-3, worse than predicting the mean, it warns, naming
    the targets. A failed call leaves the estimator as it was; Ctrl-C keeps
    the last complete epoch and re-raises. The same ``random_state`` gives
    bit-identical results across processes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_friedman1
    >>> from skgd import GDMLPRegressor
    >>> X, y = make_friedman1(n_samples=200, random_state=0)
    >>> reg = GDMLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01,
    ...                      max_iter=1000, random_state=0).fit(X, y)
    >>> print(reg.n_iter_, round(reg.score(X, y), 2))
    249 0.98
    >>> reg.predict(X[:2]).round(1)
    array([16.5, 18.9])

    Without a penalty, the unit of the targets does not change the fit:

    >>> same = dict(hidden_layer_sizes=(32,), penalty=None, max_iter=50,
    ...             tol=None, random_state=0)
    >>> a = GDMLPRegressor(**same).fit(X, y)
    >>> b = GDMLPRegressor(**same).fit(X, 1000 * y)
    >>> bool(np.allclose(b.predict(X), 1000 * a.predict(X), rtol=1e-9))
    True
    """

    _first_call_statistics = True
    # the squared error is more curved than the log-loss (whose Hessian in
    # the output is at most 1/2): 'gd' and 'sgd' take the largest of the
    # rates tried (0.02 to 0.5, on standardized targets) with which no
    # network diverged (relu, tanh, logistic; 1 to 3 hidden layers of 50 to
    # 256 units) on 8 data sets of 20 to 1000 rows and 3 to 1000 features,
    # capped by the curvature where the fit starts (see _curvature_rate)
    _auto_lr = {**_AUTO_LR, "gd": 0.05, "sgd": 0.05}
    _y_numeric = True
    # R², as the linear regressor

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch on the given data, continuing the previous state.

        The weights, optimizer state (momentum, moments) and schedule position
        carry over between calls, and so do the mean and deviation of each
        target taken on the first call; early stopping is not used.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data. A dask array is not gathered: see the user
            guide, Scaling out.

        y : {array-like, dask array} of shape (n_samples,) or (n_samples, n_outputs)
            Target values.

        sample_weight : {array-like, dask array} of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : GDMLPRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    @blockwise
    def predict(self, X):
        """Predict with the network.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples. A dask array gives a dask array, computed chunk by
            chunk where the chunks live.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted values, with the number of dimensions of ``y`` in fit.
        """
        raw = self._raw(X)
        return raw[:, 0] if self._y_ndim == 1 else raw

    # ----------------------------------------------------------------- hooks
    def _validate_targets(self, y, sw, dtype, *, reset, classes, warm=False):
        Y, sw = super()._validate_targets(
            y, sw, dtype, reset=reset, classes=classes, warm=warm
        )
        self.n_outputs_ = Y.shape[1]
        return Y, sw

    def _make_model(self, data, *, reset):
        if reset:
            # the first call's statistics, kept by warm starts and partial_fit
            # (as GDRegressor's): a constant target keeps the unit 1
            stats = target_stats(data)
            mean, std = stats.mean, np.sqrt(stats.var)
            self._y_mean = mean
            self._y_std = np.where(std > 1e-10 * np.abs(mean), std, 1.0)
        return self._network(
            data.shape[1],
            data.n_targets,
            out_scale=self._y_std,
            out_shift=self._y_mean,
        )

    def _resolve_learning_rate(self, model, penalty, data, batch_size, theta):
        lr = super()._resolve_learning_rate(model, penalty, data, batch_size, theta)
        if self.solver in ADAPTIVE_SOLVERS:
            return lr
        # the output layer works in units of the targets' deviations, but the
        # loss keeps their unit: its gradient carries their variance, and so
        # do the steps of the rules that are not normalized
        lr /= float(np.max(self._y_std**2))
        if self.learning_rate_init == "auto":
            lr = min(lr, self._curvature_rate(model, penalty, data, batch_size, theta))
        return lr

    def _curvature_rate(self, model, penalty, data, batch_size, theta):
        """``1 / L`` for the curvature ``L`` of the objective in the output
        layer where the fit starts (for mini-batches, their expected
        smoothness, Gower et al. 2019): it caps the 'auto' rate of 'gd' and
        'sgd' where the inputs are not scaled or the activations large."""
        # on at most 2000 evenly spaced rows, brought into memory
        n = data.shape[0]
        rows = np.linspace(0, n - 1, min(n, 2000)).astype(np.intp)
        sample = data.take(rows)
        L, L_max = model.output_curvature(theta, sample.X, sample.sw)
        L, L_max = L + penalty.curvature, L_max + penalty.curvature
        n_rows = data.positive
        L = expected_smoothness(L, L_max, n_rows, batch_size)
        return 1.0 / L if L > 0 else np.inf

    def _tol_units(self, start, data):
        # tol is relative to the best constant's objective, var(y) / 2 summed
        # over targets (a share of R²), as GDRegressor's; a gradient entry
        # carries the variance of the targets (see _resolve_learning_rate)
        unit = 0.5 * float(np.sum(target_stats(data).var))
        if not (np.isfinite(unit) and unit > 0):
            return 1.0, 1.0
        return unit, 2.0 * unit

    def _grad_unit(self, model):
        # the adaptive rules' epsilon in the unit of each gradient entry: the
        # variance of its target in the output layer, the largest variance
        # in the hidden layers (which all targets share)
        var = model.out_scale**2
        unit = np.full(model.size, float(np.max(var)))
        fan_in, n_out = model.shapes[-1]
        unit[model.n_penalized - fan_in * n_out : model.n_penalized] = np.tile(
            var, fan_in
        )
        unit[-n_out:] = var
        return unit

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
