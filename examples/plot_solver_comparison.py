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
# Three solvers
# -------------
# ``'gd'`` uses its default step ``1 / L`` (``L`` the largest curvature),
# Nesterov momentum and adaptive restarts, and stops when the gradient falls
# below ``tol``. The mini-batch solvers use the 'adaptive' schedule, which
# divides the rate by 5 each time the training loss stalls for
# ``n_iter_no_change`` epochs, so that they settle instead of hovering at the
# noise level of a constant step.
solvers = {
    "gd": GDRegressor(solver="gd", tol=1e-6, max_iter=MAX_ITER),
    "sgd": GDRegressor(
        solver="sgd", learning_rate="adaptive", max_iter=MAX_ITER, random_state=0
    ),
    "adam": GDRegressor(
        solver="adam", learning_rate="adaptive", max_iter=MAX_ITER, random_state=0
    ),
}
with warnings.catch_warnings():
    # the quick run stops every solver at MAX_ITER before it converges
    warnings.simplefilter("ignore", ConvergenceWarning)
    for est in solvers.values():
        est.fit(X, y)

# %%
# Accuracy of the solutions
# -------------------------
# All solvers reach nearly the R² of the exact solution. The coefficients tell
# the solvers apart: along the flat directions a small change of the
# objective is a large change of the weights, and only full-batch descent,
# run to a small gradient, recovers ``LinearRegression``'s coefficients.
print(f"{'solver':<18} {'epochs':>6} {'R2':>8} {'coef distance':>14}")
print(f"{'LinearRegression':<18} {'-':>6} {exact.score(X, y):8.5f} {0.0:14.3g}")
for name, est in solvers.items():
    dist = np.linalg.norm(est.coef_ - exact.coef_)
    print(f"{name:<18} {est.n_iter_:>6} {est.score(X, y):8.5f} {dist:14.3g}")

# %%
# Loss curves
# -----------
# ``loss_curve_`` holds the training objective of each epoch: for ``'gd'`` at
# the point where the gradient was taken, for the mini-batch solvers the mean
# over the epoch's batches, which can dip just below the optimum (such points
# are left out of the logarithmic plot).
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure")

if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, est in solvers.items():
        gap = np.asarray(est.loss_curve_) - f_star
        ax.plot(np.arange(1, gap.size + 1), np.where(gap > 0, gap, np.nan), label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("objective - optimum")
    ax.set_title("GDRegressor on standardized diabetes")
    ax.legend()
    fig.tight_layout()
    if os.environ.get("SKGD_EXAMPLES_SAVE"):
        path = os.path.join(
            os.environ["SKGD_EXAMPLES_SAVE"], "plot_solver_comparison.png"
        )
        fig.savefig(path)
        print(f"figure saved to {path}")
