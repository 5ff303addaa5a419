"""GDMLPClassifier: a multi-layer perceptron classifier on the shared training loop."""

import operator

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skgd._base import BaseGD, _warn
from skgd._docstrings import fill_doc
from skgd._losses import LOG_OUTPUT_ACTIVATIONS, OUTPUT_ACTIVATIONS
from skgd._models import ACTIVATIONS, INITIALIZERS, MLP
from skgd._validation import (
    Integral,
    Interval,
    Real,
    StrOptions,
    _fit_context,
    rescale_weights,
    validate_data,
)

# learning_rate_init='auto' per solver: Adam's 0.001 (MLPClassifier's default)
# for the rules normalized per coordinate, and for the others a rate measured
# on standardized digits to land within a point of Adam (issue 9)
_AUTO_LR = {
    "adam": 0.001,
    "adamw": 0.001,
    "rmsprop": 0.001,
    "adagrad": 0.01,
    "adadelta": 1.0,
    "sgd": 0.1,
    "gd": 0.5,
}


@fill_doc
class GDMLPClassifier(ClassifierMixin, BaseGD):
    """Multi-layer perceptron classifier trained by gradient descent, SGD or Adam.

    A drop-in for :class:`~sklearn.neural_network.MLPClassifier` built on the
    same training loop as :class:`GDRegressor`: the same solvers, schedules,
    penalties (L2, L1, elastic net), clipping, early stopping with restored
    best weights, history and divergence guard; plus class weights, a choice of
    initialization and a validation-loss history.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The number of units of each hidden layer.

    activation : {'relu', 'tanh', 'logistic', 'identity'}, default='relu'
        The activation of the hidden layers.

    initialization : {'glorot_uniform', 'glorot_normal', 'he_uniform', \
'he_normal'}, default='glorot_uniform'
        The distribution of the initial weights: Glorot & Bengio (2010) scale
        by ``fan_in + fan_out``, He et al. (2015) by ``fan_in``. Intercepts
        start at zero.

    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, multiplying the sample weights in the loss.
        'balanced' uses ``n_samples / (n_classes * np.bincount(y))``. Not
        supported for multilabel targets, nor 'balanced' in ``partial_fit``.

    solver : {'gd', 'sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', \
'adadelta'}, default='adam'
        The optimizer. 'gd' takes one full-batch step per epoch with (Nesterov)
        momentum and adaptive restart; 'sgd' takes mini-batch steps with
        (Nesterov) momentum; 'adam' takes mini-batch Adam steps;
        'rmsprop' (Hinton, 2012), 'adagrad' (Duchi et al., 2011), 'adadelta'
        (Zeiler, 2012; its step is multiplied by the rate, 1.0 being the
        paper's rule) and 'adamw' (Adam with decoupled ``weight_decay``) take
        mini-batch steps normalized per coordinate. An L1 penalty is applied
        as a proximal step inside every rule.

    learning_rate_init : 'auto' or float, default='auto'
        The initial step size. 'auto' picks one per solver: 0.001 (Adam's and
        MLPClassifier's default) for 'adam', 'adamw' and 'rmsprop', 0.01 for
        'adagrad', 1.0 for 'adadelta' (Zeiler's rule), 0.1 for 'sgd' and 0.5
        for full-batch 'gd', so that every solver lands within a point of
        Adam's test accuracy on standardized digits at defaults (a grid
        search over ``solver`` compares tuned models). The value used is
        stored in ``learning_rate_init_``.

    %(learning_rate)s

    %(power_t)s

    penalty : {'l2', 'l1', 'elasticnet'} or None, default='l2'
        The regularization of the weights (never of the intercepts).

    alpha : float, default=0.0001
        Strength of the penalty, added to the mean loss (see Notes).

    %(l1_ratio)s

    %(batch_size)s

    max_iter : int, default=200
        Maximum number of epochs of one call to ``fit``.

    tol : float or None, default=1e-4
        Tolerance of the stopping rule: training stops when the training loss
        has not decreased (or, with early stopping, the validation accuracy
        has not increased) by ``tol`` for ``n_iter_no_change`` consecutive
        epochs; 'gd' also stops when the largest entry of the proximal
        gradient is at most ``tol``. None runs exactly ``max_iter`` epochs,
        with no stopping rule and no ``ConvergenceWarning``.

    %(n_iter_no_change)s

    early_stopping : bool, default=False
        Whether to hold out a stratified ``validation_fraction`` of the
        training data, stop when its accuracy stops improving, and restore the
        weights of the best epoch. Not used by ``partial_fit``.

    %(validation_fraction)s

    %(momentum)s

    %(nesterovs_momentum)s

    %(beta_1)s

    %(beta_2)s

    %(epsilon)s

    %(amsgrad)s

    weight_decay : float, default=0.01
        Decoupled weight decay of 'adamw' (Loshchilov & Hutter, 2019): each
        step also moves the weights (never the intercepts) by
        ``-lr * weight_decay * w``. Only used when solver='adamw'.

    %(rho)s

    %(lr_step_size)s

    %(lr_gamma)s

    %(lr_restart_period)s

    %(lr_restart_mult)s

    %(lr_warmup)s

    %(clip_norm)s

    %(clip_value)s

    %(shuffle)s

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the validation split.

    %(warm_start)s

    %(verbose)s

    Attributes
    ----------
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

    %(n_iter_)s

    %(t_)s

    loss_curve_ : list of float
        The training objective (mean log-loss plus penalty) of each epoch.

    %(best_loss_)s

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
    158 1.0
    """

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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.initialization = initialization
        self.class_weight = class_weight
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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a binary indicator matrix for multilabel targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; a weight of 2 counts a row twice.

        Returns
        -------
        self : GDMLPClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch on the given data, continuing the previous state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels.

        classes : array-like of shape (n_classes,), default=None
            All the classes that can appear in ``y``. Required on the first
            call; on later calls it may be passed again and must be the same.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : GDMLPClassifier
            The updated estimator.
        """
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: the "
                "class frequencies of the whole data are unknown. Pass a dict."
            )
        if classes is None and not hasattr(self, "classes_"):
            if type_of_target(y).startswith("multilabel"):
                classes = np.arange(np.shape(y)[1])
            else:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit."
                )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _raw(self, X):
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            reset=False,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
        )
        model = self._network(self.n_features_in_, self.n_outputs_)
        dtype = self.coefs_[0].dtype
        # invalid: OpenBLAS can raise a spurious flag (numpy#24067); the
        # weights are finite and X passed the magnitude check
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return model.forward(self._pack(model, dtype), X)[0]

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels (an indicator matrix for multilabel targets).
        """
        return self._labels_from_raw(self._raw(X))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

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

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed without overflow.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

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
    def _labels_from_raw(self, raw):
        if self._binary:
            return self.classes_[(raw[:, 0] > 0).astype(int)]
        if self.out_activation_ == "softmax":
            return self.classes_[np.argmax(raw, axis=1)]
        return (raw > 0).astype(int)

    @property
    def _binary(self):
        return self.out_activation_ == "logistic" and not self._multilabel

    def _validate_targets(self, y, sw, dtype, *, reset, classes, warm=False):
        check_classification_targets(y)
        multilabel = type_of_target(y).startswith("multilabel")
        if not multilabel:
            y = column_or_1d(y, warn=True)
        if reset:
            self._set_classes(y, classes, multilabel)
        elif classes is not None and not np.array_equal(
            np.unique(classes), self.classes_
        ):
            raise ValueError(
                f"classes={np.unique(classes)!r} differs from the classes of the "
                f"first call to partial_fit, {self.classes_!r}."
            )
        if multilabel != self._multilabel:
            raise ValueError("y switched between multilabel and single-label targets.")
        if warm and not multilabel and not np.array_equal(np.unique(y), self.classes_):
            # MLPClassifier's rule: partial_fit takes subsets, a warm fit not
            raise ValueError(
                "warm_start can only be used where y has the same classes as "
                f"in the previous call to fit. Previously got {self.classes_!r}, "
                f"y has {np.unique(y)!r}."
            )
        if not multilabel:
            unseen = np.setdiff1d(np.unique(y), self.classes_)
            if unseen.size:
                raise ValueError(
                    f"y contains labels {unseen!r} not in classes_ {self.classes_!r}."
                )
        Y = self._label_binarizer.transform(y).astype(dtype, copy=False)
        if self.class_weight is not None:
            if multilabel:
                raise ValueError("class_weight is not supported for multilabel y.")
            if isinstance(self.class_weight, dict):
                bad = {
                    k: w
                    for k, w in self.class_weight.items()
                    if not (np.isfinite(w) and w >= 0)
                }
                if bad:
                    raise ValueError(
                        "class_weight must hold finite, non-negative weights; "
                        f"got {bad!r}."
                    )
            # in float64, each factor brought near 1 first: extreme class
            # weights neither overflow nor underflow (only ratios matter)
            cw = rescale_weights(
                compute_sample_weight(self.class_weight, y), np.float64
            )
            sw64 = rescale_weights(sw.astype(np.float64), np.float64) * cw
            sw = rescale_weights(sw64, dtype).astype(dtype, copy=False)
            if not sw.sum() > 0:
                raise ValueError(
                    "class_weight and sample_weight give every sample weight 0."
                )
        return Y, sw

    def _set_classes(self, y, classes, multilabel):
        lb = LabelBinarizer()
        lb.fit(y if classes is None or multilabel else classes)
        if not multilabel and lb.classes_.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; the "
                f"data contains only one class: {lb.classes_[0]!r}."
            )
        self._label_binarizer = lb
        self._multilabel = multilabel
        self.classes_ = lb.classes_
        n_classes = lb.classes_.size
        self.out_activation_ = "softmax" if lb.y_type_ == "multiclass" else "logistic"
        self.n_outputs_ = 1 if lb.y_type_ == "binary" else n_classes

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

    def _network(self, n_features, n_outputs):
        sizes = self._layer_sizes(n_features, n_outputs)
        return MLP(sizes, self.activation, self.initialization)

    def _resolve_learning_rate(self, model, penalty, X, sw, batch_size):
        if self.learning_rate_init == "auto":
            return _AUTO_LR[self.solver]
        return float(self.learning_rate_init)

    def _make_model(self, X, Y, sw, *, reset):
        return self._network(X.shape[1], Y.shape[1])

    def _split_validation(self, Y, rng):
        if self._multilabel:
            return super()._split_validation(Y, rng)
        labels = np.argmax(Y, axis=1) if Y.shape[1] > 1 else Y[:, 0].astype(int)
        counts = np.bincount(labels, minlength=len(self.classes_))
        index = np.arange(Y.shape[0])
        rare = self.classes_[(counts > 0) & (counts < 2)].tolist()
        if not rare:
            try:
                tr, va = train_test_split(
                    index,
                    test_size=self.validation_fraction,
                    stratify=labels,
                    random_state=rng,
                )
                return tr, va
            except ValueError as exc:
                reason = str(exc)
        else:
            reason = f"class(es) {rare!r} have fewer than 2 members"
        _warn(
            f"Early stopping cannot stratify the validation split ({reason}); "
            "using a plain random split.",
            UserWarning,
        )
        return super()._split_validation(Y, rng)

    def _score_raw(self, raw, Y, sw):
        if self.out_activation_ == "softmax":
            correct = np.argmax(raw, axis=1) == np.argmax(Y, axis=1)
        else:
            correct = np.all((raw > 0) == (Y > 0.5), axis=1)
        return float(np.average(correct, weights=sw))

    def _null_score(self, Y, sw):
        # the best constant prediction is the most frequent row of Y: the
        # majority class, or the most frequent label set (weights included)
        _, row = np.unique(Y > 0.5, axis=0, return_inverse=True)
        return float(np.bincount(row.ravel(), weights=sw).max() / sw.sum())

    def _worse_than_constant(self, raw, Y, sw):
        score, null = self._score_raw(raw, Y, sw), self._null_score(Y, sw)
        # the tolerance absorbs the summation order of two equal weighted sums
        if score >= null - 1e-9:
            return None
        what = "label set" if self._multilabel else "class"
        return (
            f"the training accuracy {score:.4g} is below the {null:.4g} of always "
            f"predicting the most frequent {what}"
        )

    def _pack(self, model, dtype):
        shapes = [W.shape for W in self.coefs_]
        if shapes != model.shapes:
            raise ValueError(
                f"The fitted layer shapes {shapes} do not match {model.shapes}; "
                "hidden_layer_sizes cannot change under warm_start or partial_fit."
            )
        return model.pack(self.coefs_, self.intercepts_, dtype)

    def _unpack(self, model, theta):
        coefs, intercepts = model.unpack(theta)
        self.coefs_ = [W.copy() for W in coefs]
        self.intercepts_ = [b.copy() for b in intercepts]
        self.n_layers_ = len(model.layer_sizes)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
