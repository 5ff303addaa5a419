"""Learning-rate schedules: plain functions of the epoch.

``make_schedule`` returns a function ``epoch -> learning rate`` where ``epoch``
counts the epochs completed before the one about to run, over every call to
``fit`` / ``partial_fit`` of a warm-started estimator. The rate is constant
within an epoch. The "adaptive" schedule is constant here: dividing the rate
when the loss stalls is done by the stopping logic in the training loop,
which is the only place that watches the loss. Every function is a
module-level function bound with :func:`functools.partial`, so it pickles.
"""

import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

Schedule = Callable[[int], float]


def constant(epoch: int, *, lr: float) -> float:
    """``lr`` at every epoch."""
    return lr


def invscaling(epoch: int, *, lr: float, power_t: float) -> float:
    """``lr / (epoch + 1) ** power_t``."""
    return lr / (epoch + 1) ** power_t


def step(epoch: int, *, lr: float, step_size: int, gamma: float) -> float:
    """``lr * gamma ** (epoch // step_size)``: multiply by gamma every step_size."""
    return lr * gamma ** (epoch // step_size)


def exponential(epoch: int, *, lr: float, gamma: float) -> float:
    """``lr * gamma ** epoch``."""
    return lr * gamma**epoch


def cosine(epoch: int, *, lr: float, period: int) -> float:
    """Half a cosine from ``lr`` down to 0 at epoch ``period`` (then 0)."""
    return 0.5 * lr * (1.0 + math.cos(math.pi * min(epoch, period) / period))


def warm_restarts(epoch: int, *, lr: float, period: int, mult: float) -> float:
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017).

    The first cycle lasts ``period`` epochs, each next one ``mult`` times
    longer; every cycle restarts at ``lr`` and decays by half a cosine.
    """
    start, length = 0.0, float(period)
    while epoch >= start + length:
        start, length = start + length, length * mult
    return 0.5 * lr * (1.0 + math.cos(math.pi * (epoch - start) / length))


def _warmup(epoch: int, *, lr: float, warmup: int, base: Schedule) -> float:
    # linear ramp lr/(w+1), 2 lr/(w+1), ..., then the schedule from its start
    if epoch < warmup:
        return lr * (epoch + 1) / (warmup + 1)
    return base(epoch - warmup)


SCHEDULES: dict[str, Callable[..., float]] = {
    "constant": constant,
    "invscaling": invscaling,
    "adaptive": constant,
    "step": step,
    "exponential": exponential,
    "cosine": cosine,
    "warm_restarts": warm_restarts,
}

# schedule -> {function argument: estimator parameter}
_SCHEDULE_PARAMS: dict[str, dict[str, str]] = {
    "invscaling": {"power_t": "power_t"},
    "step": {"step_size": "lr_step_size", "gamma": "lr_gamma"},
    "exponential": {"gamma": "lr_gamma"},
    "cosine": {"period": "max_iter"},
    "warm_restarts": {"period": "lr_restart_period", "mult": "lr_restart_mult"},
}


def make_schedule(name: str, lr: float, params: Mapping[str, Any]) -> Schedule:
    """Bind the schedule ``name`` to its initial rate and parameters.

    ``params`` are the estimator's parameters; ``lr_warmup`` epochs of linear
    warm-up precede the schedule when it is positive.
    """
    extra = {arg: params[key] for arg, key in _SCHEDULE_PARAMS.get(name, {}).items()}
    schedule = partial(SCHEDULES[name], lr=lr, **extra)
    warmup = params.get("lr_warmup", 0)
    if warmup:
        return partial(_warmup, lr=lr, warmup=warmup, base=schedule)
    return schedule
