"""Learning-rate schedules: plain functions of the epoch.

``make_schedule`` returns a function ``epoch -> learning rate`` where ``epoch``
counts the epochs completed before the one about to run, over every call to
``fit`` / ``partial_fit`` of a warm-started estimator. The rate is constant
within an epoch. The "adaptive" schedule is constant here: dividing the rate
when the loss stalls is done by the stopping logic in the training loop,
which is the only place that watches the loss.
"""

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


SCHEDULES: dict[str, Callable[..., float]] = {
    "constant": constant,
    "invscaling": invscaling,
    "adaptive": constant,
}

# the estimator parameters each schedule reads, besides the initial rate
_SCHEDULE_PARAMS: dict[str, tuple[str, ...]] = {"invscaling": ("power_t",)}


def make_schedule(name: str, lr: float, params: Mapping[str, Any]) -> Schedule:
    """Bind the schedule ``name`` to its initial rate and parameters."""
    extra = {key: params[key] for key in _SCHEDULE_PARAMS.get(name, ())}
    return partial(SCHEDULES[name], lr=lr, **extra)
