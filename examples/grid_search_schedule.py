"""
===========================================
Choosing a learning-rate schedule by search
===========================================

The schedule and the initial rate are ordinary parameters of
:class:`~skgd.GDRegressor`, so :class:`~sklearn.model_selection.GridSearchCV`
can pick them like any other hyperparameter. Here SGD on mini-batches fits the
diabetes data inside a pipeline that standardizes the features, and the search
compares every schedule at three initial rates by cross-validated R².

Set ``SKGD_EXAMPLES_QUICK=1`` for a fast, smaller run and
``SKGD_EXAMPLES_SAVE=<directory>`` to save the figure there.
"""

# %%
# The pipeline and the grid
# -------------------------
import os
import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDRegressor

QUICK = bool(os.environ.get("SKGD_EXAMPLES_QUICK"))

X, y = load_diabetes(return_X_y=True)

pipe = make_pipeline(
    StandardScaler(),
    GDRegressor(
        solver="sgd",
        batch_size=32,
        max_iter=15 if QUICK else 60,
        lr_step_size=10,
        lr_gamma=0.7,
        lr_restart_period=10,
        random_state=0,
    ),
)
schedules = ["constant", "invscaling", "step", "exponential", "cosine"]
if not QUICK:
    schedules += ["warm_restarts", "adaptive"]
param_grid = {
    "gdregressor__learning_rate": schedules,
    "gdregressor__learning_rate_init": [0.003, 0.03] if QUICK else [0.003, 0.01, 0.03],
}
search = GridSearchCV(
    pipe, param_grid, cv=KFold(3 if QUICK else 5, shuffle=True, random_state=0)
)

# %%
# Search
# ------
# Runs stopped by ``max_iter`` warn; the search compares them all the same.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X, y)

print("best parameters:", search.best_params_)
print(f"best cross-validated R²: {search.best_score_:.4f}")

# %%
# Every candidate
# ---------------
# Mean R² over the folds: one row per schedule, one column per initial rate.
rates = param_grid["gdregressor__learning_rate_init"]
scores = np.asarray(search.cv_results_["mean_test_score"]).reshape(
    len(schedules), len(rates)
)
print("\n" + " " * 14 + "".join(f"{r:>9g}" for r in rates))
for schedule, row in zip(schedules, scores, strict=True):
    print(f"{schedule:>14}" + "".join(f"{s:9.4f}" for s in row))

# %%
# Plot the scores
# ---------------
# One line per schedule (matplotlib is optional).
try:
    import matplotlib

    matplotlib.use("Agg")  # no window: a script, a test or the gallery
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure")

if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for schedule, row in zip(schedules, scores, strict=True):
        ax.plot(rates, row, marker="o", label=schedule)
    ax.set(
        xscale="log",
        xlabel="learning_rate_init",
        ylabel="mean cross-validated R²",
        title="SGD schedules on diabetes",
    )
    ax.legend()
    fig.tight_layout()
    if os.environ.get("SKGD_EXAMPLES_SAVE"):
        path = os.path.join(
            os.environ["SKGD_EXAMPLES_SAVE"], "grid_search_schedule.png"
        )
        fig.savefig(path)
        print(f"figure saved to {path}")
