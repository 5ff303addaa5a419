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

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)

# the objective GDRegressor minimizes: half the mean squared error
exact = LinearRegression().fit(X, y)
best = 0.5 * np.mean((y - exact.predict(X)) ** 2)

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

curves = {}
for solver, params in SOLVERS.items():
    reg = GDRegressor(
        solver=solver,
        max_iter=N_EPOCHS,
        tol=0.0,  # run every epoch, so that the curves compare
        n_iter_no_change=N_EPOCHS,
        random_state=0,
        **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    curves[solver] = np.array(reg.loss_curve_)
    error = np.linalg.norm(reg.coef_ - exact.coef_) / np.linalg.norm(exact.coef_)
    print(
        f"{solver:>8}: final objective {reg.loss_curve_[-1]:9.3f}, "
        f"relative coef error {error:.1e}"
    )

print(f"minimum objective (LinearRegression): {best:.3f}")
print("\nObjective minus the minimum, every 10th epoch:")
shown = list(range(0, N_EPOCHS, 10))
print("   epoch " + "".join(f"{k:>9d}" for k in shown))
for solver, curve in curves.items():
    print(f"{solver:>8} " + "".join(f"{curve[k] - best:9.3g}" for k in shown))

# %%
# The same with an MLP on the digits
# ----------------------------------
# Log-loss of a one-hidden-layer network; the rates are the usual ones for
# each optimizer on inputs scaled to [0, 1].
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
    clf = GDMLPClassifier(
        hidden_layer_sizes=(32,),
        solver=solver,
        learning_rate_init=rate,
        max_iter=N_MLP_EPOCHS,
        tol=0.0,
        n_iter_no_change=N_MLP_EPOCHS,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_digits, y_digits)
    mlp_curves[solver] = np.array(clf.loss_curve_)
    print(
        f"{solver:>8}: final log-loss {clf.loss_curve_[-1]:.4f}, "
        f"training accuracy {clf.score(X_digits, y_digits):.3f}"
    )

print("\nLog-loss every 10th epoch:")
shown = list(range(0, N_MLP_EPOCHS, 10))
print("   epoch " + "".join(f"{k:>8d}" for k in shown))
for solver, curve in mlp_curves.items():
    print(f"{solver:>8} " + "".join(f"{curve[k]:8.3f}" for k in shown))

# %%
# Plot the curves
# ---------------
# The gap to the minimum on a log scale for the regression (epochs whose
# mini-batch mean dips below the minimum are left out); the log-loss for the
# network. Plotting needs matplotlib, which is optional.
try:
    import matplotlib

    matplotlib.use("Agg")  # no window: a script, a test or the gallery
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure")

if plt is not None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for solver, curve in curves.items():
        gap = curve - best
        ax1.plot(np.where(gap > 0, gap, np.nan), label=solver)
    ax1.set(
        xlabel="epoch",
        ylabel="objective - minimum",
        yscale="log",
        title="GDRegressor, diabetes",
    )
    for solver, curve in mlp_curves.items():
        ax2.plot(curve, label=solver)
    ax2.set(xlabel="epoch", ylabel="log-loss", title="GDMLPClassifier, digits")
    ax1.legend()
    fig.tight_layout()
    if os.environ.get("SKGD_EXAMPLES_SAVE"):
        path = os.path.join(os.environ["SKGD_EXAMPLES_SAVE"], "plot_all_solvers.png")
        fig.savefig(path)
        print(f"figure saved to {path}")
