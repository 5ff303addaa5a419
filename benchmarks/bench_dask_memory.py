"""The client's memory when skgd fits a dask array larger than a worker's.

A LocalCluster of two worker processes (one thread each, ``--worker-memory``
each) and a lazy float64 ``X`` of ``--gib`` GiB (default 2): standard normal
values from ``da.random.default_rng`` in row chunks of about ``--chunk-mib``
MiB (default 64), ``--n-features`` columns (default 100). The targets are
derived from ``X`` lazily: ``y = X @ w + noise`` (unit noise) for the
regressors, and labels drawn from ``P(1) = sigmoid(X @ w / 2)`` for the
classifier, ``w`` standard normal. Nothing is persisted: every pass over
``X`` generates its chunks again on the workers, so ``X`` never exists whole
anywhere.

For each fit the table gives the peak growth of this (the client) process's
resident memory over its value before the fit, sampled every 10 ms in a
background thread, also as a fraction of ``X.nbytes`` (target: below 0.25);
the fit time; and the relative coefficient error ``||coef - w|| / ||w||``.
``y`` and the weights stay on the workers (checked, encoded and summed
there), so the fraction does not grow as ``n_features`` falls: try
``--n-features 10``, where ``y`` alone weighs 0.1 ``X.nbytes``.
The rows: ``GDRegressor(solver='gd')`` (least squares: the sufficient
statistics in one pass, then epochs without a pass over ``X``),
``GDClassifier(solver='gd', max_iter=20)`` (one map-reduce over the chunks per
epoch) and ``GDRegressor(solver='sgd', max_iter=2)`` (the chunks streamed to
the client, one ahead).

The last two rows check that a dask fit is the in-memory fit: on a
200,000 x 50 ``X`` held in memory (offset and scaled columns) and the same
array as a dask array in chunks of 25,000 rows, the largest coefficient
difference relative to the largest coefficient, for
``GDRegressor(solver='gd', tol=1e-10)`` and
``GDClassifier(solver='gd', tol=1e-8)`` (target: at most 1e-8).

Usage::

    python benchmarks/bench_dask_memory.py            # 2 GiB X: 3 to 5 min, 2 cores
    python benchmarks/bench_dask_memory.py --quick    # X of 256 MiB
    python benchmarks/bench_dask_memory.py --gib 8 --worker-memory 2GiB
"""

import argparse
import gc
import threading
import time
import warnings

import dask.array as da
import numpy as np
import psutil
from _common import describe_machine, print_table
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning

from skgd import GDClassifier, GDRegressor

MEMORY_TARGET = 0.25  # client peak growth / X.nbytes
EQUALITY_TARGET = 1e-8


class PeakRSS:
    """The peak growth of this process's resident memory while in the block,
    sampled every ``interval`` seconds by a background thread."""

    def __init__(self, interval=0.01):
        self.interval = interval
        self.process = psutil.Process()

    def __enter__(self):
        gc.collect()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        self.growth = self.peak - self.start


def lazy_problem(gib, chunk_mib, n_features, seed):
    """A lazy standard normal X of ``gib`` GiB, true coefficients ``w``, and
    targets derived from X lazily: real values and 0/1 labels."""
    n = int(gib * 2**30) // (8 * n_features)
    rows = max(1, int(chunk_mib * 2**20) // (8 * n_features))
    # numpy's Generator: a pass regenerates X three times faster than RandomState
    rs = da.random.default_rng(seed)
    X = rs.standard_normal((n, n_features), chunks=(rows, n_features))
    w = np.random.RandomState(seed).standard_normal(n_features)
    raw = X @ w
    y = raw + rs.standard_normal(n, chunks=rows)
    # labels of a logistic model, so that its coefficients are w / 2
    labels = (rs.random(n, chunks=rows) < 1 / (1 + da.exp(-raw / 2))).astype(np.int8)
    return X, w, y, labels


def rel_error(coef, ref):
    return float(np.linalg.norm(np.ravel(coef) - ref) / np.linalg.norm(ref))


def measure(name, est, X, y, w_true):
    with warnings.catch_warnings():
        # capped epochs are the point of the rows with max_iter
        warnings.simplefilter("ignore", ConvergenceWarning)
        # skgd sends y and the weights to the workers in a graph, once a fit
        warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
        with PeakRSS() as rss:
            start = time.perf_counter()
            est.fit(X, y)
            seconds = time.perf_counter() - start
    frac = rss.growth / X.nbytes
    return (
        name,
        est.n_iter_,
        f"{seconds:.1f}",
        f"{rss.growth / 2**20:.0f} MiB",
        f"{frac:.3f}",
        "yes" if frac < MEMORY_TARGET else "NO",
        f"{rel_error(est.coef_, w_true):.2e}",
    )


def equality_rows(seed, chunk_rows=25_000):
    rng = np.random.RandomState(seed)
    n, d = 200_000, 50
    # offset and scaled columns: the preconditioner's statistics matter
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d) + rng.uniform(-2, 5, d)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    w = rng.standard_normal(d)
    y = X @ w + rng.standard_normal(n)
    labels = (rng.random_sample(n) < 1 / (1 + np.exp(-Xs @ w / 4))).astype(int)
    with warnings.catch_warnings():
        # X travels in the graph once, here: a graph holding it would carry
        # it to the scheduler again on every pass
        warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
        Xd = da.from_array(X, chunks=(chunk_rows, d)).persist()
    rows = []
    for name, make, target in [
        ("GDRegressor gd, tol=1e-10", lambda: GDRegressor(tol=1e-10), y),
        ("GDClassifier gd, tol=1e-8", lambda: GDClassifier(tol=1e-8), labels),
    ]:
        ref = make().fit(X, target)
        start = time.perf_counter()
        got = make().fit(Xd, da.from_array(target, chunks=chunk_rows))
        seconds = time.perf_counter() - start
        a = np.concatenate([np.ravel(ref.coef_), np.ravel(ref.intercept_)])
        b = np.concatenate([np.ravel(got.coef_), np.ravel(got.intercept_)])
        diff = float(np.max(np.abs(a - b)) / np.max(np.abs(a)))
        ok = "yes" if diff <= EQUALITY_TARGET else "NO"
        rows.append(
            (name, f"{ref.n_iter_} / {got.n_iter_}", f"{seconds:.1f}", diff, ok)
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=2.0, help="size of X")
    parser.add_argument("--chunk-mib", type=float, default=64.0)
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument("--worker-memory", default="1GiB", help="per worker")
    parser.add_argument("--quick", action="store_true", help="X of 0.25 GiB")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    gib = 0.25 if args.quick else args.gib

    print(describe_machine())
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit=args.worker_memory,
        dashboard_address=":0",  # any free port
    )
    client = Client(cluster)
    X, w, y, labels = lazy_problem(gib, args.chunk_mib, args.n_features, args.seed)
    print(
        f"X: {X.shape[0]:,} x {X.shape[1]} float64 = {X.nbytes / 2**30:.2f} GiB, "
        f"lazy, {X.numblocks[0]} chunks of "
        f"{X.chunks[0][0] * X.shape[1] * 8 / 2**20:.0f} MiB; LocalCluster of 2 "
        f"worker processes x 1 thread, memory_limit={args.worker_memory} each\n"
    )
    rows = [
        measure("GDRegressor gd", GDRegressor(solver="gd"), X, y, w),
        measure(
            "GDClassifier gd, max_iter=20",
            GDClassifier(solver="gd", max_iter=20),
            X,
            labels,
            w / 2,
        ),
        measure(
            "GDRegressor sgd, max_iter=2",
            GDRegressor(solver="sgd", max_iter=2, random_state=args.seed),
            X,
            y,
            w,
        ),
    ]
    print_table(
        (
            "fit",
            "epochs",
            "time [s]",
            "client peak",
            "/ X.nbytes",
            f"< {MEMORY_TARGET}",
            "coef err",
        ),
        rows,
    )
    print("\nThe same fit in memory and on dask (200,000 x 50, chunks of 25,000 rows)")
    print_table(
        ("fit", "epochs np / dask", "dask time [s]", "max rel coef diff", "<= 1e-8"),
        [(*r[:3], f"{r[3]:.1e}", r[4]) for r in equality_rows(args.seed)],
    )
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
