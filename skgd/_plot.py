"""LossCurveDisplay: the per-epoch histories of fitted skgd estimators, drawn.

matplotlib is an optional extra (``pip install "skgd[plot]"``): this module
imports it inside the methods that draw, so that ``import skgd`` never does.
"""

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from skgd._base import BaseGD

# the curves a display holds, by key, and the fitted attribute each comes from
CURVES = {
    "loss": "loss_curve_",
    "validation_loss": "validation_loss_curve_",
    "validation_score": "validation_scores_",
    "learning_rate": "learning_rate_curve_",
}
_VALIDATION = ("validation_loss", "validation_score")
# the line style of each curve; every curve of a run has the run's color
_STYLES = {
    "loss": "-",
    "validation_loss": "--",
    "validation_score": "--",
    "learning_rate": ":",
}
PLOT_INSTALL = 'pip install "skgd[plot]"'
# under log_scale='auto', an axis is logarithmic once its values span more
# than this ratio (a decade): below it a log axis shows hardly a tick
_LOG_SPAN = 10.0
# height of the training-objective panel to the validation-score panel
_PANEL_RATIOS = (2, 1)


def require_matplotlib(caller: str) -> None:
    """Raise an ImportError naming the ``plot`` extra when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which skgd installs as an optional "
            f"extra: {PLOT_INSTALL}"
        ) from exc


# ------------------------------------------------------------ plain data
def _check_curves(curves) -> list[dict[str, np.ndarray]]:
    """One dict of 1-D float arrays per run, every key of CURVES present."""
    if isinstance(curves, Mapping) or not isinstance(curves, Sequence):
        raise TypeError(
            "curves must be a list with one dict of curves per run, such as "
            "[{'loss': [0.9, 0.5, 0.4]}]; got "
            f"{type(curves).__name__}."
        )
    if not curves:
        raise ValueError("curves is empty: give at least one run.")
    checked = []
    for i, run in enumerate(curves):
        unknown = set(run) - set(CURVES)
        if unknown:
            raise ValueError(
                f"curves[{i}] has unknown keys {sorted(unknown)}; the keys are "
                f"{list(CURVES)}."
            )
        arrays = {}
        for key in CURVES:
            values = run.get(key)
            arrays[key] = np.asarray([] if values is None else values, dtype=float)
            if arrays[key].ndim != 1:
                raise ValueError(f"curves[{i}][{key!r}] must be 1-D (one per epoch).")
        n = arrays["loss"].size
        if n == 0:
            raise ValueError(f"curves[{i}] has no 'loss' curve, or an empty one.")
        longer = [key for key, values in arrays.items() if values.size > n]
        if longer:
            raise ValueError(
                f"curves[{i}][{longer[0]!r}] has more epochs than its 'loss' ({n})."
            )
        checked.append(arrays)
    return checked


def _check_names(names, n_runs: int) -> list[str]:
    if names is None:
        return [f"run {i}" for i in range(1, n_runs + 1)]
    if isinstance(names, str):
        names = [names]
    names = [str(name) for name in names]
    if len(names) != n_runs:
        raise ValueError(f"{len(names)} names for {n_runs} runs.")
    if len(set(names)) < len(names):
        dup = next(name for name in names if names.count(name) > 1)
        raise ValueError(f"the name {dup!r} is given to two runs; names label them.")
    return names


def _epochs(values: np.ndarray, n: int) -> np.ndarray:
    # a curve shorter than the loss was recorded by the last fits only: partial_fit
    # never validates, so a warm-started fit with early stopping after it does
    return np.arange(n - values.size + 1, n + 1)


# ------------------------------------------------------------- estimators
def _skgd_estimator(estimator, caller: str) -> BaseGD:
    """The fitted skgd estimator itself, or the last step of a Pipeline."""
    est = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if not isinstance(est, BaseGD):
        got = type(est).__name__
        if est is not estimator:
            got = f"a Pipeline ending in {got}"
        raise TypeError(
            f"{caller} takes a fitted skgd estimator (GDRegressor, GDClassifier, "
            f"GDMLPRegressor or GDMLPClassifier) or a Pipeline ending in one; got "
            f"{got}."
        )
    check_is_fitted(est)
    if not getattr(est, "loss_curve_", None):
        raise ValueError(
            f"this {type(est).__name__} holds no loss_curve_ to draw; fit it again."
        )
    return est


def _curves_of(est: BaseGD) -> dict[str, list[float]]:
    return {key: getattr(est, attr, None) for key, attr in CURVES.items()}


def _default_name(est: BaseGD) -> str:
    # the rows of `skgd compare` carry the same names
    return f"{type(est).__name__} {est.solver}"


def _score_name(estimators: Sequence[BaseGD]) -> str:
    kinds = {is_classifier(est) for est in estimators}
    if kinds == {True}:
        return "validation accuracy"
    return "validation R²" if kinds == {False} else "validation score"


# ---------------------------------------------------------------- drawing
def _check_option(name: str, value) -> None:
    if not (value == "auto" or isinstance(value, bool | np.bool_)):
        raise ValueError(f"{name} must be 'auto', True or False; got {value!r}.")


def _new_axes():
    import matplotlib.pyplot as plt

    # constrained layout keeps a twin axis's label inside the figure
    _, ax = plt.subplots(layout="constrained")
    return ax


def _add_score_panel(ax):
    """Split ``ax``: the loss keeps its top, the validation score gets the bottom."""
    spec = ax.get_subplotspec()
    if spec is not None:
        grid = spec.subgridspec(2, 1, height_ratios=_PANEL_RATIOS, hspace=0.08)
        ax.set_subplotspec(grid[0])
        return ax.figure.add_subplot(grid[1], sharex=ax)
    # an Axes placed by hand (fig.add_axes) has no grid cell to split
    x0, y0, width, height = ax.get_position().bounds
    share = _PANEL_RATIOS[1] / sum(_PANEL_RATIOS)
    ax.set_position((x0, y0 + share * height, width, (1 - share) * height))
    return ax.figure.add_axes((x0, y0, width, 0.85 * share * height), sharex=ax)


def _set_scale(ax, log_scale, span: float = _LOG_SPAN) -> None:
    """Log or linear y, 'auto' going by the lines drawn on ``ax``."""
    values = [line.get_ydata() for line in ax.get_lines()]
    values = np.concatenate(values) if values else np.empty(0)
    values = values[np.isfinite(values)]
    if log_scale == "auto":
        log_scale = (
            values.size > 0 and values.min() > 0 and values.max() > span * values.min()
        )
    ax.set_yscale("log" if log_scale else "linear")


class LossCurveDisplay:
    """Loss curves: the training objective of skgd estimators per epoch.

    Draws, for each fitted run, the training objective ``loss_curve_`` against
    the epochs 1 to ``n_iter_``; the validation loss (dashed, in the same
    color) when the run recorded one (``early_stopping=True``); the validation
    score in a panel below (R² or accuracy: a different quantity, which would
    need a second y axis); and optionally the learning rate of each epoch on a
    twin y axis (dotted). Runs share the axes, one color each, so that solvers
    can be compared.

    It is recommended to use :meth:`from_estimator` or :meth:`from_estimators`
    to create a display; the constructor takes plain per-epoch values, so that
    a display can also be built without an estimator. Parameters are stored
    as attributes (``curves`` checked: float arrays, every key present);
    :meth:`plot` draws them.

    Parameters
    ----------
    curves : list of dict
        One dict per run, mapping a curve to its 1-D per-epoch values:
        ``'loss'`` (required; the training objective, ``loss_curve_``),
        ``'validation_loss'`` (``validation_loss_curve_``),
        ``'validation_score'`` (``validation_scores_``) and
        ``'learning_rate'`` (``learning_rate_curve_``). A missing, None or
        empty curve was not recorded. Epochs run from 1 to the length of
        ``'loss'``; a shorter curve covers the last epochs (as after
        ``partial_fit`` calls, which record no validation, and a warm-started
        ``fit`` with early stopping).

    names : list of str, default=None
        The name of each run, for the legend and the keys of ``lines_``;
        distinct. None names them ``'run 1'``, ``'run 2'``...

    score_name : str, default=None
        The label of the validation-score panel; None writes
        ``'validation score'``.

    Attributes
    ----------
    epochs : list of ndarray
        The epochs of each run, ``1, 2, ..., n`` for ``n`` values of
        ``'loss'``.

    lines_ : dict of str to dict of str to matplotlib Line2D
        The lines drawn, by run name, then by curve (the keys of ``curves``):
        ``lines_[name]['loss']`` always, and ``'validation_loss'``,
        ``'validation_score'`` and ``'learning_rate'`` when drawn.

    ax_ : matplotlib Axes
        Axes with the training objective (and validation loss).

    ax_lr_ : matplotlib Axes or None
        The twin axes with the learning rate, sharing the x axis of ``ax_``;
        None unless ``learning_rate=True``.

    ax_score_ : matplotlib Axes or None
        The panel with the validation score, below ``ax_`` and sharing its x
        axis; None when no validation score is drawn.

    figure_ : matplotlib Figure
        Figure containing the axes.

    See Also
    --------
    GDRegressor : Records the curves drawn here, as do the other estimators.
    sklearn.model_selection.LearningCurveDisplay : Scores against the number
        of training samples.

    Notes
    -----
    The legend names the runs by their colors, and the curves by their line
    styles: solid for the training objective, dashed for validation, dotted
    for the learning rate.

    Under ``log_scale='auto'`` the training-objective axis is logarithmic when
    its finite values are positive and span more than a decade (the largest
    exceeds ten times the smallest), and linear otherwise; the learning-rate
    axis is logarithmic whenever the rates are positive, as schedules divide
    them.

    The training objective includes the penalty; the validation loss does
    not, so a gap between them is partly the penalty.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skgd import GDRegressor, LossCurveDisplay
    >>> X, y = load_diabetes(return_X_y=True)
    >>> models = {
    ...     solver: make_pipeline(
    ...         StandardScaler(), GDRegressor(solver=solver, random_state=0)
    ...     ).fit(X, y)
    ...     for solver in ("gd", "adam")
    ... }
    >>> display = LossCurveDisplay.from_estimators(models)
    >>> [text.get_text() for text in display.ax_.get_legend().get_texts()]
    ['gd', 'adam']
    >>> gd = display.lines_["gd"]["loss"]  # full-batch: the optimum in 3 epochs
    >>> print(gd.get_xdata(), round(float(gd.get_ydata()[-1]), 1))
    [1 2 3] 1429.8
    >>> plt.close(display.figure_)

    Built from plain values:

    >>> display = LossCurveDisplay(
    ...     curves=[{"loss": [8.0, 2.0, 0.5], "validation_loss": [9.0, 3.0, 1.5]}],
    ...     names=["by hand"],
    ... ).plot()
    >>> display.ax_.get_yscale(), sorted(display.lines_["by hand"])
    ('log', ['loss', 'validation_loss'])
    >>> plt.close(display.figure_)
    """

    def __init__(self, *, curves, names=None, score_name=None):
        self.curves = _check_curves(curves)
        self.names = _check_names(names, len(self.curves))
        self.score_name = score_name
        self.epochs = [np.arange(1, run["loss"].size + 1) for run in self.curves]

    def plot(
        self,
        ax=None,
        *,
        log_scale="auto",
        learning_rate=False,
        validation="auto",
        validation_score=True,
        **line_kwargs,
    ):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure. A validation-score panel
            is carved out of the bottom of ``ax``.

        log_scale : 'auto' or bool, default='auto'
            Whether the y axes are logarithmic. Under 'auto', the training
            objective's is when its values are positive and span more than a
            decade, the learning rate's whenever the rates are positive.

        learning_rate : bool, default=False
            Whether to draw the learning rate of each epoch (dotted) on a twin
            y axis, ``ax_lr_``.

        validation : 'auto' or bool, default='auto'
            Whether to draw the validation loss (dashed) and score of the runs
            that recorded them. 'auto' draws them when recorded; True also,
            but raises a ValueError when no run recorded any; False never.

        validation_score : bool, default=True
            Whether the validation scores, when drawn, get the panel below
            ``ax``; False keeps to one axes.

        **line_kwargs : dict
            Keyword arguments of every ``Axes.plot`` call (``linewidth``,
            ``alpha``, ...). ``color`` sets every run's color; the line styles
            of the validation (dashed) and learning-rate (dotted) lines and
            the labels are set by the display.

        Returns
        -------
        display : LossCurveDisplay
            This display, with ``ax_``, ``figure_``, ``lines_``, ``ax_lr_``
            and ``ax_score_`` set.
        """
        require_matplotlib(f"{type(self).__name__}.plot")
        from matplotlib.cbook import normalize_kwargs
        from matplotlib.lines import Line2D
        from matplotlib.ticker import MaxNLocator

        for option, value in (("log_scale", log_scale), ("validation", validation)):
            _check_option(option, value)
        kinds = self._kinds(learning_rate, validation, validation_score)
        ax = _new_axes() if ax is None else ax
        ax_score = _add_score_panel(ax) if "validation_score" in kinds else None
        ax_lr = ax.twinx() if learning_rate else None
        targets = {
            "loss": ax,
            "validation_loss": ax,
            "validation_score": ax_score,
            "learning_rate": ax_lr,
        }
        style = normalize_kwargs(line_kwargs, Line2D)
        self.lines_ = {
            name: self._draw_run(i, {k: targets[k] for k in kinds}, style)
            for i, name in enumerate(self.names)
        }
        _set_scale(ax, log_scale)
        if ax_lr is not None:
            # schedules divide the rate: any positive rates read best on a log
            # axis, where a constant one is a line at a clean tick
            _set_scale(ax_lr, log_scale, span=0.0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        self._label(ax, ax_lr, ax_score)
        self.ax_, self.ax_lr_, self.ax_score_ = ax, ax_lr, ax_score
        self.figure_ = ax.figure
        return self

    def _kinds(self, learning_rate, validation, validation_score) -> list[str]:
        """The curves to draw: those asked for that some run recorded."""
        kinds = ["loss"] + ["learning_rate"] * bool(learning_rate)
        if validation is not False:
            wanted = _VALIDATION if validation_score else _VALIDATION[:1]
            kinds += [k for k in wanted if any(run[k].size for run in self.curves)]
            if validation is True and not set(kinds) & set(_VALIDATION):
                raise ValueError(
                    "validation=True, but no run recorded a validation curve: "
                    "fit with early_stopping=True, or pass validation='auto'."
                )
        if learning_rate and not all(run["learning_rate"].size for run in self.curves):
            raise ValueError("learning_rate=True, but a run has no learning rates.")
        return kinds

    def _draw_run(self, i: int, targets: dict, style: dict) -> dict:
        """The lines of run ``i``: the training loss sets the color of the rest."""
        run, name, n = self.curves[i], self.names[i], self.epochs[i].size
        (loss,) = targets["loss"].plot(self.epochs[i], run["loss"], **style, label=name)
        lines = {"loss": loss}
        for key, ax in targets.items():
            if key == "loss" or not run[key].size:
                continue
            kwargs = {**style, "color": loss.get_color(), "linestyle": _STYLES[key]}
            label = f"{name} {key.replace('_', ' ')}"
            (lines[key],) = ax.plot(
                _epochs(run[key], n), run[key], **kwargs, label=label
            )
        return lines

    def _label(self, ax, ax_lr, ax_score) -> None:
        from matplotlib.lines import Line2D

        ax.set_ylabel("training objective")
        if ax_lr is not None:
            ax_lr.set_ylabel("learning rate")
            # the objective draws over the learning rates, its legend too; the
            # twin, now below, takes over the background
            ax.set_zorder(ax_lr.get_zorder() + 1)
            ax_lr.patch.set_facecolor(ax.patch.get_facecolor())
            ax_lr.patch.set_visible(True)
            ax.patch.set_visible(False)
        if ax_score is None:
            ax.set_xlabel("epoch")
        else:
            ax.tick_params(labelbottom=False)
            ax_score.set_xlabel("epoch")
            ax_score.set_ylabel(self.score_name or "validation score")
        # colors name the runs, line styles the curves: n + 2 entries, not 3 n
        handles = [lines["loss"] for lines in self.lines_.values()]
        keys = {"validation_loss": "validation", "learning_rate": "learning rate"}
        for key, text in keys.items():
            if any(key in lines for lines in self.lines_.values()):
                handles.append(
                    Line2D([], [], color="0.3", linestyle=_STYLES[key], label=text)
                )
        ax.legend(handles=handles)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        name=None,
        ax=None,
        log_scale="auto",
        learning_rate=False,
        validation="auto",
        validation_score=True,
        **kwargs,
    ):
        """Draw the loss curves of one fitted estimator.

        Parameters
        ----------
        estimator : estimator instance
            A fitted :class:`GDRegressor`, :class:`GDClassifier`,
            :class:`GDMLPRegressor` or :class:`GDMLPClassifier`, or a fitted
            :class:`~sklearn.pipeline.Pipeline` whose last step is one.

        name : str, default=None
            The legend's name for the run; None writes the class and the
            solver, e.g. ``'GDRegressor adam'``.

        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.

        log_scale : 'auto' or bool, default='auto'
            Whether the y axes are logarithmic; see :meth:`plot`.

        learning_rate : bool, default=False
            Whether to draw ``learning_rate_curve_`` on a twin y axis.

        validation : 'auto' or bool, default='auto'
            Whether to draw ``validation_loss_curve_`` and
            ``validation_scores_``; see :meth:`plot`.

        validation_score : bool, default=True
            Whether the validation scores get a panel below ``ax``.

        **kwargs : dict
            Keyword arguments of every ``Axes.plot`` call; see :meth:`plot`.

        Returns
        -------
        display : LossCurveDisplay
            The display, drawn.

        Raises
        ------
        TypeError
            If ``estimator`` is neither an skgd estimator nor a Pipeline
            ending in one.
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        """
        caller = f"{cls.__name__}.from_estimator"
        require_matplotlib(caller)
        est = _skgd_estimator(estimator, caller)
        display = cls(
            curves=[_curves_of(est)],
            names=[_default_name(est) if name is None else name],
            score_name=_score_name([est]),
        )
        return display.plot(
            ax,
            log_scale=log_scale,
            learning_rate=learning_rate,
            validation=validation,
            validation_score=validation_score,
            **kwargs,
        )

    @classmethod
    def from_estimators(
        cls,
        estimators,
        *,
        ax=None,
        log_scale="auto",
        learning_rate=False,
        validation="auto",
        validation_score=True,
        **kwargs,
    ):
        """Draw the loss curves of several fitted estimators on one axes.

        Each run gets a color of the axes' color cycle; the legend names them.
        Made to compare solvers: fit the same estimator once per solver.

        Parameters
        ----------
        estimators : dict of str to estimator, or list of estimators
            The fitted estimators (or Pipelines ending in one) by legend name,
            e.g. ``{'gd': est1, 'adam': est2}``. A list names them by class
            and solver, which must then differ.

        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.

        log_scale : 'auto' or bool, default='auto'
            Whether the y axes are logarithmic; see :meth:`plot`.

        learning_rate : bool, default=False
            Whether to draw each ``learning_rate_curve_`` on a twin y axis.

        validation : 'auto' or bool, default='auto'
            Whether to draw the validation curves recorded; see :meth:`plot`.

        validation_score : bool, default=True
            Whether the validation scores get a panel below ``ax``.

        **kwargs : dict
            Keyword arguments of every ``Axes.plot`` call; see :meth:`plot`.

        Returns
        -------
        display : LossCurveDisplay
            The display, drawn.

        Raises
        ------
        TypeError
            If an estimator is neither an skgd estimator nor a Pipeline
            ending in one.
        sklearn.exceptions.NotFittedError
            If an estimator is not fitted.
        """
        caller = f"{cls.__name__}.from_estimators"
        require_matplotlib(caller)
        if isinstance(estimators, Mapping):
            names, estimators = list(estimators), list(estimators.values())
        elif isinstance(estimators, BaseEstimator):  # a Pipeline iterates its steps
            raise TypeError(
                f"{caller} takes a dict or list of estimators; use from_estimator "
                "for one."
            )
        else:
            names = None
        ests = [_skgd_estimator(est, caller) for est in estimators]
        if not ests:
            raise ValueError(f"{caller} needs at least one estimator.")
        display = cls(
            curves=[_curves_of(est) for est in ests],
            names=[_default_name(est) for est in ests] if names is None else names,
            score_name=_score_name(ests),
        )
        return display.plot(
            ax,
            log_scale=log_scale,
            learning_rate=learning_rate,
            validation=validation,
            validation_score=validation_score,
            **kwargs,
        )
