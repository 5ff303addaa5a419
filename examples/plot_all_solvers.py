"""
======================================
Every solver on one regression problem
======================================

:class:`~skgd.GDRegressor` offers seven optimizers on the same training loop:
full-batch gradient descent with Nesterov momentum and adaptive restart
(``'gd'``), mini-batch SGD with momentum (``'sgd'``), Adam and AdamW, RMSprop,
Adagrad and Adadelta. Here each of them fits least squares on the standardized
diabetes data, and we compare their training curves with the exact minimum
given by :class:`~sklearn.linear_model.LinearRegression`.

The adaptive solvers move each weight by about ``learning_rate_init`` per
step whatever the gradient, so their rate is on the scale of the weights (tens
here), and a cosine schedule anneals it to zero for a precise finish.
Adadelta's unit step is set by ``epsilon`` instead, hence ``epsilon=1``.

A second section does the same with :class:`~skgd.GDMLPClassifier` on the
digits.

Set ``SKGD_EXAMPLES_QUICK=1`` for a fast, smaller run and
``SKGD_EXAMPLES_SAVE=<directory>`` to save the figure there.
"""

# %%
# Least squares on the diabetes data
# ----------------------------------
import os
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import StandardScaler

from skgd import GDMLPClassifier, GDRegressor

QUICK = bool(os.environ.get("SKGD_EXAMPLES_QUICK"))
N_EPOCHS = 30 if QUICK else 200
SEEDS = range(5)

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)

# the objective GDRegressor minimizes: half the mean squared error
exact = LinearRegression().fit(X, y)
best = 0.5 * np.mean((y - exact.predict(X)) ** 2)
# float64 sums of 442 squared residuals agree to about 1e-15 of their size:
# gaps below this are round-off, drawn at this floor
FLOOR = 1e-12 * best

# 'sgd' takes mini-batches of 50 rows; the adaptive solvers take the full
# batch (one step per epoch) so that their curves are not blurred by noise
FULL = {"batch_size": X.shape[0]}
SOLVERS = {
    "gd": {},
    "sgd": {"learning_rate": "cosine", "batch_size": 50},
    "adam": {"learning_rate": "cosine", "learning_rate_init": 10.0, **FULL},
    # decoupled decay shrinks the weights by lr * weight_decay per step: it
    # minimizes another objective, whose minimum lies above LinearRegression's
    "adamw": {
        "learning_rate": "cosine",
        "learning_rate_init": 10.0,
        "weight_decay": 1e-3,
        **FULL,
    },
    "rmsprop": {"learning_rate": "cosine", "learning_rate_init": 3.0, **FULL},
    "adagrad": {"learning_rate_init": 30.0, **FULL},
    "adadelta": {
        "learning_rate": "cosine",
        "learning_rate_init": 1.0,
        "epsilon": 1.0,
        **FULL,
    },
}

# %%
# ``random_state`` orders the rows of the mini-batches. The full-batch solvers
# start from zero and see every row at each step, so their fits do not depend
# on it: only ``'sgd'`` is fitted once per seed, and its rows below are means
# over the seeds.
curves = {}
for solver, params in SOLVERS.items():
    runs = []
    for seed in SEEDS if solver == "sgd" else [0]:
        reg = GDRegressor(
            solver=solver,
            max_iter=N_EPOCHS,
            tol=0.0,  # run every epoch, so that the curves compare
            n_iter_no_change=N_EPOCHS,
            random_state=seed,
            **params,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reg.fit(X, y)
        error = np.linalg.norm(reg.coef_ - exact.coef_) / np.linalg.norm(exact.coef_)
        runs.append((reg.loss_curve_, error))
    curves[solver] = np.array([run[0] for run in runs])
    print(
        f"{solver:>8}: final objective {curves[solver][:, -1].mean():9.3f}, "
        f"relative coef error {np.mean([run[1] for run in runs]):.1e}"
    )

print(f"minimum objective (LinearRegression): {best:.3f}")
print("\nObjective minus the minimum:")
shown = [1, *range(20, N_EPOCHS + 1, 20)] if N_EPOCHS >= 20 else [1, N_EPOCHS]
print("epoch " + "".join(f"{solver:>10}" for solver in curves))
for epoch in shown:
    gaps = [runs[:, epoch - 1].mean() - best for runs in curves.values()]
    print(f"{epoch:5d} " + "".join(f"{gap:10.3g}" for gap in gaps))

# %%
# The same with an MLP on the digits
# ----------------------------------
# Log-loss of a one-hidden-layer network; the rates are the usual ones for
# each optimizer on inputs scaled to [0, 1]. Here ``random_state`` also draws
# the initial weights, so every solver is fitted once per seed. AdamW's
# default ``weight_decay=0.01`` decays the weights by ``0.003 * 0.01`` per
# step, too little to move its curve away from Adam's.
X_digits, y_digits = load_digits(return_X_y=True)
X_digits = X_digits / 16.0
if QUICK:
    X_digits, y_digits = X_digits[:300], y_digits[:300]
N_MLP_EPOCHS = 10 if QUICK else 50

MLP_RATES = {
    "gd": 0.5,
    "sgd": 0.1,
    "adam": 0.003,
    "adamw": 0.003,
    "rmsprop": 0.003,
    "adagrad": 0.03,
    "adadelta": 1.0,
}
mlp_curves = {}
for solver, rate in MLP_RATES.items():
    runs = []
    for seed in SEEDS:
        clf = GDMLPClassifier(
            hidden_layer_sizes=(32,),
            solver=solver,
            learning_rate_init=rate,
            max_iter=N_MLP_EPOCHS,
            tol=0.0,
            n_iter_no_change=N_MLP_EPOCHS,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_digits, y_digits)
        runs.append((clf.loss_curve_, clf.score(X_digits, y_digits)))
    mlp_curves[solver] = np.array([run[0] for run in runs])
    print(
        f"{solver:>8}: final log-loss {mlp_curves[solver][:, -1].mean():.4f}, "
        f"training accuracy {np.mean([run[1] for run in runs]):.3f}"
    )

print(f"\nLog-loss, mean over {len(SEEDS)} seeds:")
print("epoch " + "".join(f"{solver:>9}" for solver in mlp_curves))
for epoch in [1, *range(10, N_MLP_EPOCHS + 1, 10)]:
    losses = [runs[:, epoch - 1].mean() for runs in mlp_curves.values()]
    print(f"{epoch:5d} " + "".join(f"{loss:9.3f}" for loss in losses))

# %%
# Plot the curves
# ---------------
# Each solver keeps its color, line style and marker in both panels, so that
# curves which lie on each other can still be told apart. Top: the gap to the
# minimum on a log scale for the regression; gaps below round-off are drawn
# at a floor, and the legend gives the epoch from which a solver stays there.
# Bottom: the log-loss of the network. Where a solver was fitted with several
# seeds, the line is their mean and the band spans the lowest to the highest
# value. Plotting needs matplotlib, which is optional.
try:
    import matplotlib

    matplotlib.use("Agg")  # no window: a script, a test or the gallery
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure")

# color, line style and marker of each solver, in both panels
STYLES = {
    "gd": ("C0", "-", "o"),
    "sgd": ("C1", "-", "s"),
    "adam": ("C2", "-", "^"),
    "adamw": ("C3", "--", "v"),
    "rmsprop": ("C4", ":", "D"),
    "adagrad": ("C5", "-.", "x"),
    "adadelta": ("C6", "--", "+"),
}


def draw(ax, runs, solver, label, period):
    """Mean over the runs (rows), with their min-to-max band when several."""
    color, linestyle, marker = STYLES[solver]
    i = list(STYLES).index(solver)
    epochs = np.arange(1, runs.shape[1] + 1)
    ax.plot(
        epochs,
        runs.mean(axis=0),
        color=color,
        linestyle=linestyle,
        marker=marker,
        markersize=7,
        markeredgewidth=1.5,
        # markers staggered, so that lines on top of each other show them all
        markevery=(i * period // len(STYLES), period),
        label=label,
    )
    if len(runs) > 1:
        ax.fill_between(
            epochs, runs.min(axis=0), runs.max(axis=0), color=color, alpha=0.2
        )


def at_floor(curve):
    """The first epoch from which the gap stays below FLOOR, or None."""
    above = np.flatnonzero(curve - best >= FLOOR)
    if above.size == 0:
        return 1
    return above[-1] + 2 if above[-1] + 1 < curve.size else None


if plt is not None:
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 8), layout="constrained")
    for solver, runs in curves.items():
        label = solver if len(runs) == 1 else f"{solver}, {len(runs)} seeds"
        epoch = at_floor(runs.mean(axis=0))
        if epoch is not None:
            label += f" (round-off from epoch {epoch})"
        draw(ax1, np.maximum(runs - best, FLOOR), solver, label, N_EPOCHS // 8)
    ax1.annotate(
        "round-off floor",
        (0.5, FLOOR),
        xycoords=("axes fraction", "data"),
        xytext=(0, 8),
        textcoords="offset points",
        ha="center",
        color="0.3",
    )
    ax1.set(
        xlabel="epoch",
        ylabel="objective - minimum",
        yscale="log",
        title="GDRegressor, diabetes",
    )
    ax1.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    for solver, runs in mlp_curves.items():
        label = f"{solver}, {len(runs)} seeds"
        if solver == "adamw":
            label += " (on adam's curve)"
        draw(ax2, runs, solver, label, max(N_MLP_EPOCHS // 8, 1))
    ax2.set(
        xlabel="epoch",
        ylabel="log-loss",
        yscale="log",
        title="GDMLPClassifier, digits",
    )
    ax2.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    if os.environ.get("SKGD_EXAMPLES_SAVE"):
        path = os.path.join(os.environ["SKGD_EXAMPLES_SAVE"], "plot_all_solvers.png")
        fig.savefig(path)
        print(f"figure saved to {path}")

# %%
# What the curves show
# --------------------
# On the regression, ``'gd'`` reaches the minimum to round-off at epoch 3,
# Adadelta at epoch 4 and Adagrad at epoch 7. RMSprop gets there by epoch 20
# but does not stay: as the gradients vanish, its running average of their
# squares decays (by ``rho=0.9`` per step), so its effective rate
# ``lr / sqrt(v)`` grows until the steps overshoot, and the gap climbs back
# to about 1e5 near epoch 80. It settles for good at epoch 171, once the
# cosine schedule has annealed the rate. Adam and AdamW overshoot at first
# with their large rate and close in as it anneals, ending about 1e-3 above
# the minimum, AdamW a little higher as it minimizes another objective.
# ``'sgd'`` ends about 0.01 above it, and its five seeds hardly differ.
#
# On the network, Adagrad starts fastest, ``'sgd'`` has the lowest log-loss
# from epoch 4 on, and RMSprop the second lowest from epoch 22 on. Full-batch
# ``'gd'`` jumps up for a few epochs between epochs 9 and 15 with every seed,
# then catches up: after 50 epochs the ranges of ``'gd'``, Adam, AdamW and
# Adagrad overlap. Adadelta is the slowest and depends most on the seed.
# Adam and AdamW differ by under 2% at every epoch.
