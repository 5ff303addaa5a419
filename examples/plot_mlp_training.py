"""
=====================================
Training an MLP with GD, SGD and Adam
=====================================

:class:`~skgd.GDMLPClassifier` trains a multi-layer perceptron on the same
training loop as :class:`~skgd.GDRegressor`. This example trains a network
with one hidden layer of 64 units on the digits data with each solver, one
epoch per :meth:`~skgd.GDMLPClassifier.partial_fit` call, so that the test
accuracy can be followed epoch by epoch beside the training loss that the
estimator records in ``loss_curve_``. Each solver trains five networks, one
per ``random_state``, so that the differences between solvers can be told
from those between seeds.

Set ``SKGD_EXAMPLES_QUICK=1`` to run fewer epochs (as the test suite does) and
``SKGD_EXAMPLES_SAVE=<directory>`` to save the figure there.
"""

import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skgd import GDMLPClassifier, LossCurveDisplay

QUICK = bool(os.environ.get("SKGD_EXAMPLES_QUICK"))
N_EPOCHS = 20 if QUICK else 60
SEEDS = range(5)

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
# One network per solver and seed
# -------------------------------
# ``'gd'`` takes one full-batch step per epoch, so it needs a larger rate than
# the mini-batch solvers, which take about seven steps per epoch (batches of
# 200 rows). The rates below are reasonable for this data, not tuned to the
# last digit. ``random_state`` draws the initial weights and, for the
# mini-batch solvers, the order of the rows in each epoch.
rates = {"gd": 0.2, "sgd": 0.05, "adam": 0.003}


def train(solver, seed):
    """Per-epoch training loss and test accuracy of one network."""
    clf = GDMLPClassifier(
        hidden_layer_sizes=(64,),
        solver=solver,
        learning_rate_init=rates[solver],
        random_state=seed,
    )
    accuracy = []
    for _ in range(N_EPOCHS):
        clf.partial_fit(X_train, y_train, classes=classes)
        accuracy.append(clf.score(X_test, y_test))
    return clf.loss_curve_, accuracy


# %%
# Training epoch by epoch
# -----------------------
# ``partial_fit`` runs exactly one epoch and keeps the optimizer state
# (momentum, Adam's moments) between calls; the first call needs the full
# list of classes. ``loss`` and ``accuracy`` hold one row per seed. Every
# tenth epoch is printed: the mean over the seeds, and the lowest and highest
# test accuracy among them.
loss, accuracy = {}, {}
for solver in rates:
    runs = [train(solver, seed) for seed in SEEDS]
    loss[solver] = np.array([run[0] for run in runs])
    accuracy[solver] = np.array([run[1] for run in runs])
    print(f"solver={solver!r}, learning_rate_init={rates[solver]}")
    for epoch in range(1, N_EPOCHS + 1):
        if epoch == 1 or epoch % 10 == 0:
            acc = accuracy[solver][:, epoch - 1]
            print(
                f"  epoch {epoch:3d}  loss {loss[solver][:, epoch - 1].mean():.4f}  "
                f"test accuracy {acc.mean():.4f} ({acc.min():.4f} to {acc.max():.4f})"
            )

print(f"\nMeans over {len(SEEDS)} seeds after the last epoch:")
print(f"{'solver':<6} {'epochs':>6} {'final loss':>10} {'test accuracy':>13}")
for solver in rates:
    print(
        f"{solver:<6} {N_EPOCHS:>6} {loss[solver][:, -1].mean():>10.4f} "
        f"{accuracy[solver][:, -1].mean():>13.4f}"
    )

# %%
# Loss and accuracy curves
# ------------------------
# :class:`~skgd.LossCurveDisplay` draws the mean training loss over the seeds
# (mean log-loss plus the L2 penalty, on a logarithmic scale) and, in the
# panel below, the mean test accuracy, whose axis starts at 0.8 so that the
# last epochs can be told apart; the shaded bands span the lowest to the
# highest value among the seeds.
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure")

if plt is not None:
    fig, ax = plt.subplots(figsize=(7, 5.5), layout="constrained")
    display = LossCurveDisplay(
        curves=[
            {"loss": loss[s].mean(axis=0), "validation_score": accuracy[s].mean(axis=0)}
            for s in rates
        ],
        names=list(rates),
        score_name="test accuracy",
    ).plot(ax=ax)
    epochs = np.arange(1, N_EPOCHS + 1)
    for solver in rates:
        color = display.lines_[solver]["loss"].get_color()
        for panel, runs in ((display.ax_, loss), (display.ax_score_, accuracy)):
            panel.fill_between(
                epochs,
                runs[solver].min(axis=0),
                runs[solver].max(axis=0),
                color=color,
                alpha=0.25,
                linewidth=0,
            )
    band = Patch(color="0.5", alpha=0.25, label=f"min to max, {len(SEEDS)} seeds")
    handles = [display.lines_[s]["loss"] for s in rates] + [band]
    display.ax_.legend(handles=handles)
    display.ax_score_.legend(
        handles=[display.lines_[s]["validation_score"] for s in rates],
        labels=list(rates),
        loc="lower right",
    )
    display.ax_score_.set_ylim(0.8, 1.0)
    display.ax_.set_ylabel("training loss")
    display.ax_.set_title(f"GDMLPClassifier on digits, mean of {len(SEEDS)} seeds")
    if os.environ.get("SKGD_EXAMPLES_SAVE"):
        path = os.path.join(os.environ["SKGD_EXAMPLES_SAVE"], "plot_mlp_training.png")
        fig.savefig(path)
        print(f"figure saved to {path}")

# %%
# The seeds spread the training loss by less than the solvers differ, except
# where the curves of ``'sgd'`` and ``'adam'`` cross, between epochs 30 and 40. The test
# accuracy tells the solvers apart less clearly: ``'gd'`` trails until about
# epoch 40 and ``'adam'`` trails ``'sgd'`` until about epoch 20, but after
# that the ranges of the seeds overlap (see the table printed above).
