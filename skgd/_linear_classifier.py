"""GDClassifier: linear classification (logistic regression, squared hinge)
by gradient descent."""

import numpy as np
from scipy.special import expit, log_softmax, logit, softmax
from sklearn.base import ClassifierMixin
from sklearn.utils._available_if import available_if
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted

from skgd._base import _loss_value, output_sum
from skgd._classification import _ClassTargets
from skgd._dask import blockwise
from skgd._data import target_stats
from skgd._docstrings import fill_doc
from skgd._linear_base import _HESSIAN_FLOPS, _half_inverse_norm, _LinearBase
from skgd._losses import binary_log_loss, log_loss, squared_hinge
from skgd._validation import StrOptions, _fit_context, validate_data

# the largest second derivative of each loss in the raw output: the sigmoid's
# p (1 - p) <= 1/4, the softmax's diag(p) - p p^T <= 1/2, and the squared
# hinge's 2
_CURVATURE = {"binary": 0.25, "multinomial": 0.5, "squared_hinge": 2.0}
# the class prior the log-loss intercepts start from is kept away from 0 and 1
_PRIOR_FLOOR = 1e-6
# a Newton step's estimated gain (a share of the best constant's objective)
# above which a mini-batch fit warns: an estimate, so with a margin over the
# proof's 1e-3
_NEWTON_SLACK = 1e-2


@fill_doc
class GDClassifier(_ClassTargets, ClassifierMixin, _LinearBase):
    """Linear classifier trained by gradient descent, SGD or Adam.

    Minimizes the weighted mean loss plus the elastic-net penalty of
    :class:`GDRegressor` (see Notes). With ``loss='log_loss'`` (the default)
    this is logistic regression: a sigmoid for two classes, a softmax over
    all the classes for more (multinomial, not one-vs-rest), and full-batch
    'gd' reaches :class:`~sklearn.linear_model.LogisticRegression`'s solution
    under the mapping of its penalty given in Notes.

    Parameters
    ----------
    loss : {'log_loss', 'squared_hinge'}, default='log_loss'
        'log_loss' is the cross-entropy of logistic regression (probability
        estimates through ``predict_proba``); 'squared_hinge' is
        ``max(0, 1 - s f(x))**2`` of each one-vs-rest margin ``f`` with
        ``s = +1`` for the class and -1 for the others, the loss of
        :class:`~sklearn.svm.LinearSVC` (no probabilities).

    %(solver)s

    %(learning_rate_init)s

    %(learning_rate)s

    %(power_t)s

    %(penalty)s

    %(alpha)s

    %(l1_ratio)s

    %(fit_intercept)s

    %(class_weight)s

    %(precondition)s

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
        The class labels.

    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        The weights: one row for two classes (of the second class), one per
        class for more.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        The intercepts (zeros when ``fit_intercept=False``).

    learning_rate_init_ : float
        The initial step size used (the resolved value of 'auto').

    loss_curve_ : list of float
        The training objective (mean loss plus penalty) of each epoch.

    %(best_loss_)s

    %(best_epoch_)s

    %(stop_reason_)s

    validation_scores_ : list of float
        Validation accuracy after each epoch; empty without early stopping.

    validation_loss_curve_ : list of float
        Validation mean loss after each epoch (no penalty); empty without
        early stopping.

    best_validation_score_ : float or None
        The best validation accuracy, that of the restored weights; None
        without early stopping.

    %(learning_rate_curve_)s

    grad_norm_curve_ : list of float
        Mean L2 norm (before clipping) of the gradient of the smooth part of
        the objective over the steps of each epoch.

    %(n_features_in_)s

    %(feature_names_in_)s

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The same objective by
        quasi-Newton or coordinate solvers.
    sklearn.linear_model.SGDClassifier : One-sample stochastic gradient descent.
    GDRegressor : Linear regression on the same training machinery.
    GDMLPClassifier : Multi-layer perceptron classifier.

    Notes
    -----
    With sample weights ``s`` (times the class weights), the objective is

    .. math::

        \\frac{1}{\\sum_i s_i} \\sum_i s_i \\, \\ell(y_i, x_i W + b)
        + \\alpha \\rho \\lVert W \\rVert_1
        + \\frac{\\alpha (1 - \\rho)}{2} \\lVert W \\rVert_2^2

    with ``rho = l1_ratio`` ('l2': 0, 'l1': 1, None: ``alpha = 0``) and
    ``l`` the cross-entropy of a sigmoid (two classes) or of a softmax over
    all classes, or the sum of the squared hinges of the one-vs-rest margins.
    Hence, with ``n`` samples (the sum of the weights), ``log_loss`` with
    'l2' is ``LogisticRegression(C=1 / (alpha * n))``, with ``penalty=None``
    it is ``LogisticRegression(C=np.inf)``, with 'l1' it is
    ``LogisticRegression(l1_ratio=1, C=1 / (alpha * n), solver='saga')`` and
    with 'elasticnet' ``LogisticRegression(l1_ratio=l1_ratio, C=1 / (alpha *
    n), solver='saga')``. The softmax is unchanged when the same vector is
    added to every class's weights: without an L1 part the reported weights
    and intercepts sum to zero over the classes (LogisticRegression's
    convention, and the smallest L2 norm); with one, the intercepts do.

    Reliability: a fit whose objective becomes non-finite or grows beyond 1e4
    times its starting scale raises a ``ValueError`` naming the epoch. A fresh
    ``fit`` never ends above its starting objective (the best constant model):
    it falls back to the epoch of lowest training loss with a
    ``ConvergenceWarning``, or raises. Every ``fit`` ends by comparing the
    mean loss on the rows passed to it with the best constant's, and warns
    when it is higher. Ctrl-C keeps the last complete epoch and re-raises.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skgd import GDClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), GDClassifier(alpha=0.01)).fit(X, y)
    >>> clf.predict_proba(X[:1]).round(3)
    array([[0.979, 0.021, 0.   ]])
    >>> print(round(clf.score(X, y), 3), clf[-1].coef_.shape)
    0.96 (3, 4)
    """

    _parameter_constraints: dict = {
        **_LinearBase._parameter_constraints,
        "loss": [StrOptions({"log_loss", "squared_hinge"})],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    _accepts_multilabel = False

    def __init__(
        self,
        *,
        loss="log_loss",
        solver="gd",
        learning_rate_init="auto",
        learning_rate="auto",
        power_t=0.5,
        penalty="l2",
        alpha=0.0001,
        l1_ratio=0.15,
        fit_intercept=True,
        class_weight=None,
        precondition=True,
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
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.precondition = precondition
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

        y : {array-like, dask array} of shape (n_samples,)
            Class labels (numbers or strings).

        sample_weight : {array-like, dask array} of shape (n_samples,), default=None
            Non-negative weights; a weight of 2 counts a row twice.

        Returns
        -------
        self : GDClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch on the given data, continuing the previous state.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data. A dask array is not gathered: see the user
            guide, Scaling out.

        y : {array-like, dask array} of shape (n_samples,)
            Class labels.

        classes : array-like of shape (n_classes,), default=None
            All the classes that can appear in ``y``. Required on the first
            call; on later calls it may be passed again and must be the same.

        sample_weight : {array-like, dask array} of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : GDClassifier
            The updated estimator.
        """
        classes = self._check_partial_fit_classes(y, classes)
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    @blockwise
    def decision_function(self, X):
        """The raw outputs: log-odds or softmax logits, or margins.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples. A dask array gives a dask array, computed chunk by
            chunk where the chunks live.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the score of the second class (positive means
            ``classes_[1]``); for more, one score per class.
        """
        raw = self._raw(X)
        return raw[:, 0] if raw.shape[1] == 1 else raw

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
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        return self._labels_from_raw(self._raw(X))

    def _has_proba(self):
        return self.loss == "log_loss"

    @available_if(_has_proba)
    @blockwise
    def predict_proba(self, X):
        """Class probabilities (``loss='log_loss'`` only).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples. A dask array gives a dask array, computed chunk by
            chunk where the chunks live.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        raw = self._raw(X)
        if raw.shape[1] == 1:
            # expit(-z), not 1 - expit(z): the subtraction loses the digits
            # of the smaller probability once the larger is close to 1
            return np.hstack([expit(-raw), expit(raw)])
        return softmax(raw, axis=1)

    @available_if(_has_proba)
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
        if raw.shape[1] == 1:
            return np.hstack([-np.logaddexp(0, raw), -np.logaddexp(0, -raw)])
        return log_softmax(raw, axis=1)

    def _raw(self, X):
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
    def _kind(self) -> str:
        if self.loss == "squared_hinge":
            return "squared_hinge"
        return "multinomial" if len(self.classes_) > 2 else "binary"

    def _loss(self):
        return {
            "binary": binary_log_loss,
            "multinomial": log_loss,
            "squared_hinge": squared_hinge,
        }[self._kind]

    def _loss_curvature(self):
        return _CURVATURE[self._kind]

    def _start_intercept(self, data, incremental=False):
        # the best constant model: the log-odds (softmax: the centered log)
        # of the weighted class prior, or 2 p - 1 for each squared hinge. A
        # first partial_fit chunk does not tell the stream's prior (one row
        # per call, a stream sorted by class): it starts at 0, as SGDClassifier
        if incremental:
            return np.zeros(data.n_targets)
        p = target_stats(data).mean
        if self._kind == "squared_hinge":
            return 2.0 * p - 1.0
        p = np.clip(p, _PRIOR_FLOOR, 1.0 - _PRIOR_FLOOR)
        if self._kind == "binary":
            return logit(p)
        return np.log(p) - np.mean(np.log(p))

    def _shortfall(self, run, theta, train, raw):
        # the proof bounds the loss's curvature by its maximum (1/4 for the
        # sigmoid), far above it where the classes separate (p (1 - p) -> 0):
        # there the proof sees little; a Newton step at the end, with the
        # local curvature of every row, estimates the gap instead
        proof = super()._shortfall(run, theta, train, raw)
        if proof is not None or not self.precondition or run.penalty.l1:
            return proof
        share = self._newton_share(run, theta, train, raw)
        if share is None or share <= _NEWTON_SLACK:
            return None
        return (
            "one Newton step from the end would lower the training objective "
            f"by about {share:.2g} times that of the best constant model (an "
            "estimate from the local curvature)"
        )

    def _newton_share(self, run, theta, train, raw):
        """``g' H^-1 g / 2`` with the Hessian at ``theta`` (per output: the
        rows weighted by their curvature, block-diagonal over the softmax's
        classes), as a share of the best constant's objective."""
        model, penalty = run.model, run.penalty
        if train.shape[0] * model.n_features**2 * model.n_outputs > _HESSIAN_FLOPS:
            return None  # the estimate must stay cheap next to the fit
        G, g_b = self._end_gradient(run, theta, train)
        total = train.weight
        gain = 0.0
        for o in range(model.n_outputs):
            rows = train.reweighted_by(_curvature_weights, self._kind, model, theta, o)
            mass = rows.weight
            if not mass > 0:
                continue
            H = self._coefficient_hessian(model, penalty, rows, mass / total)
            if H is None:
                return None
            g = G[:, o] if H.shape[0] == G.shape[0] else np.append(G[:, o], g_b[o])
            gain += float(_half_inverse_norm(H, g[:, None])[0])
        null = self._constant_loss(train, np.float64)
        return gain / max(null, np.finfo(np.float64).tiny)

    def _unpack(self, model, theta):
        super()._unpack(model, theta)
        if self._kind == "multinomial":
            # the softmax ignores a vector added to every class: report the
            # zero-sum representative (the smallest L2 norm; with an L1 part
            # centering the weights could raise the penalty)
            self.intercept_ = self.intercept_ - self.intercept_.mean()
            if not self._strengths().l1:
                self.coef_ = self.coef_ - self.coef_.mean(axis=0)

    def _worse_than_constant(self, run, theta, data, raw):
        # logistic regression maximizes the likelihood, not the accuracy: the
        # fair constant to beat is the best one under the loss, the start
        value = output_sum(
            data, _loss_value, run.model, theta, run.loss, data.total, raw=raw
        )
        null = self._constant_loss(data, data.dtype)
        if value <= null + 1e-3 * max(null, 1e-12):
            return None
        return (
            f"the training mean {self.loss} {value:.4g} is above the {null:.4g} "
            "of the best constant (the class prior)"
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


def _curvature_weights(X, Y, sw, kind: str, model, theta, o: int) -> np.ndarray:
    """The weights times each row's curvature of the loss in output ``o``."""
    raw = model.forward(theta, X)[0]
    return np.asarray(sw, dtype=np.float64) * _row_curvatures(kind, raw, Y)[:, o]


def _row_curvatures(kind: str, raw: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Each row's second derivative of the loss in each raw output (the
    diagonal of its Hessian, for the softmax)."""
    raw = np.asarray(raw, dtype=np.float64)
    if kind == "squared_hinge":
        return 2.0 * ((2.0 * Y - 1.0) * raw < 1.0)
    p = expit(raw) if kind == "binary" else softmax(raw, axis=1)
    return p * (1.0 - p)
