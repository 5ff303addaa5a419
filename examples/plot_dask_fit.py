"""
==================================================
Fitting a dask array larger than a worker's memory
==================================================

The estimators of skgd accept dask arrays in ``fit``, and ``X`` is never
gathered into one process: full-batch ``'gd'`` sums each epoch's loss and
gradient over the chunks where they live, so only parameter-sized arrays
travel, and for least squares it needs a single pass for its sufficient
statistics; the mini-batch solvers stream one chunk at a time to the client.
``y`` stays on the workers too: it is checked and encoded chunk by chunk
where it lives, and what the fit needs of it is summed there.

This example starts a :class:`~distributed.LocalCluster` of two worker
processes with 500 MiB of memory each, builds a 600 MB ``X`` lazily with
``da.random`` (so that it never exists whole anywhere) and ``y`` from it, and
fits :class:`~skgd.GDRegressor` with ``'gd'`` and with ``'sgd'``. It prints the
coefficient error and how much the client process's memory grew during each
fit, and plots the loss curves.

Set ``SKGD_EXAMPLES_QUICK=1`` for a smaller ``X`` (150 MB) and
``SKGD_EXAMPLES_SAVE=<directory>`` to save the figure there.
"""

import os
import sys
import threading
import time
import warnings

import dask
import dask.array as da
import numpy as np
import psutil
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning

from skgd import GDRegressor, LossCurveDisplay

QUICK = bool(os.environ.get("SKGD_EXAMPLES_QUICK"))
N_SAMPLES = 150_000 if QUICK else 600_000
N_FEATURES = 125
CHUNK_ROWS = 25_000  # 25 MB of float64 per chunk

# %%
# A cluster of two small workers
# ------------------------------
# Two worker processes of one thread each, each allowed 500 MiB, which is less
# than ``X`` below and about what a worker uses at rest plus a few chunks. On
# a real cluster, ``Client("scheduler-address:8786")`` takes the place of the
# ``LocalCluster``.
#
# Worker processes start by multiprocessing's ``'spawn'``, which imports the
# main script again in each of them: a script of your own starts its cluster
# under ``if __name__ == "__main__":``. This example runs from top to bottom
# (as a gallery page does), so when it runs as a script its workers are
# forked instead.
run_as_script = getattr(sys.modules["__main__"], "__spec__", None) is None
if run_as_script and sys.platform != "win32":
    dask.config.set({"distributed.worker.multiprocessing-method": "fork"})
cluster = LocalCluster(
    n_workers=2,
    threads_per_worker=1,
    processes=True,
    memory_limit="500MiB",
    dashboard_address=":0",  # any free port
)
client = Client(cluster)

# %%
# A lazy ``X`` and a ``y`` derived from it
# ----------------------------------------
# ``da.random`` describes ``X`` without computing it: each chunk is generated
# on a worker when a computation needs it, and dropped afterwards (numpy's
# ``Generator``, through ``default_rng``, generates them quickly). The
# targets are a linear function of ``X`` with unit noise, so the true
# coefficients ``w`` are known; ``y`` is lazy too (``X @ w`` chunk by chunk).
rs = da.random.default_rng(0)
X = rs.standard_normal((N_SAMPLES, N_FEATURES), chunks=(CHUNK_ROWS, N_FEATURES))
w = np.random.default_rng(0).uniform(-1, 1, N_FEATURES)
y = X @ w + 2.0 + rs.standard_normal(N_SAMPLES, chunks=CHUNK_ROWS)
print(
    f"X: {N_SAMPLES:,} x {N_FEATURES} float64 = {X.nbytes / 1e6:.0f} MB in "
    f"{X.numblocks[0]} chunks of {CHUNK_ROWS * N_FEATURES * 8 / 1e6:.0f} MB"
)


# %%
# The client's memory
# -------------------
# A background thread samples the resident memory of this process (the
# client) every 10 ms during a fit; the growth over its value before the fit
# is what the fit brought into the client.
class PeakMemory:
    def __enter__(self):
        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def sample(self):
        while not self.done.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.growth = self.peak - self.start


def fit_and_report(name, est):
    with PeakMemory() as memory:
        start = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - start
    error = np.linalg.norm(est.coef_ - w) / np.linalg.norm(w)
    print(
        f"{name}: {est.n_iter_} epochs in {seconds:.1f} s, relative coefficient "
        f"error {error:.1e}, client memory +{memory.growth / 1e6:.0f} MB "
        f"({memory.growth / X.nbytes:.2f} of X)"
    )
    return est


# %%
# Full-batch gradient descent
# ---------------------------
# ``'gd'`` on least squares computes the Gram matrix of the standardized
# ``X`` with ``y`` in one pass over the chunks (each worker sums its own
# chunks, and only ``(d + 2) x (d + 2)`` matrices travel); every epoch then
# costs ``O(d**2)`` without touching ``X``. The other passes validate ``X``
# (finite values, in one reduction), compute ``y`` and, at the end, the
# model's predictions for the check against the mean of ``y``. The error left
# is the noise's: about ``sqrt(d / n)``.
gd = fit_and_report("gd", GDRegressor(solver="gd"))

# %%
# Mini-batch SGD, streamed
# ------------------------
# ``'sgd'`` needs the rows themselves: every epoch visits the chunks in a new
# random order, shuffles the rows within each chunk, and computes the next
# chunk on the workers while the client trains on the current one, so the
# client holds about two chunks at a time. Each epoch moves all of ``X`` to
# the client once, so it takes longer than the whole ``'gd'`` fit; the
# averaged weights usually stop it after two epochs, where the sufficient
# statistics prove them within ``tol / 10`` of the optimum.
with warnings.catch_warnings():
    # a capped run says so in its stop reason
    warnings.simplefilter("ignore", ConvergenceWarning)
    sgd = fit_and_report("sgd", GDRegressor(solver="sgd", max_iter=5, random_state=0))
print(f"sgd stopped: {sgd.stop_reason_}")

# %%
# Predictions stay on the workers
# -------------------------------
# ``predict`` on a dask array returns a dask array, computed chunk by chunk
# where the chunks live; ``score`` sums the squared errors over the chunks,
# so neither the predictions nor ``y`` come to the client.
y_pred = gd.predict(X)
print(f"a dask array: {isinstance(y_pred, da.Array)}, {y_pred.numblocks[0]} chunks")
print(f"first predictions: {np.round(y_pred[:3].compute(), 3)}")
print(f"R2 of gd: {gd.score(X, y):.4f}")

# %%
# Loss curves
# -----------
# The training objective (half the mean squared error) of each epoch; the
# optimum is half the noise variance, about 0.5. ``'gd'`` reaches it in its
# third epoch; the mean over ``'sgd'``'s mini-batches is close to it from
# the first epoch.
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure")

if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    display = LossCurveDisplay.from_estimators(
        {"gd": gd, "sgd": sgd}, ax=ax, marker="o"
    )
    ax.axhline(0.5, color="0.5", linestyle=":", label="optimum (noise)")
    ax.legend()
    ax.set_title(f"GDRegressor on a lazy {X.nbytes / 1e6:.0f} MB dask array")
    if os.environ.get("SKGD_EXAMPLES_SAVE"):
        path = os.path.join(os.environ["SKGD_EXAMPLES_SAVE"], "plot_dask_fit.png")
        fig.savefig(path)
        print(f"figure saved to {path}")

# %%
# Closing the cluster
# -------------------
client.close()
cluster.close()
