"""Draw docs/images/loss_curves.png: GDRegressor's solvers side by side.

Each solver fits the diabetes data, standardized in a Pipeline; the figure
shows the training objective of each epoch (solid) and the learning rate its
schedule used (dotted, right axis). The epochs are on a log scale, so that
'gd' (done in 3 epochs) and the mini-batch solvers (about 100) both show.
'adam' and 'rmsprop' start at the same rate, 0.01: their dotted lines
coincide until the first cut.

Run it from anywhere::

    python docs/images/make_loss_curves.py
"""

from pathlib import Path

from matplotlib.figure import Figure
from sklearn.datasets import load_diabetes
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDRegressor, LossCurveDisplay

SOLVERS = ("gd", "sgd", "adam", "rmsprop")
OUT = Path(__file__).with_name("loss_curves.png")


def main() -> None:
    X, y = load_diabetes(return_X_y=True)
    models = {
        solver: make_pipeline(
            StandardScaler(), GDRegressor(solver=solver, random_state=0)
        ).fit(X, y)
        for solver in SOLVERS
    }
    # a Figure without pyplot needs no GUI backend: this runs headless
    fig = Figure(figsize=(7.5, 5), layout="constrained")
    ax = fig.subplots()
    display = LossCurveDisplay.from_estimators(
        models, ax=ax, learning_rate=True, linewidth=1.8
    )
    display.ax_.set_xscale("log")
    display.ax_.set_title("GDRegressor on the diabetes data (standardized), by solver")
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
