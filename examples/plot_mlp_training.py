"""
=====================================
Training an MLP with GD, SGD and Adam
=====================================

:class:`~skgd.GDMLPClassifier` trains a multi-layer perceptron on the same
training loop as :class:`~skgd.GDRegressor`. This example trains a network
with one hidden layer of 64 units on the digits data with each solver, one
epoch per :meth:`~skgd.GDMLPClassifier.partial_fit` call, so that the test
accuracy can be followed epoch by epoch beside the training loss that the
estimator records in ``loss_curve_``.

Set ``SKGD_EXAMPLES_QUICK=1`` to run fewer epochs (as the test suite does) and
``SKGD_EXAMPLES_SAVE=<directory>`` to save the figure there.
"""

import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skgd import GDMLPClassifier

QUICK = bool(os.environ.get("SKGD_EXAMPLES_QUICK"))
N_EPOCHS = 20 if QUICK else 100

# %%
# Data
# ----
# The 8x8 digit images have pixel values from 0 to 16; dividing by 16 puts
# the inputs in [0, 1]. A quarter of the images is held out for testing.
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.25, stratify=y, random_state=0
)
classes = np.unique(y)

# %%
# One network per solver
# ----------------------
# ``'gd'`` takes one full-batch step per epoch, so it needs a larger rate than
# the mini-batch solvers, which take about seven steps per epoch (batches of
# 200 rows). The rates below are reasonable for this data, not tuned to the
# last digit.
rates = {"gd": 0.2, "sgd": 0.05, "adam": 0.003}
networks = {
    solver: GDMLPClassifier(
        hidden_layer_sizes=(64,),
        solver=solver,
        learning_rate_init=lr,
        random_state=0,
    )
    for solver, lr in rates.items()
}

# %%
# Training epoch by epoch
# -----------------------
# ``partial_fit`` runs exactly one epoch and keeps the optimizer state
# (momentum, Adam's moments) between calls; the first call needs the full
# list of classes. Every tenth epoch is printed.
accuracy = {solver: [] for solver in networks}
for solver, clf in networks.items():
    print(f"solver={solver!r}, learning_rate_init={rates[solver]}")
    for epoch in range(1, N_EPOCHS + 1):
        clf.partial_fit(X_train, y_train, classes=classes)
        accuracy[solver].append(clf.score(X_test, y_test))
        if epoch == 1 or epoch % 10 == 0:
            print(
                f"  epoch {epoch:3d}  loss {clf.loss_curve_[-1]:.4f}  "
                f"test accuracy {accuracy[solver][-1]:.4f}"
            )

print(f"\n{'solver':<6} {'epochs':>6} {'final loss':>10} {'test accuracy':>13}")
for solver, clf in networks.items():
    print(
        f"{solver:<6} {clf.n_iter_:>6} {clf.loss_curve_[-1]:>10.4f} "
        f"{accuracy[solver][-1]:>13.4f}"
    )

# %%
# Loss and accuracy curves
# ------------------------
# The training loss (mean log-loss plus the L2 penalty) on a logarithmic scale,
# and the test accuracy after each epoch.
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure")

if plt is not None:
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = np.arange(1, N_EPOCHS + 1)
    for solver, clf in networks.items():
        ax_loss.plot(epochs, clf.loss_curve_, label=solver)
        ax_acc.plot(epochs, accuracy[solver], label=solver)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test accuracy")
    ax_acc.legend()
    fig.suptitle("GDMLPClassifier on digits")
    fig.tight_layout()
    if os.environ.get("SKGD_EXAMPLES_SAVE"):
        path = os.path.join(os.environ["SKGD_EXAMPLES_SAVE"], "plot_mlp_training.png")
        fig.savefig(path)
        print(f"figure saved to {path}")
