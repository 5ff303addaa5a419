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

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

Array = np.ndarray
State = dict[str, Array]
Prox = Callable[[Array, "float | Array"], Array]


def identity_prox(z: Array, step: float | Array) -> Array:
    """The proximal operator of the zero function."""
    return z


def without_subnormals(state: Mapping[str, Any]) -> State:
    """``state`` with its subnormal entries set to zero (new arrays where
    there are any; ``state`` itself is not modified).

    A moment or velocity whose gradient stays exactly zero (a dead ReLU unit
    without a penalty, a sparse feature absent from many batches) decays
    geometrically, and after a few hundred steps in float32 (thousands in
    float64) falls below the smallest normal number. x86 processors compute
    on subnormal operands through a microcode assist about a hundred times
    slower, so that an update can take several times its normal time. Such
    values are far below the rounding of any parameter they could move; the
    training loop zeroes them every few steps.
    """
    out = dict(state)
    for key, a in state.items():
        if not (isinstance(a, np.ndarray) and a.ndim and a.dtype.kind == "f"):
            continue
        magnitude = np.abs(a)
        tiny = magnitude < np.finfo(a.dtype).tiny
        tiny &= magnitude > 0
        if tiny.any():
            out[key] = np.where(tiny, a.dtype.type(0), a)
    return out


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
            return self._base(theta, state)
        return theta

    def _base(self, theta: Array, state: State) -> Array:
        # theta + mu v in one new array (python-float mu keeps float32)
        base = np.multiply(state["velocity"], self.momentum)
        base += theta
        return base

    def update(
        self, theta: Array, grad: Array, state: State, lr: float, prox: Prox
    ) -> tuple[Array, State]:
        if not self.momentum:
            return prox(theta - lr * grad, lr), state
        # two new arrays per step, the parameters and the velocity: a step
        # over many parameters and few rows (sparse data) is memory traffic
        new = self._base(theta, state)
        base = new.copy() if self.restart else None
        velocity = np.multiply(grad, float(lr))
        new -= velocity
        new = prox(new, lr)
        np.subtract(new, theta, out=velocity)
        # base - new is lr times the gradient mapping at the extrapolated point
        if base is not None and np.dot(base - new, velocity) > 0:
            velocity[:] = 0
        return new, {"velocity": velocity}


class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1), with AMSGrad and decoupled decay.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``, then with the
    bias-corrected ``m_hat`` and ``v_hat`` and ``d = sqrt(v_hat) + eps``:
    ``theta' = prox(theta - lr * m_hat / d, lr / d)``. Thresholding by the
    per-coordinate step ``lr / d`` keeps the L1 fixed points exact.

    ``amsgrad=True`` (Reddi et al. 2018) normalizes by the running maximum of
    ``v`` instead of ``v``. ``weight_decay > 0`` is AdamW (Loshchilov & Hutter
    2019): the first ``n_decayed`` entries (the weights, never the intercepts)
    also move by ``-lr * weight_decay * theta``, outside the adaptive
    normalization. Like PyTorch and optax, the decay is scaled by the full
    rate ``lr``; the paper's ``lambda`` multiplies only the schedule factor,
    i.e. ``weight_decay = lambda / learning_rate_init``.
    """

    def __init__(
        self,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        amsgrad: bool = False,
        weight_decay: float = 0.0,
        n_decayed: int = 0,
        unit: float | Array = 1.0,
    ) -> None:
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = _epsilon(epsilon, unit)
        self.amsgrad = bool(amsgrad)
        self.weight_decay = float(weight_decay)
        self.n_decayed = int(n_decayed)

    def init(self, theta: Array) -> State:
        state = {"m": np.zeros_like(theta), "v": np.zeros_like(theta)}
        if self.amsgrad:
            state["v_max"] = np.zeros_like(theta)
        state["t"] = np.zeros((), dtype=np.int64)
        return state

    def lookahead(self, theta: Array, state: State) -> Array:
        return theta

    def update(
        self, theta: Array, grad: Array, state: State, lr: float, prox: Prox
    ) -> tuple[Array, State]:
        b1, b2 = self.beta_1, self.beta_2
        t = int(state["t"]) + 1
        # fresh arrays updated in place: the state passed in is never touched,
        # and a step allocates four vectors (``new`` is scratch until it
        # holds the parameters) and makes no temporaries
        new = np.multiply(grad, 1 - b1)
        m = np.multiply(state["m"], b1)
        m += new
        v = np.square(grad)
        v *= 1 - b2
        np.multiply(state["v"], b2, out=new)
        v += new
        new_state = {"m": m, "v": v, "t": np.asarray(t, dtype=np.int64)}
        if self.amsgrad:
            v = new_state["v_max"] = np.maximum(state["v_max"], v)
        # lr / (sqrt(v / c) + eps) = lr sqrt(c) / (sqrt(v) + eps sqrt(c)) with
        # c = 1 - b2**t: the bias correction of v moves to two scalars
        # (python floats: a numpy float64 scalar would make float32 loops
        # compute in float64)
        root_c = math.sqrt(1 - b2**t)
        step = np.sqrt(v)
        step += _cast(self.epsilon, v) * root_c
        np.divide(float(lr) * root_c, step, out=step)
        np.multiply(step, m, out=new)
        new *= -1.0 / (1 - b1**t)
        new += theta
        if self.weight_decay:
            k = self.n_decayed
            new[:k] -= lr * self.weight_decay * theta[:k]
        return prox(new, step), new_state


class RMSprop:
    """RMSprop (Hinton, Coursera lecture 6e, 2012).

    ``v = rho v + (1 - rho) g**2``, ``theta' = prox(theta - lr g / d, lr / d)``
    with ``d = sqrt(v) + eps``.
    """

    def __init__(
        self, rho: float = 0.9, epsilon: float = 1e-8, unit: float | Array = 1.0
    ) -> None:
        self.rho = float(rho)
        self.epsilon = _epsilon(epsilon, unit)

    def init(self, theta: Array) -> State:
        return {"v": np.zeros_like(theta)}

    def lookahead(self, theta: Array, state: State) -> Array:
        return theta

    def update(
        self, theta: Array, grad: Array, state: State, lr: float, prox: Prox
    ) -> tuple[Array, State]:
        v = self.rho * state["v"] + (1 - self.rho) * grad * grad
        step = lr / (np.sqrt(v) + _cast(self.epsilon, v))
        return prox(theta - step * grad, step), {"v": v}


class Adagrad:
    """Adagrad (Duchi, Hazan & Singer 2011), diagonal version.

    ``G = G + g**2``, ``theta' = prox(theta - lr g / d, lr / d)`` with
    ``d = sqrt(G) + eps``.
    """

    def __init__(self, epsilon: float = 1e-8, unit: float | Array = 1.0) -> None:
        self.epsilon = _epsilon(epsilon, unit)

    def init(self, theta: Array) -> State:
        return {"G": np.zeros_like(theta)}

    def lookahead(self, theta: Array, state: State) -> Array:
        return theta

    def update(
        self, theta: Array, grad: Array, state: State, lr: float, prox: Prox
    ) -> tuple[Array, State]:
        G = state["G"] + grad * grad
        step = lr / (np.sqrt(G) + _cast(self.epsilon, G))
        return prox(theta - step * grad, step), {"G": G}


class Adadelta:
    """Adadelta (Zeiler 2012, Algorithm 1), times the rate ``lr``.

    ``v = rho v + (1 - rho) g**2``; the step is
    ``-lr * sqrt(u + eps) / sqrt(v + eps) * g`` (``lr = 1`` is the paper);
    ``u = rho u + (1 - rho) delta**2`` with ``delta`` the displacement made
    divided by ``lr`` (Zeiler's unit-rate update, as in PyTorch and optax).
    """

    def __init__(
        self, rho: float = 0.9, epsilon: float = 1e-8, unit: float | Array = 1.0
    ) -> None:
        self.rho = float(rho)
        self.epsilon = float(epsilon)
        # epsilon guards both u (displacements) and v (squared gradients,
        # measured in unit**2)
        with np.errstate(over="ignore"):
            square = np.minimum(np.square(unit), np.finfo(np.float64).max)
        self.grad_epsilon = _epsilon(epsilon, square)

    def init(self, theta: Array) -> State:
        return {"v": np.zeros_like(theta), "u": np.zeros_like(theta)}

    def lookahead(self, theta: Array, state: State) -> Array:
        return theta

    def update(
        self, theta: Array, grad: Array, state: State, lr: float, prox: Prox
    ) -> tuple[Array, State]:
        rho, eps = self.rho, self.epsilon
        v = rho * state["v"] + (1 - rho) * grad * grad
        ratio = np.sqrt(state["u"] + eps) / np.sqrt(v + _cast(self.grad_epsilon, v))
        new = prox(theta - lr * ratio * grad, lr * ratio)
        # u averages Zeiler's unit-rate update; averaging the displacement
        # itself would make lr a feedback gain rather than a scale
        # in the dtype of theta (a tiny float64 rate is 0 in float32: 0 / 0)
        step = theta.dtype.type(lr)
        delta = (new - theta) / step if step > 0 else -ratio * grad
        return new, {"v": v, "u": rho * state["u"] + (1 - rho) * delta * delta}


def _epsilon(epsilon: float, unit: float | Array) -> float | Array:
    """``epsilon`` in the unit of the gradient: a scalar, or one value per
    parameter when the model's coordinates give each its own unit."""
    if np.ndim(unit) == 0:
        return float(epsilon) * float(unit)
    return float(epsilon) * np.asarray(unit, dtype=np.float64)


def _cast(epsilon: float | Array, like: Array) -> float | Array:
    # a per-parameter epsilon follows the state's dtype (float32 stays float32)
    return epsilon if np.ndim(epsilon) == 0 else epsilon.astype(like.dtype, copy=False)


def _momentum(params: Mapping[str, Any], *, restart: bool) -> Momentum:
    return Momentum(params["momentum"], params["nesterovs_momentum"], restart)


def _adam(params: Mapping[str, Any], n_decayed: int, *, decoupled: bool) -> Adam:
    decay = params["weight_decay"] if decoupled else 0.0
    return Adam(
        params["beta_1"],
        params["beta_2"],
        params["epsilon"],
        params["amsgrad"],
        decay,
        n_decayed,
        params.get("grad_unit", 1.0),
    )


# solver name -> builder from the estimator's parameters and the number of
# weights (the penalized prefix); "gd" differs from "sgd" only by its batching
# (full batch) and the restart it can afford
_BUILDERS: dict[str, Callable[[Mapping[str, Any], int], Optimizer]] = {
    "gd": lambda p, k: _momentum(p, restart=True),
    "sgd": lambda p, k: _momentum(p, restart=False),
    "adam": lambda p, k: _adam(p, k, decoupled=False),
    "adamw": lambda p, k: _adam(p, k, decoupled=True),
    "rmsprop": lambda p, k: RMSprop(p["rho"], p["epsilon"], p.get("grad_unit", 1.0)),
    "adagrad": lambda p, k: Adagrad(p["epsilon"], p.get("grad_unit", 1.0)),
    "adadelta": lambda p, k: Adadelta(p["rho"], p["epsilon"], p.get("grad_unit", 1.0)),
}

SOLVERS = tuple(_BUILDERS)
FULL_BATCH_SOLVERS = frozenset({"gd"})
# solvers whose step is normalized per coordinate (about lr whatever the gradient)
ADAPTIVE_SOLVERS = frozenset({"adam", "adamw", "rmsprop", "adagrad", "adadelta"})


def make_optimizer(
    solver: str, params: Mapping[str, Any], n_weights: int = 0
) -> Optimizer:
    """Build the optimizer named by ``solver`` from the estimator parameters."""
    return _BUILDERS[solver](params, n_weights)
