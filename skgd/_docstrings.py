"""Parameter and attribute descriptions shared by the estimators' docstrings.

Each estimator documents every parameter in its own docstring, as
scikit-learn's estimators do, but the parameters of the shared training loop
are described once, here, and placed by a ``%(name)s`` line: the
estimators' documentation cannot drift apart. Entries are written in numpydoc
form, separated by blank lines.
"""

import inspect
import re
from typing import TypeVar

T = TypeVar("T")

_PARAMETERS = """\
hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
    The number of units of each hidden layer.

activation : {'relu', 'tanh', 'logistic', 'identity'}, default='relu'
    The activation of the hidden layers.

initialization : {'glorot_uniform', 'glorot_normal', 'he_uniform', \
'he_normal'}, default='glorot_uniform'
    The distribution of the initial weights: Glorot & Bengio (2010) scale
    by ``fan_in + fan_out``, He et al. (2015) by ``fan_in``. The hidden
    layers' intercepts are drawn from their layer's distribution (as
    scikit-learn does), the output layer's start at zero;
    :class:`GDMLPRegressor` draws its output weights in units of each
    target's standard deviation and starts its output intercepts at the
    targets' weighted means.

solver : {'gd', 'sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', 'adadelta'}, \
default=?
    The optimizer. 'gd' takes one step per epoch on the whole data set (full
    batch) with Nesterov momentum and adaptive restart (O'Donoghue &
    Candès, 2015); 'sgd' takes mini-batch steps with (Nesterov) momentum;
    'adam' takes mini-batch Adam steps (Kingma & Ba, 2015); 'rmsprop'
    (Hinton, 2012), 'adagrad' (Duchi et al., 2011), 'adadelta' (Zeiler, 2012;
    its step is multiplied by the rate, 1.0 being the paper's rule) and
    'adamw' (Adam with decoupled ``weight_decay``) take mini-batch steps
    normalized per coordinate. An L1 penalty is applied as a proximal step
    inside every rule (with 'gd': FISTA, Beck & Teboulle, 2009). The linear
    models default to 'gd', which reaches the minimizer of their convex
    objective; the multi-layer perceptrons to 'adam', as scikit-learn's.

learning_rate_init : 'auto' or float, default=?
    The initial step size, in the solver's coordinates (for the linear
    models, see ``precondition``). The value used is stored in
    ``learning_rate_init_``. 'auto' means:

    - linear models, 'gd' and 'sgd': ``1 / L``, with ``L`` a bound on the
      largest eigenvalue of the Hessian of the objective in the solver's
      coordinates: the weighted Gram matrix of the preconditioned ``X`` (with
      a column of ones while the intercept is optimized; the identity when
      whitened, so that 'gd' takes Newton steps on least squares) times the
      largest second derivative of the loss (1 for the squared error and
      Huber, 1/4 for two classes, 1/2 for the softmax, 2 for the squared
      hinge), plus the L2 term. For mini-batches of ``b`` of the ``n`` rows
      it is raised to the expected smoothness ``n (b - 1) / (b (n - 1)) L +
      (n - b) / (b (n - 1)) L_max``, with ``L_max`` the largest squared row
      norm (Gower et al., 2019), and 'sgd' multiplies it by ``1 - momentum``
      (momentum lengthens the step by ``1 / (1 - momentum)``). This step does
      not diverge, whatever the scale of the features. Each ``partial_fit``
      call of 'gd' is one full-batch step on the data it is given, so 'gd'
      resolves 'auto' on the data of every call.
    - linear models, adaptive solvers (whose step moves each coordinate by
      about the rate whatever the curvature): 0.01 for 'adam', 'adamw' and
      'rmsprop', 0.1 for 'adagrad' (whose steps shrink as ``1 / sqrt(t)``)
      and 10 for 'adadelta' (whose first step is the rate times
      ``sqrt(epsilon)``). A regressor's coefficients are then measured in
      units of each target's standard deviation; with
      ``precondition=False`` the rates are multiplied by ``std(y)``.
    - multi-layer perceptrons: 0.001 (Adam's and scikit-learn's default) for
      'adam', 'adamw' and 'rmsprop', 0.01 for 'adagrad' and 1.0 for
      'adadelta' (Zeiler's rule). For 'sgd' and 'gd' the classifier takes 0.1
      and 0.5, so that every solver lands within a point of Adam's test
      accuracy on standardized digits; the regressor takes 0.05 for both,
      divided by the largest variance of the targets (its steps carry it,
      see its Notes; a float rate is divided too) and capped by ``1 / L``,
      with ``L`` the curvature of the output layer where the fit starts.

penalty : {'l2', 'l1', 'elasticnet'} or None, default=?
    The regularization of the weights, never of the intercepts (Notes give
    the objective): 'l2' is ridge, 'l1' lasso, 'elasticnet' mixes them by
    ``l1_ratio``, None fits the loss alone. The L1 part is applied as a
    proximal step, which gives exact zeros with every solver.
    :class:`GDRegressor` defaults to None (ordinary least squares, as
    ``LinearRegression``); the other estimators to 'l2', which keeps a
    classifier's problem well posed when the classes are separable.

alpha : float, default=0.0001
    Strength of the penalty, added to the mean loss (Notes give the
    scikit-learn equivalents). Ignored when ``penalty=None``.

max_iter : int, default=?
    Maximum number of epochs (passes over the data) of one call to ``fit``.

tol : float or None, default=1e-4
    Tolerance of the stopping rules. 'gd' stops when the largest entry of
    the proximal gradient ``(theta - theta_next) / lr`` is at most ``tol``
    times the gradient's unit; the mini-batch solvers count the epochs in
    which the training objective did not decrease by ``tol`` times the
    objective's unit and, after ``n_iter_no_change`` of them, cut the rate
    (``learning_rate='adaptive'``) or stop. The units make the model
    independent of the unit of ``y``: for the regressors the objective's
    unit is ``var(y) / 2`` (the best constant's, summed over targets; the
    starting objective with ``loss='huber'``) and the gradient's ``std(y)``
    (with 'huber': at most ``huber_epsilon``; for :class:`GDMLPRegressor`,
    whose output layer works in the targets' units, ``var(y)``); for the
    classifiers both are 1 (their losses have no unit). With early stopping
    the validation score (R² or accuracy) must increase by ``tol``. None
    runs exactly ``max_iter`` epochs, with no stopping rule and no
    ``ConvergenceWarning``.

early_stopping : bool, default=False
    Whether to hold out ``validation_fraction`` of the training data
    (stratified for the classifiers), stop when its score (R² or accuracy)
    stops improving, and restore the weights of the best epoch. Not used by
    ``partial_fit``.

weight_decay : float, default=?
    Decoupled weight decay of 'adamw' (Loshchilov & Hutter, 2019): each step
    also moves the weights (never the intercepts), in the solver's
    coordinates, by ``-lr * weight_decay * w``. It is not part of the
    objective in Notes: at its fixed point the normalized step balances the
    decay, a shrinkage whose strength depends on the noise of the
    mini-batch gradients. The linear models default to 0, so that 'adamw'
    equals 'adam' and every solver reaches the same model (with 0.01,
    PyTorch's default, :class:`GDRegressor`'s training R² ended up to 1.1e-3
    below ``LinearRegression``'s); the multi-layer perceptrons to 0.01. Only
    used when solver='adamw'.

random_state : int, RandomState instance or None, default=None
    Seeds the initial weights of the multi-layer perceptrons, the shuffling
    and the validation split. Pass an int for reproducible output across
    calls.

fit_intercept : bool, default=True
    Whether to fit an intercept (one per output). The intercepts are never
    penalized, and start at the best constant model: the weighted mean of
    ``y`` for least squares, the log-odds of the weighted class prior for
    the log-loss, ``2 p - 1`` per class for the squared hinge (a
    classifier's first ``partial_fit`` chunk does not tell the prior of its
    stream: there they start at 0).

precondition : bool or 'diagonal', default=True
    The coordinates the solvers of a linear model work in; a change of
    variables that leaves the objective, its minimizer and ``coef_``
    unchanged (weighted statistics of the first fit or partial_fit call):

    - ``X`` is centered (with an intercept) and scaled by its standard
      deviation (without: by its root mean square). For least squares the
      intercept then decouples, and its optimum is the weighted mean of
      ``y`` whatever the weights: it is set there, not optimized, while the
      data are those the statistics came from.
    - True (the full preconditioner): on dense ``X`` with at most 1000
      features, fewer than the samples, and no L1 part, the standardized
      features are also whitened by the inverse Cholesky factor of their
      Gram matrix (ridge included): least squares then has the identity
      Hessian, and the Hessian of any other loss is bounded by its
      curvature times the identity, so that correlated columns (diabetes:
      condition number 440) no longer leave flat directions that
      mini-batch noise hides. It costs one pass over ``X`` and a ``d x d``
      factorization. Elsewhere (sparse ``X``, an L1 part, wide data) the
      diagonal one is used.
    - 'diagonal': standardization only (a Jacobi preconditioner).
    - For a regressor's adaptive solvers, the coefficients are also
      measured in units of each target's standard deviation (root mean
      square without intercept), so that one rate suits targets of any
      scale, and their ``epsilon`` in the matching unit of the gradient.
    - False: plain coordinates, to watch plain gradient descent.

average : 'auto' or bool, default='auto'
    Whether the mini-batch solvers of a linear model average their iterates
    (Polyak-Ruppert), as ``SGDRegressor(average=True)``. The average runs
    over the epochs since the objective last improved by ``tol`` (the
    stationary tail at the current rate); at each plateau (a rate cut of the
    'adaptive' schedule, or the stop) it replaces the last iterate when its
    training objective is lower. For least squares under the full
    preconditioner the distance of the average to the optimum is known
    exactly from the sufficient statistics (whitened least squares has the
    identity Hessian), and the fit stops as soon as every target's R² is
    provably within ``tol / 10`` of its optimum: on large data that is
    after two or three epochs. 'auto' averages with ``learning_rate='auto'``
    and a ``tol``; never with 'gd', ``partial_fit`` or early stopping.

class_weight : dict, 'balanced' or None, default=None
    Weights of the classes, multiplying the sample weights in the loss.
    'balanced' uses ``n_samples / (n_classes * np.bincount(y))``, with
    sample weights their sums per class instead of the counts (as
    ``LogisticRegression``). Not
    supported for multilabel targets, nor 'balanced' in ``partial_fit``
    (the class frequencies of the whole data are unknown there).

learning_rate : {'auto', 'constant', 'invscaling', 'adaptive', 'step', \
'exponential', 'cosine', 'warm_restarts'}, default='auto'
    The schedule of the step size over epochs ``k = 0, 1, ...``. 'auto'
    means 'constant' for 'gd', which converges at a constant rate, and for
    the multi-layer perceptrons (as scikit-learn's, whose stopping rule ends
    the fit); for the mini-batch solvers of the linear models
    (:class:`GDRegressor`, :class:`GDClassifier`) it means 'adaptive': a
    constant rate leaves them at a noise floor (the variance of their
    steps), and dividing it by 5 at each plateau of the objective brings
    them to the optimum; in ``partial_fit``, whose calls are the chunks of
    a stream rather than epochs of one objective, it means 'invscaling'
    (a decay per call, as ``SGDRegressor.partial_fit``), for the linear
    models' mini-batch solvers and the perceptrons' 'sgd' (the perceptrons'
    adaptive rules keep 'constant'). 'constant' keeps
    ``learning_rate_init``; 'invscaling' uses ``learning_rate_init / (k +
    1) ** power_t``; 'adaptive' divides the rate by 5 each time
    ``n_iter_no_change`` consecutive epochs
    fail to improve the monitored quantity by ``tol``, and stops once the
    rate falls below 1e-6; 'step' multiplies it by ``lr_gamma`` every
    ``lr_step_size`` epochs; 'exponential' by ``lr_gamma`` every epoch;
    'cosine' anneals it to 0 over ``max_iter`` epochs (and stays at 0
    beyond); 'warm_restarts' anneals by cosine cycles of
    ``lr_restart_period`` epochs, each ``lr_restart_mult`` times longer than
    the last, restarting at ``learning_rate_init`` (SGDR, Loshchilov &
    Hutter, 2017). Each ``fit`` call starts without plateau cuts, and
    ``partial_fit`` never cuts (nor stops).

power_t : float, default=0.5
    The exponent of the 'invscaling' schedule.

l1_ratio : float, default=0.15
    The share of the L1 term when ``penalty='elasticnet'``.

batch_size : 'auto' or int, default='auto'
    Rows per mini-batch of every solver but 'gd', which always takes the
    full batch; 'auto' means ``min(200, n_samples)``, or on sparse ``X``
    more rows where 200 hold fewer than about ``2 * n_features`` nonzeros,
    up to ``n_samples / 20`` (a step also works on every coefficient, which
    a batch of 200 sparse rows would not pay for). A batch of ``b`` of the
    ``n`` rows divides its weighted loss by ``b / n`` of the total
    sample weight (not by its own weight sum, as ``MLPClassifier`` does), so
    that its gradient is an unbiased estimate of the full one.

n_iter_no_change : int or np.inf, default=10
    Number of epochs without improvement that stops training (or divides
    the rate, with ``learning_rate='adaptive'``); ``np.inf`` never stops
    before ``max_iter``.

validation_fraction : float, default=0.1
    The share of the training data held out for early stopping.

momentum : float, default=0.9
    The momentum of 'gd' and 'sgd', in [0, 1). 0 gives plain gradient
    descent.

nesterovs_momentum : bool, default=True
    Whether 'gd' and 'sgd' use Nesterov's momentum (gradient at the
    look-ahead point) rather than heavy-ball momentum.

beta_1 : float, default=0.9
    Decay of the first-moment estimate of 'adam' and 'adamw', in [0, 1).

beta_2 : float, default=0.999
    Decay of the second-moment estimate of 'adam' and 'adamw', in [0, 1).

epsilon : float, default=1e-8
    Numerical stability constant of the adaptive solvers ('adam', 'adamw',
    'rmsprop', 'adagrad', 'adadelta').

amsgrad : bool, default=False
    Whether 'adam' and 'adamw' normalize by the running maximum of the
    second-moment estimate (AMSGrad, Reddi et al., 2018). Only used when
    solver is 'adam' or 'adamw'.

rho : float, default=0.95
    Decay of the squared-gradient average of 'rmsprop' and of both
    averages of 'adadelta', in [0, 1): 0.95 is Zeiler's value for
    'adadelta' (Hinton's lecture used 0.9 for 'rmsprop'). Only used when
    solver is 'rmsprop' or 'adadelta'.

lr_step_size : int, default=10
    Epochs between two multiplications by ``lr_gamma``. Only used when
    learning_rate='step'.

lr_gamma : float, default=0.9
    Decay factor of the 'step' (per ``lr_step_size`` epochs) and
    'exponential' (per epoch) schedules, in (0, 1].

lr_restart_period : int, default=10
    Length in epochs of the first cosine cycle. Only used when
    learning_rate='warm_restarts'.

lr_restart_mult : float, default=2
    Each cosine cycle is this many times longer than the previous one.
    Only used when learning_rate='warm_restarts'.

lr_warmup : int, default=0
    Epochs of linear warm-up in front of any schedule: epoch ``k <
    lr_warmup`` uses ``learning_rate_init * (k + 1) / (lr_warmup + 1)``,
    and the schedule then starts from its own epoch 0.

clip_norm : float, default=None
    If set, every gradient is rescaled so that its L2 norm is at most
    ``clip_norm``.

clip_value : float, default=None
    If set, every gradient entry is clipped to ``[-clip_value, clip_value]``.

shuffle : bool, default=True
    Whether to shuffle the rows before each epoch of the mini-batch solvers.

warm_start : bool, default=False
    Whether ``fit`` continues from the previous solution, optimizer state
    and schedule position instead of starting afresh. ``n_iter_``, ``t_``
    and the curves then keep counting across calls. Parameters may change
    in between: a new ``learning_rate_init`` takes effect (``partial_fit``
    keeps the rate of its first call, but for 'gd'), and a new update rule
    (``solver``, or ``momentum`` or ``amsgrad`` switched on or off) starts
    its optimizer state afresh from the current weights; 'adam' and 'adamw'
    share theirs.

verbose : int, default=0
    Whether to print progress: the set-up time before the first epoch; per
    epoch the training objective, the validation score (with early
    stopping), the rate and the elapsed time; and at the end why training
    stopped and which epoch's weights were kept (``stop_reason_``,
    ``best_epoch_``). Progress bars: ``set_callbacks(ProgressBar())`` from
    ``sklearn.callback`` (scikit-learn >= 1.9, with ``rich``).
"""

_ATTRIBUTES = """\
n_iter_ : int
    Number of epochs run, over all calls when warm-started or with
    ``partial_fit``.

t_ : int
    Number of optimizer steps (mini-batch updates) taken.

best_loss_ : float
    The smallest value in ``loss_curve_``.

best_epoch_ : int
    The epoch (counted over calls, as ``n_iter_``) whose weights the
    estimator holds: the last one, or with early stopping the one of the
    best validation score, or, when a fit fell back, the one of the lowest
    training objective. Averaged weights (``average``) count as the last.

stop_reason_ : str
    Why the last call stopped: the stopping rule that fired (with its
    numbers), ``max_iter``, a callback's request, or an interrupt.

learning_rate_curve_ : list of float
    The step size used in each epoch.

n_features_in_ : int
    Number of features seen during fit.

feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Names of features seen during fit, when ``X`` has string column names.
"""


def _entries(text: str) -> dict[str, str]:
    # an entry starts at column 0 with "name : type"
    blocks = re.split(r"\n\n(?=\w+ : )", text.strip())
    return {block.split(" : ", 1)[0]: block for block in blocks}


SHARED_DOCS = {**_entries(_PARAMETERS), **_entries(_ATTRIBUTES)}


def fill_doc(obj: T) -> T:
    """Replace the ``%(name)s`` lines of ``obj.__doc__`` by the shared entries,
    indented like the line they replace; ``default=?`` in an entry's first
    line becomes the default of that parameter in ``obj``'s signature (the
    estimators share a description, not always a default)."""
    if obj.__doc__ is None:  # python -OO strips docstrings
        return obj
    defaults = {
        name: p.default
        for name, p in inspect.signature(obj).parameters.items()
        if p.default is not inspect.Parameter.empty
    }

    def indent(match: re.Match) -> str:
        pad, name = match.group(1), match.group(2)
        text = SHARED_DOCS[name]
        if "default=?" in text:
            text = text.replace("default=?", f"default={defaults[name]!r}", 1)
        return "\n".join(pad + line if line else line for line in text.split("\n"))

    obj.__doc__ = re.sub(r"^( *)%\((\w+)\)s$", indent, obj.__doc__, flags=re.M)
    return obj
