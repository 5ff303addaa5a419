"""Optimizers: small picklable update rules over one flat parameter vector.

Contract (after optax, without closures so everything pickles):

- ``init(theta) -> state``: a dict of arrays, the optimizer's memory.
- ``lookahead(theta, state) -> point``: where the next gradient is taken
  (Nesterov's look-ahead point; ``theta`` itself for every other rule).
- ``update(theta, grad, state, lr, prox) -> (theta, state)``: one step.

``update`` returns the new parameters rather than a bare step because the
proximal operator of the L1 penalty has to sit *inside* the rule for momentum
methods to keep the right fixed points (FISTA, iPiano) and for the adaptive
methods to threshold with their own per-coordinate step size. ``prox(z, step)``
may modify ``z`` in place; ``update`` never modifies ``theta``, ``grad`` or
``state``. None of these classes prints, decides stopping or changes the
learning rate: that belongs to the training loop and the schedules.
"""

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

Array = np.ndarray
State = dict[str, Array]
Prox = Callable[[Array, "float | Array"], Array]


def identity_prox(z: Array, step: float | Array) -> Array:
    """The proximal operator of the zero function."""
    return z


class Optimizer(Protocol):
    def init(self, theta: Array) -> State: ...

    def lookahead(self, theta: Array, state: State) -> Array: ...

    def update(
        self, theta: Array, grad: Array, state: State, lr: float, prox: Prox
    ) -> tuple[Array, State]: ...


class Momentum:
    """Gradient descent with heavy-ball or Nesterov momentum.

    With velocity ``v`` (the last displacement) and ``base = theta + mu * v``,
    one step is ``theta' = prox(base - lr * g, lr)`` and ``v' = theta' - theta``.
    The gradient ``g`` is taken at ``theta`` (heavy ball, Polyak 1964) or at
    the look-ahead point ``base`` (Nesterov; Sutskever et al. 2013 form). With
    an L1 prox these are iPiano (Ochs et al. 2014) and FISTA with constant
    momentum (Beck & Teboulle 2009); without it they are exactly the
    ``v' = mu v - lr g`` updates of scikit-learn's ``SGDOptimizer``.

    ``restart=True`` zeroes the velocity whenever the step has a positive
    inner product with the (proximal) gradient, the adaptive restart of
    O'Donoghue & Candes (2015); it is meant for full-batch descent, where it
    makes high momentum safe on ill-conditioned problems.
    """

    def __init__(
        self, momentum: float = 0.9, nesterov: bool = True, restart: bool = False
    ) -> None:
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.restart = bool(restart)

    def init(self, theta: Array) -> State:
        return {"velocity": np.zeros_like(theta)} if self.momentum else {}

    def lookahead(self, theta: Array, state: State) -> Array:
        if self.nesterov and self.momentum:
            return theta + self.momentum * state["velocity"]
        return theta

    def update(
        self, theta: Array, grad: Array, state: State, lr: float, prox: Prox
    ) -> tuple[Array, State]:
        if not self.momentum:
            return prox(theta - lr * grad, lr), state
        base = theta + self.momentum * state["velocity"]
        new = prox(base - lr * grad, lr)
        velocity = new - theta
        # base - new is lr times the gradient mapping at the extrapolated point
        if self.restart and np.dot(base - new, velocity) > 0:
            velocity[:] = 0
        return new, {"velocity": velocity}


class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1) with a diagonal proximal step.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``, then with the
    bias-corrected ``m_hat``, ``v_hat`` and ``d = sqrt(v_hat) + eps``:
    ``theta' = prox(theta - lr * m_hat / d, lr / d)``. Thresholding by the
    per-coordinate step ``lr / d`` keeps the L1 fixed points exact.
    """

    def __init__(
        self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8
    ) -> None:
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)

    def init(self, theta: Array) -> State:
        return {
            "m": np.zeros_like(theta),
            "v": np.zeros_like(theta),
            "t": np.zeros((), dtype=np.int64),
        }

    def lookahead(self, theta: Array, state: State) -> Array:
        return theta

    def update(
        self, theta: Array, grad: Array, state: State, lr: float, prox: Prox
    ) -> tuple[Array, State]:
        b1, b2 = self.beta_1, self.beta_2
        t = int(state["t"]) + 1
        m = b1 * state["m"] + (1 - b1) * grad
        v = b2 * state["v"] + (1 - b2) * grad * grad
        step = lr / (np.sqrt(v / (1 - b2**t)) + self.epsilon)
        new = prox(theta - step * (m / (1 - b1**t)), step)
        return new, {"m": m, "v": v, "t": np.asarray(t, dtype=np.int64)}


def _momentum(params: Mapping[str, Any], *, restart: bool) -> Momentum:
    return Momentum(params["momentum"], params["nesterovs_momentum"], restart)


# solver name -> builder from the estimator's parameters; "gd" differs from
# "sgd" only by its batching (full batch) and the restart it can afford
_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Optimizer]] = {
    "gd": lambda p: _momentum(p, restart=True),
    "sgd": lambda p: _momentum(p, restart=False),
    "adam": lambda p: Adam(p["beta_1"], p["beta_2"], p["epsilon"]),
}

SOLVERS = tuple(_BUILDERS)
FULL_BATCH_SOLVERS = frozenset({"gd"})
# solvers whose step is normalized per coordinate (about lr whatever the gradient)
ADAPTIVE_SOLVERS = frozenset({"adam"})


def make_optimizer(solver: str, params: Mapping[str, Any]) -> Optimizer:
    """Build the optimizer named by ``solver`` from the estimator parameters."""
    return _BUILDERS[solver](params)
