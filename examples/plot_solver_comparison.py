"""
========================================================
Comparing GD, SGD and Adam with the closed-form solution
========================================================

:class:`~skgd.GDRegressor` minimizes the least-squares objective of
:class:`~sklearn.linear_model.LinearRegression` (half the mean squared error)
with one of three solvers: full-batch gradient descent (``'gd'``), mini-batch
SGD with momentum (``'sgd'``) and Adam (``'adam'``). This example fits each on
the standardized diabetes data and compares it with the exact least-squares
solution: the R² on the training data, the distance of the coefficients to
``LinearRegression().coef_`` and the number of epochs, and plots how far each
epoch's objective is above the optimum.

Set ``SKGD_EXAMPLES_QUICK=1`` to run fewer epochs (as the test suite does) and
``SKGD_EXAMPLES_SAVE=<directory>`` to save the figure there.
"""

import os
import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

from skgd import GDRegressor

QUICK = bool(os.environ.get("SKGD_EXAMPLES_QUICK"))
MAX_ITER = 60 if QUICK else 1000

# %%
# The data and the exact solution
# -------------------------------
# The ten diabetes features are standardized. Several of them (the six blood
# serum measurements) are strongly correlated, so the objective is flat along
# a few directions: a good test for first-order methods.
X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)

exact = LinearRegression().fit(X, y)
f_star = 0.5 * np.mean((y - exact.predict(X)) ** 2)
print(f"optimal objective (half the training MSE): {f_star:.4f}")

# %%
# Three solvers, five seeds
# -------------------------
# ``'gd'`` uses its default step ``1 / L`` (``L`` the largest curvature),
# Nesterov momentum and adaptive restarts, and stops when the gradient falls
# below ``tol``. The mini-batch solvers use the 'adaptive' schedule, which
# divides the rate by 5 each time the training loss stalls for
# ``n_iter_no_change`` epochs, so that they settle instead of hovering at the
# noise level of a constant step.
#
# ``random_state`` sets the order of the rows in the mini-batches, so the
# mini-batch solvers are fitted once per seed. ``'gd'`` starts from zero and
# takes the full batch: every seed gives the same fit, and it is fitted once.
SEEDS = range(5)


def make(solver, seed):
    if solver == "gd":
        return GDRegressor(solver="gd", tol=1e-6, max_iter=MAX_ITER)
    return GDRegressor(
        solver=solver, learning_rate="adaptive", max_iter=MAX_ITER, random_state=seed
    )


solvers = {"gd": [0], "sgd": SEEDS, "adam": SEEDS}
with warnings.catch_warnings():
    # the quick run stops every solver at MAX_ITER before it converges, and a
    # mini-batch run can stop on its noise floor: the table shows how far
    # each one got
    warnings.simplefilter("ignore", ConvergenceWarning)
    fits = {
        name: [make(name, seed).fit(X, y) for seed in seeds]
        for name, seeds in solvers.items()
    }

# %%
# Accuracy of the solutions
# -------------------------
# Means over the seeds, and the range of the coefficient distance among them.
# All solvers reach nearly the R² of the exact solution. The coefficients tell
# the solvers apart: along the flat directions a small change of the
# objective is a large change of the weights, and only full-batch descent,
# run to a small gradient, recovers ``LinearRegression``'s coefficients.
print(f"{'solver':<18} {'epochs':>6} {'R2':>8} {'coef distance':>14}  range")
print(f"{'LinearRegression':<18} {'-':>6} {exact.score(X, y):8.5f} {0.0:14.3g}")
for name, ests in fits.items():
    epochs = np.mean([est.n_iter_ for est in ests])
    r2 = np.mean([est.score(X, y) for est in ests])
    dist = np.array([np.linalg.norm(est.coef_ - exact.coef_) for est in ests])
    spread = f"{dist.min():.3g} to {dist.max():.3g}" if len(ests) > 1 else ""
    print(f"{name:<18} {epochs:>6.0f} {r2:8.5f} {dist.mean():14.3g}  {spread}")

# %%
# Loss curves
# -----------
# ``loss_curve_`` holds the training objective of each epoch: for ``'gd'`` at
# the point where the gradient was taken, for the mini-batch solvers the mean
# over the epoch's batches, which can dip just below the optimum (such points
# are left out of the logarithmic plot). The seeds stop after different
# numbers of epochs; a stopped run keeps its last objective, so that the mean
# over the seeds (line) and their range (band) cover every epoch.
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure")


def gaps(ests):
    """Objective minus the optimum: one row per run, padded to equal length."""
    n = max(est.n_iter_ for est in ests)
    rows = [np.pad(est.loss_curve_, (0, n - est.n_iter_), "edge") for est in ests]
    gap = np.array(rows) - f_star
    return np.where(gap > 0, gap, np.nan)


if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    handles, labels = [], []
    for name, ests in fits.items():
        gap = gaps(ests)
        epochs = np.arange(1, gap.shape[1] + 1)
        (line,) = ax.plot(epochs, np.nanmean(gap, axis=0))
        if len(ests) == 1:
            handles.append(line)
            labels.append(f"{name} (every seed alike)")
            continue
        band = ax.fill_between(
            epochs,
            np.nanmin(gap, axis=0),
            np.nanmax(gap, axis=0),
            color=line.get_color(),
            alpha=0.25,
            linewidth=0,
        )
        handles.append((band, line))
        labels.append(f"{name}: mean, min to max of {len(ests)} seeds")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("objective - optimum")
    ax.set_title("GDRegressor on standardized diabetes")
    ax.legend(handles, labels)
    if os.environ.get("SKGD_EXAMPLES_SAVE"):
        path = os.path.join(
            os.environ["SKGD_EXAMPLES_SAVE"], "plot_solver_comparison.png"
        )
        fig.savefig(path)
        print(f"figure saved to {path}")
