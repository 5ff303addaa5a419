"""Where a GDMLPClassifier training step's time goes, beside MLPClassifier's.

The setting of issue 10's target 3: 50,000 x 100, 10 classes, one hidden
layer of 128 ReLU units, Adam, batches of 200. A fit of skgd runs with timers
wrapped around the parts the training loop composes (the batches' row
gathers, the network's forward and backward passes, the loss, the optimizer
update; the rest is the loop itself, the penalty, clipping and checks), and
the five products are timed alone on arrays of the same shapes (the BLAS
limit of the step). Then each part is timed alone, skgd's own functions on
one batch in a loop of their own: their sum is the step of this design with
warm caches and no loop around it, and the distance of the fit's step from
it is what the parts cost each other. MLPClassifier's time per step comes
from two fits of E and 2E epochs in the same process. Every row prints its
microseconds per step and its share of MLPClassifier's step.

Usage::

    python benchmarks/profile_mlp_step.py                 # float64 and float32
    python benchmarks/profile_mlp_step.py --quick         # a tenth of the rows
"""

import collections
import itertools
import time
import warnings

import numpy as np
from _common import blas_limit, mlp_setting, print_table
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from skgd import GDMLPClassifier
from skgd._base import BaseGD
from skgd._data import ArrayRows
from skgd._losses import log_loss
from skgd._models import MLP
from skgd._optimizers import Adam
from skgd._penalties import ElasticNet

HIDDEN, BATCH = 128, 200


class _Timers:
    """Seconds per part, accumulated by wrappers installed for one fit; only
    inside the epochs (``_run_epoch``): the objective's evaluations on all
    rows at the start and the end run the same forward pass."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)
        self.in_epoch = False
        self._saved = []

    def timed(self, fn, part, epoch=False):
        """``fn``, adding its seconds to ``part`` when called in an epoch
        (``epoch``: it is the epoch)."""

        def timed(*args, **kwargs):
            if epoch:
                self.in_epoch = True
            elif not self.in_epoch:
                return fn(*args, **kwargs)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - start
                if epoch:
                    self.in_epoch = False

        return timed

    def wrap(self, owner, name, part, epoch=False):
        original = getattr(owner, name)
        self._saved.append((owner, name, original))
        setattr(owner, name, self.timed(original, part, epoch))

    def wrap_generator(self, owner, name, part):
        original = getattr(owner, name)
        seconds = self.seconds

        def timed(*args, **kwargs):
            items = original(*args, **kwargs)
            while True:
                start = time.perf_counter()
                try:
                    item = next(items)
                except StopIteration:
                    return
                finally:
                    seconds[part] += time.perf_counter() - start
                yield item

        self._saved.append((owner, name, original))
        setattr(owner, name, timed)

    def restore(self):
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()


class _TimedLoss(GDMLPClassifier):
    """GDMLPClassifier whose loss function reports to ``timers``."""

    timers = None

    def _loss(self):
        return type(self).timers.timed(super()._loss(), "loss (softmax cross-entropy)")


def _common(epochs):
    return {
        "hidden_layer_sizes": (HIDDEN,),
        "batch_size": BATCH,
        "solver": "adam",
        "random_state": 0,
        "max_iter": epochs,
    }


def skgd_parts(X, y, epochs):
    """Microseconds per step of each part of a GDMLPClassifier fit."""
    timers = _Timers()
    _TimedLoss.timers = timers
    timers.wrap_generator(ArrayRows, "batches", "rows gathered (X, y, weights)")
    timers.wrap(MLP, "forward", "forward (2 products, ReLU)")
    timers.wrap(MLP, "backward", "backward (3 products, ReLU')")
    timers.wrap(Adam, "update", "Adam update (14,218 parameters)")
    timers.wrap(BaseGD, "_run_epoch", "epoch", epoch=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _TimedLoss(tol=None, **_common(epochs)).fit(X, y)
    finally:
        timers.restore()
    steps = epochs * int(np.ceil(X.shape[0] / BATCH))
    parts = {k: v / steps * 1e6 for k, v in timers.seconds.items()}
    step = parts.pop("epoch")
    parts["loop, penalty, clipping, checks"] = step - sum(parts.values())
    return step, parts


def products_alone(n_features, n_classes, dtype, repeats=200):
    """Microseconds of the step's five products (the forward pass's two, the
    two weight gradients, the output layer's backward) on arrays of their
    shapes."""
    rng = np.random.RandomState(0)
    A = rng.standard_normal((BATCH, n_features)).astype(dtype)
    W = rng.standard_normal((n_features, HIDDEN)).astype(dtype)
    D = rng.standard_normal((BATCH, HIDDEN)).astype(dtype)
    V = rng.standard_normal((HIDDEN, n_classes)).astype(dtype)
    E = rng.standard_normal((BATCH, n_classes)).astype(dtype)
    products = [lambda: A @ W, lambda: A.T @ D, lambda: D @ V, lambda: D.T @ E]
    products.append(lambda: E @ np.ascontiguousarray(V.T))

    def step():
        for product in products:
            product()

    return _best_of(step, repeats)


def _best_of(fn, repeats):
    """Microseconds of one call of ``fn``: the best of 5 loops of ``repeats``."""
    best = np.inf
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best * 1e6


def parts_alone(X, y, dtype, repeats=300):
    """Microseconds of the step's parts, each timed alone in a loop of its
    own (warm caches, no training loop around it): skgd's own functions on
    one batch of the fit's shapes. Their sum is what this design's step
    costs with every part at numpy's and BLAS's speed and no overhead."""
    n_classes = int(y.max()) + 1
    rng = np.random.RandomState(0)
    Y = np.eye(n_classes, dtype=dtype)[y]
    sw = np.ones(X.shape[0], dtype=dtype)
    # the gather goes through one shuffled epoch's batches, as a fit does
    # (rows from memory, not from the cache)
    batches = itertools.cycle(
        np.array_split(rng.permutation(X.shape[0]), X.shape[0] // BATCH)
    )
    idx = next(batches)
    X_b, Y_b, sw_b = X.take(idx, axis=0), Y.take(idx, axis=0), sw.take(idx)
    model = MLP([X.shape[1], HIDDEN, n_classes], "relu", "glorot_uniform")
    theta = model.init(rng, np.dtype(dtype))
    grad = np.empty_like(theta)
    penalty = ElasticNet(0.0, 1e-4, model.n_penalized)
    adam = Adam()
    state = adam.init(theta)
    raw, cache = model.forward(theta, X_b)
    _, draw = log_loss(raw, Y_b, sw_b, float(BATCH))

    def gather():
        rows = next(batches)
        X.take(rows, axis=0), Y.take(rows, axis=0), sw.take(rows)

    def penalty_and_norm():
        penalty.value(theta), penalty.add_grad(theta, grad), np.dot(grad, grad)

    parts = {
        "rows gathered": gather,
        "forward": lambda: model.forward(theta, X_b),
        "loss": lambda: log_loss(raw, Y_b, sw_b, float(BATCH)),
        "backward": lambda: model.backward(theta, X_b, draw, cache, grad),
        "penalty, gradient norm": penalty_and_norm,
        "Adam": lambda: adam.update(theta, grad, state, 1e-3, penalty.prox),
    }
    return {k: _best_of(fn, repeats) for k, fn in parts.items()}


def sklearn_step(X, y, epochs):
    """Microseconds per step of MLPClassifier: fits of E and 2E epochs."""
    times = []
    for e in (epochs, 2 * epochs):
        est = MLPClassifier(tol=0.0, n_iter_no_change=2 * epochs, **_common(e))
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        times.append(time.perf_counter() - start)
    steps = epochs * int(np.ceil(X.shape[0] / BATCH))
    return (times[1] - times[0]) / steps * 1e6


def main(argv=None):
    args, X, y = mlp_setting(__doc__, 3, argv)
    n = X.shape[0]
    with blas_limit(args.blas_threads):
        for dtype in (np.float64, np.float32):
            Xd = X.astype(dtype)
            ref = sklearn_step(Xd, y, args.epochs)
            step, parts = skgd_parts(Xd, y, args.epochs)
            blas = products_alone(X.shape[1], 10, dtype)
            alone = parts_alone(Xd, y, dtype)
            rows = [(k, f"{v:.0f}", f"{v / ref:.2f}") for k, v in parts.items()]
            rows += [
                ("skgd step", f"{step:.0f}", f"{step / ref:.2f}"),
                ("  the products alone (BLAS)", f"{blas:.0f}", f"{blas / ref:.2f}"),
                (
                    "  the parts above, each alone",
                    f"{sum(alone.values()):.0f}",
                    f"{sum(alone.values()) / ref:.2f}",
                ),
            ]
            rows += [
                (f"    {k}", f"{v:.0f}", f"{v / ref:.2f}") for k, v in alone.items()
            ]
            rows += [
                ("MLPClassifier step", f"{ref:.0f}", "1.00"),
            ]
            print(f"\n{np.dtype(dtype).name}, {n} x 100, batches of {BATCH}")
            print_table(("part", "us/step", "/ MLPClassifier step"), rows)


if __name__ == "__main__":
    main()
