"""LossCurveDisplay draws exactly the fitted curves, and matplotlib stays optional."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import (
    GDClassifier,
    GDMLPClassifier,
    GDMLPRegressor,
    GDRegressor,
    LossCurveDisplay,
)

pytest.importorskip("matplotlib")
import matplotlib.pyplot as plt

plt.switch_backend("agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _regression():
    return make_regression(n_samples=120, n_features=5, noise=5.0, random_state=0)


def _classification():
    return make_classification(
        n_samples=120, n_features=5, n_informative=3, n_classes=3, random_state=0
    )


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at a small max_iter
        return est.fit(X, y)


def _fitted(cls=GDRegressor, **params):
    X, y = _classification() if "Classifier" in cls.__name__ else _regression()
    params = {"random_state": 0, "max_iter": 15, **params}
    if "MLP" in cls.__name__:
        params.setdefault("hidden_layer_sizes", (4,))
    return _fit(cls(**params), X, y)


def _epochs(n):
    return np.arange(1, n + 1)


def _legend(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


# ------------------------------------------------------------- one estimator
def test_from_estimator_draws_the_fitted_training_loss():
    est = _fitted(solver="sgd")
    display = LossCurveDisplay.from_estimator(est)
    assert isinstance(display, LossCurveDisplay)
    assert list(display.lines_) == ["GDRegressor sgd"]
    lines = display.lines_["GDRegressor sgd"]
    assert list(lines) == ["loss"]  # no early stopping: no validation curve
    assert_array_equal(lines["loss"].get_xdata(), _epochs(est.n_iter_))
    assert_array_equal(lines["loss"].get_ydata(), est.loss_curve_)
    assert len(est.loss_curve_) == est.n_iter_
    assert lines["loss"].axes is display.ax_
    assert display.figure_ is display.ax_.figure
    assert display.ax_lr_ is None and display.ax_score_ is None
    assert display.ax_.get_xlabel() == "epoch"
    assert display.ax_.get_ylabel() == "training objective"
    assert _legend(display.ax_) == ["GDRegressor sgd"]


@pytest.mark.parametrize(
    ("cls", "score"),
    [
        (GDRegressor, "validation R²"),
        (GDClassifier, "validation accuracy"),
        (GDMLPRegressor, "validation R²"),
        (GDMLPClassifier, "validation accuracy"),
    ],
    ids=["GDRegressor", "GDClassifier", "GDMLPRegressor", "GDMLPClassifier"],
)
def test_every_estimator_draws_its_validation_curves(cls, score):
    est = _fitted(cls, solver="adam", early_stopping=True)
    assert est.validation_loss_curve_  # the test needs them recorded
    display = LossCurveDisplay.from_estimator(est, name="run")
    lines = display.lines_["run"]
    n = est.n_iter_
    assert_array_equal(lines["loss"].get_ydata(), est.loss_curve_)
    val = lines["validation_loss"]
    assert_array_equal(val.get_xdata(), _epochs(n))
    assert_array_equal(val.get_ydata(), est.validation_loss_curve_)
    assert val.get_linestyle() == "--"
    assert val.get_color() == lines["loss"].get_color()
    assert val.axes is display.ax_
    # the score, another quantity, is drawn in the panel below
    panel = display.ax_score_
    assert lines["validation_score"].axes is panel
    assert_array_equal(lines["validation_score"].get_ydata(), est.validation_scores_)
    assert panel.get_ylabel() == score and panel.get_xlabel() == "epoch"
    assert panel.get_shared_x_axes().joined(panel, display.ax_)
    assert panel.get_position().y1 <= display.ax_.get_position().y0
    assert _legend(display.ax_) == ["run", "validation"]


def test_validation_options_choose_the_validation_curves():
    est = _fitted(early_stopping=True)
    display = LossCurveDisplay.from_estimator(est, name="r", validation=False)
    assert list(display.lines_["r"]) == ["loss"] and display.ax_score_ is None
    display = LossCurveDisplay.from_estimator(est, name="r", validation_score=False)
    assert list(display.lines_["r"]) == ["loss", "validation_loss"]
    assert display.ax_score_ is None
    display = LossCurveDisplay.from_estimator(est, name="r", validation=True)
    assert set(display.lines_["r"]) == {"loss", "validation_loss", "validation_score"}
    with pytest.raises(ValueError, match="early_stopping=True"):
        LossCurveDisplay.from_estimator(_fitted(), validation=True)
    with pytest.raises(ValueError, match="validation must be 'auto', True or False"):
        LossCurveDisplay.from_estimator(est, validation="yes")
    with pytest.raises(ValueError, match="log_scale must be"):
        LossCurveDisplay.from_estimator(est, log_scale="log")


def test_learning_rate_adds_a_twin_axis_with_the_learning_rates():
    est = _fitted(solver="sgd", learning_rate="invscaling", max_iter=30)
    display = LossCurveDisplay.from_estimator(est, learning_rate=True)
    ax, ax_lr = display.ax_, display.ax_lr_
    assert ax_lr is not None and ax_lr is not ax
    assert ax_lr.get_shared_x_axes().joined(ax, ax_lr)
    line = display.lines_["GDRegressor sgd"]["learning_rate"]
    assert line.axes is ax_lr
    assert_array_equal(line.get_xdata(), _epochs(est.n_iter_))
    assert_array_equal(line.get_ydata(), est.learning_rate_curve_)
    assert line.get_linestyle() == ":"
    assert ax_lr.get_ylabel() == "learning rate"
    assert ax_lr.get_yscale() == "log"  # positive rates: a log axis
    assert _legend(ax) == ["GDRegressor sgd", "learning rate"]


def test_pipeline_ending_in_an_skgd_estimator_is_accepted():
    X, y = _regression()
    pipe = _fit(make_pipeline(StandardScaler(), GDRegressor(solver="adam")), X, y)
    display = LossCurveDisplay.from_estimator(pipe)
    line = display.lines_["GDRegressor adam"]["loss"]
    assert_array_equal(line.get_ydata(), pipe[-1].loss_curve_)
    assert_array_equal(line.get_xdata(), _epochs(pipe[-1].n_iter_))


# ----------------------------------------------------------- several at once
def test_from_estimators_draws_one_line_per_estimator_with_its_name():
    X, y = _regression()
    models = {
        solver: _fit(
            make_pipeline(StandardScaler(), GDRegressor(solver=solver, max_iter=15)),
            X,
            y,
        )
        for solver in ("gd", "sgd", "adam", "rmsprop")
    }
    display = LossCurveDisplay.from_estimators(models)
    assert list(display.lines_) == list(models)
    assert len(display.ax_.get_lines()) == len(models)
    for name, model in models.items():
        line = display.lines_[name]["loss"]
        assert line.get_label() == name
        assert_array_equal(line.get_xdata(), _epochs(model[-1].n_iter_))
        assert_array_equal(line.get_ydata(), model[-1].loss_curve_)
    colors = {lines["loss"].get_color() for lines in display.lines_.values()}
    assert len(colors) == len(models)
    assert _legend(display.ax_) == list(models)


def test_from_estimators_takes_a_list_named_by_class_and_solver():
    ests = [_fitted(solver="gd"), _fitted(solver="adam")]
    display = LossCurveDisplay.from_estimators(ests)
    assert list(display.lines_) == ["GDRegressor gd", "GDRegressor adam"]
    with pytest.raises(ValueError, match="'GDRegressor gd' is given to two runs"):
        LossCurveDisplay.from_estimators([ests[0], _fitted(solver="gd", alpha=1.0)])


# -------------------------------------------------------------------- errors
def test_unfitted_and_foreign_estimators_are_refused():
    X, y = _regression()
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(GDRegressor())
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(make_pipeline(StandardScaler(), GDRegressor()))
    with pytest.raises(TypeError, match=r"skgd estimator.*got LinearRegression"):
        LossCurveDisplay.from_estimator(LinearRegression().fit(X, y))
    # scikit-learn's MLP has a loss_curve_, but not skgd's curves
    mlp = _fit(MLPRegressor(max_iter=5), X, y)
    with pytest.raises(TypeError, match="got MLPRegressor"):
        LossCurveDisplay.from_estimator(mlp)
    pipe = make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    with pytest.raises(TypeError, match="got a Pipeline ending in LinearRegression"):
        LossCurveDisplay.from_estimators({"a": _fitted(), "b": pipe})
    with pytest.raises(TypeError, match="use from_estimator"):
        LossCurveDisplay.from_estimators(pipe)
    with pytest.raises(ValueError, match="at least one"):
        LossCurveDisplay.from_estimators({})


def test_estimator_without_loss_curve_is_refused():
    est = _fitted()
    del est.loss_curve_
    with pytest.raises(ValueError, match="no loss_curve_"):
        LossCurveDisplay.from_estimator(est)


# ---------------------------------------------------------------- plain data
def test_constructor_takes_plain_values_and_aligns_short_curves_to_the_end():
    display = LossCurveDisplay(
        curves=[
            {"loss": [4.0, 3.0, 2.5, 2.0], "validation_loss": [2.8, 2.6]},
            {"loss": [5.0, 3.0], "validation_score": None},
        ]
    )
    assert display.names == ["run 1", "run 2"]
    assert_array_equal(display.epochs[0], [1, 2, 3, 4])
    assert_array_equal(display.epochs[1], [1, 2])
    display.plot()
    val = display.lines_["run 1"]["validation_loss"]
    # validation recorded by the last fits only (after partial_fit calls)
    assert_array_equal(val.get_xdata(), [3, 4])
    assert_array_equal(val.get_ydata(), [2.8, 2.6])
    assert list(display.lines_["run 2"]) == ["loss"]
    assert display.ax_score_ is None


@pytest.mark.parametrize(
    ("curves", "names", "error", "message"),
    [
        ({"loss": [1.0]}, None, TypeError, "one dict of curves per run"),
        ([], None, ValueError, "curves is empty"),
        ([{"validation_loss": [1.0]}], None, ValueError, "no 'loss' curve"),
        ([{"loss": []}], None, ValueError, "no 'loss' curve"),
        ([{"loss": [1.0], "grad": [1.0]}], None, ValueError, "unknown keys"),
        ([{"loss": [[1.0, 2.0]]}], None, ValueError, "must be 1-D"),
        (
            [{"loss": [1.0], "learning_rate": [0.1, 0.1]}],
            None,
            ValueError,
            "more epochs than its 'loss'",
        ),
        ([{"loss": [1.0]}], ["a", "b"], ValueError, "2 names for 1 runs"),
        ([{"loss": [1.0]}, {"loss": [2.0]}], ["a", "a"], ValueError, "two runs"),
    ],
)
def test_constructor_rejects_malformed_curves(curves, names, error, message):
    with pytest.raises(error, match=message):
        LossCurveDisplay(curves=curves, names=names)


@pytest.mark.parametrize(
    ("curve", "log_scale", "expected"),
    [
        ({"loss": [10.0, 2.0, 0.9]}, "auto", "log"),  # more than a decade
        ({"loss": [3.0, 2.0, 1.5]}, "auto", "linear"),
        ({"loss": [2.0, 1.5], "validation_loss": [30.0, 1.0]}, "auto", "log"),
        ({"loss": [10.0, 1.0, 0.0]}, "auto", "linear"),  # a zero has no log
        ({"loss": [10.0, 2.0, 0.9]}, False, "linear"),
        ({"loss": [3.0, 2.0, 1.5]}, True, "log"),
    ],
)
def test_log_scale_auto_follows_the_span_of_the_curves(curve, log_scale, expected):
    display = LossCurveDisplay(curves=[curve]).plot(log_scale=log_scale)
    assert display.ax_.get_yscale() == expected


def test_plot_draws_on_the_given_axes_and_splits_off_the_score_panel():
    curves = [{"loss": [3.0, 2.0], "validation_score": [0.1, 0.4]}]
    fig, (left, right) = plt.subplots(1, 2)
    right_box = right.get_position().bounds
    display = LossCurveDisplay(curves=curves, score_name="R²").plot(ax=left)
    assert display.ax_ is left and display.figure_ is fig
    assert display.ax_score_.get_ylabel() == "R²"
    assert display.ax_score_.get_position().y1 <= left.get_position().y0
    assert right.get_position().bounds == right_box
    # an Axes placed by hand is split too
    ax = plt.figure().add_axes((0.1, 0.1, 0.8, 0.8))
    display = LossCurveDisplay(curves=curves).plot(ax=ax)
    assert display.ax_score_.get_position().y1 <= ax.get_position().y0
    assert display.ax_score_.get_ylabel() == "validation score"


def test_line_keyword_arguments_reach_every_line():
    curves = [{"loss": [3.0, 2.0], "validation_loss": [3.5, 2.5]}]
    display = LossCurveDisplay(curves=curves, names=["a"]).plot(lw=3, color="k")
    lines = display.lines_["a"]
    assert {line.get_linewidth() for line in lines.values()} == {3}
    assert {line.get_color() for line in lines.values()} == {"k"}
    assert lines["validation_loss"].get_linestyle() == "--"


# ------------------------------------------------------- optional matplotlib
def test_import_skgd_does_not_import_matplotlib():
    code = "import sys, skgd; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout.strip() == "False"


def test_missing_matplotlib_raises_an_import_error_naming_the_extra(monkeypatch):
    est = _fitted()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    message = r'requires matplotlib.*pip install "skgd\[plot\]"'
    with pytest.raises(ImportError, match=message):
        LossCurveDisplay.from_estimator(est)
    with pytest.raises(ImportError, match=message):
        LossCurveDisplay.from_estimators([est])
    with pytest.raises(ImportError, match=message):
        LossCurveDisplay(curves=[{"loss": [1.0]}]).plot()
