"""Epoch times of a ReLU network whose units die, skgd beside MLPClassifier.

Issue 10's MLP setting (50,000 x 100 float32, 10 classes, one hidden layer
of 128 ReLU units, Adam, batches of 200), but at a rate of 0.1 and without
a penalty: the network loses most of its units within a few epochs, and the
weights into and out of a dead unit get exactly zero gradients from then on.
Their Adam moments decay by 0.9 per step and fall below float32's smallest
normal number about 800 steps (three epochs) later; x86 processors compute on
such subnormal numbers about a hundred times slower. skgd's training loop
zeroes them every 64 steps (``skgd._optimizers.without_subnormals``).

Each library trains one epoch per ``partial_fit`` call; the table prints the
mean time of the first three epochs and of the last three, and their ratio,
for skgd, for skgd with the sweep switched off, and for MLPClassifier.

Usage::

    python benchmarks/bench_subnormal.py            # 30 epochs
    python benchmarks/bench_subnormal.py --quick    # a tenth of the rows
"""

import time
import warnings

import numpy as np
from _common import blas_limit, mlp_setting, print_table
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

import skgd._base
from skgd import GDMLPClassifier

COMMON = {
    "hidden_layer_sizes": (128,),
    "solver": "adam",
    "alpha": 0.0,
    "learning_rate_init": 0.1,
    "batch_size": 200,
    "random_state": 0,
}


def epoch_times(est, X, y, epochs):
    """Seconds of each of ``epochs`` calls of ``partial_fit``."""
    classes = np.unique(y)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):
            start = time.perf_counter()
            est.partial_fit(X, y, classes=classes)
            times.append(time.perf_counter() - start)
    return np.array(times)


def main(argv=None):
    args, X, y = mlp_setting(__doc__, 30, argv)
    n = X.shape[0]
    X = X.astype(np.float32)
    sweep = skgd._base.without_subnormals
    runs = {}
    with blas_limit(args.blas_threads):
        runs["skgd"] = epoch_times(GDMLPClassifier(**COMMON), X, y, args.epochs)
        skgd._base.without_subnormals = dict  # the sweep switched off
        try:
            runs["skgd, no sweep"] = epoch_times(
                GDMLPClassifier(**COMMON), X, y, args.epochs
            )
        finally:
            skgd._base.without_subnormals = sweep
        runs["MLPClassifier"] = epoch_times(MLPClassifier(**COMMON), X, y, args.epochs)
    rows = []
    for name, times in runs.items():
        first, last = times[:3].mean(), times[-3:].mean()
        rows.append(
            (name, f"{first * 1e3:.0f}", f"{last * 1e3:.0f}", f"{last / first:.2f}")
        )
    print(f"\n{n} x 100 float32, rate 0.1, alpha 0, {args.epochs} epochs")
    print_table(("", "ms/epoch, first 3", "ms/epoch, last 3", "last / first"), rows)


if __name__ == "__main__":
    main()
