"""Parameter and attribute descriptions shared by the estimators' docstrings.

Each estimator documents every parameter in its own docstring, as
scikit-learn's estimators do, but the parameters of the shared training loop
are described once, here, and placed by a ``%(name)s`` line: the
estimators' documentation cannot drift apart. Entries are written in numpydoc
form, separated by blank lines.
"""

import re
from typing import TypeVar

T = TypeVar("T")

_PARAMETERS = """\
learning_rate : {'auto', 'constant', 'invscaling', 'adaptive', 'step', \
'exponential', 'cosine', 'warm_restarts'}, default='auto'
    The schedule of the step size over epochs ``k = 0, 1, ...``. 'auto'
    means 'constant' for 'gd', which converges at a constant rate, and for
    the multi-layer perceptrons (as scikit-learn's, whose stopping rule ends
    the fit); for the mini-batch solvers of the linear models
    (:class:`GDRegressor`, :class:`GDClassifier`) it means 'adaptive': a
    constant rate leaves them at a noise floor (the variance of their
    steps), and dividing it by 5 at each plateau of the objective brings
    them to the optimum. 'constant' keeps ``learning_rate_init``;
    'invscaling' uses ``learning_rate_init / (k + 1) ** power_t``; 'adaptive'
    divides the rate by 5 each time ``n_iter_no_change`` consecutive epochs
    fail to improve the monitored quantity by ``tol``, and stops once the
    rate falls below 1e-6; 'step' multiplies it by ``lr_gamma`` every
    ``lr_step_size`` epochs; 'exponential' by ``lr_gamma`` every epoch;
    'cosine' anneals it to 0 over ``max_iter`` epochs (and stays at 0
    beyond); 'warm_restarts' anneals by cosine cycles of
    ``lr_restart_period`` epochs, each ``lr_restart_mult`` times longer than
    the last, restarting at ``learning_rate_init`` (SGDR, Loshchilov &
    Hutter, 2017). Each ``fit`` call starts without plateau cuts.

power_t : float, default=0.5
    The exponent of the 'invscaling' schedule.

l1_ratio : float, default=0.15
    The share of the L1 term when ``penalty='elasticnet'``.

batch_size : 'auto' or int, default='auto'
    Rows per mini-batch of every solver but 'gd', which always takes the
    full batch; 'auto' means ``min(200, n_samples)``. A batch of ``b`` of
    the ``n`` rows divides its weighted loss by ``b / n`` of the total
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
    Whether to print the training objective after each epoch.
"""

_ATTRIBUTES = """\
n_iter_ : int
    Number of epochs run, over all calls when warm-started or with
    ``partial_fit``.

t_ : int
    Number of optimizer steps (mini-batch updates) taken.

best_loss_ : float
    The smallest value in ``loss_curve_``.

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
    indented like the line they replace."""
    if obj.__doc__ is None:  # python -OO strips docstrings
        return obj

    def indent(match: re.Match) -> str:
        pad, name = match.group(1), match.group(2)
        return "\n".join(
            pad + line if line else line for line in SHARED_DOCS[name].split("\n")
        )

    obj.__doc__ = re.sub(r"^( *)%\((\w+)\)s$", indent, obj.__doc__, flags=re.M)
    return obj
