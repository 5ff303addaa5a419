"""The ``skgd`` command line: ``skgd compare`` puts every solver beside scikit-learn.

``skgd compare`` fits skgd's estimators once per solver, each beside the
matching scikit-learn estimator, on one train/test split of a bundled data set
or of the user's CSV file, and prints one aligned table. A task holds one row
set per kind of estimator: ``--task regress`` runs :class:`~skgd.GDRegressor`
beside ``LinearRegression`` and :class:`~skgd.GDMLPRegressor` beside
``MLPRegressor``; ``--task classify`` runs :class:`~skgd.GDClassifier` beside
``LogisticRegression`` (with the same objective) and
:class:`~skgd.GDMLPClassifier` beside ``MLPClassifier``. ``--estimator linear``
or ``mlp`` keeps one row set. Every model sits in a ``Pipeline`` behind a
``StandardScaler`` fitted on the training rows.

A CSV file (``--csv PATH --target COLUMN``) holds a header row and numeric
features; ``--drop COLUMN`` (repeatable) leaves a column out, and an index
column that pandas wrote (``df.to_csv()`` without ``index=False``: an empty
or ``Unnamed: 0`` header cell over the row numbers 0..n-1) is left out by
itself, with a note above the table. The target must suit the task: numbers
for ``regress``; class labels for ``classify``, which refuses numbers that
look continuous (scikit-learn's ``type_of_target``). ``skgd --version``
prints the version.

``--plot FILE.png`` then draws the training loss of every skgd row per epoch,
one panel per row set comparing its solvers (:class:`~skgd.LossCurveDisplay`;
matplotlib is the ``plot`` extra).

Errors in the arguments or the data end the program with a one-line message
and exit status 2; a fit that fails (e.g. diverges) becomes a row of the table;
warnings are collected and printed as notes under it.
"""

import argparse
import csv
import os
import re
import shlex
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, load_digits
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import type_of_target

from skgd import (
    GDClassifier,
    GDMLPClassifier,
    GDMLPRegressor,
    GDRegressor,
    __version__,
)
from skgd._optimizers import SOLVERS
from skgd._plot import PLOT_INSTALL, LossCurveDisplay, require_matplotlib

try:  # installed with scikit-learn; only used by --blas-threads
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

Array = np.ndarray

# The settings each solver gets beyond the estimator's defaults and the seed,
# by estimator. Full-batch 'gd' lands on the closed form in a few epochs
# (whitened least squares has the identity Hessian) and on LogisticRegression's
# optimum in a few hundred, so tol=1e-10 costs little and shows it. Every other
# solver runs at its defaults: their 'auto' rates and schedules are what this
# table is for.
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "GDRegressor": {"gd": {"tol": 1e-10}},
    "GDMLPRegressor": {},
    "GDClassifier": {"gd": {"tol": 1e-10}},
    "GDMLPClassifier": {},
}
# the default run shows every solver, so a new one appears without a CLI change
DEFAULT_SOLVERS = SOLVERS
HIDDEN_LAYER_SIZES = (64,)
# At GDClassifier's default alpha=1e-4 the digits are nearly separable and the
# optimum so flat that neither 1000 epochs of 'gd' nor L-BFGS at its default
# tol reach it (they end 17% apart in coef_), so the table could not tell who
# is right. alpha=1e-2 (C=0.08 on digits) is well posed: 'gd' lands within
# 1e-6 in about 600 epochs, and the mini-batch solvers within 1e-1.
CLASSIFIER_ALPHA = 1e-2
# fewer rows than this cannot give both a training set and a scorable test set
MIN_ROWS = 10


class CLIError(Exception):
    """A problem with the arguments or the data, reported in one line."""


@dataclass
class _Data:
    X: Array
    y: Array
    source: str
    notes: list[str] = field(default_factory=list)  # columns left out


@dataclass
class _Split:
    X_train: Array
    X_test: Array
    y_train: Array
    y_test: Array


@dataclass
class _Fit:
    """One fitted (or failed) model and its formatted metrics."""

    name: str
    model: Pipeline
    cells: list[str] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float | None = None  # the fit's wall time, unrounded


@dataclass(frozen=True)
class _RowSet:
    """One skgd estimator, fitted once per solver, beside its reference.

    ``reference(args, n_train)`` builds the scikit-learn estimator;
    ``from_data`` names its parameters computed from the training rows, which
    ``--help`` states as ``reference_note`` instead of a value.
    """

    kind: str  # the value of --estimator that selects it
    estimator: type
    common: dict[str, Any]
    reference: Callable[[argparse.Namespace, int], BaseEstimator]
    compare_coef: bool
    legend: str
    from_data: tuple[str, ...] = ()
    reference_note: str = ""


@dataclass(frozen=True)
class _Task:
    """A data set, its metric columns ('coef dist' last) and its row sets."""

    row_sets: tuple[_RowSet, ...]
    dataset: str
    load: Callable[[], tuple[Array, Array]]
    test_size: float
    stratify: bool
    headers: tuple[str, ...]
    metrics: Callable[[Pipeline, _Split], list[str]]
    legend: str


# ----------------------------------------------------------------- metrics
def _inner(estimator: BaseEstimator) -> BaseEstimator:
    """The estimator itself, or the one a TransformedTargetRegressor wraps."""
    return getattr(estimator, "regressor_", getattr(estimator, "regressor", estimator))


def _epochs(model: Pipeline) -> str:
    n_iter = getattr(_inner(model[-1]), "n_iter_", None)
    # LogisticRegression keeps an array, one count per problem solved
    return "-" if n_iter is None else str(int(np.max(n_iter)))


def _coef_distance(model: Pipeline, ref: Pipeline | None) -> str:
    if ref is model:
        return "ref"
    if ref is None:
        return "n/a"  # the reference fit failed
    c_ref = np.ravel(ref[-1].coef_)
    norm_ref = float(np.linalg.norm(c_ref))
    if not norm_ref > 0:
        return "n/a"
    dist = float(np.linalg.norm(np.ravel(model[-1].coef_) - c_ref)) / norm_ref
    return f"{dist:.2e}"


def _regress_metrics(model: Pipeline, s: _Split) -> list[str]:
    return [
        _epochs(model),
        f"{model.score(s.X_train, s.y_train):.4f}",
        f"{model.score(s.X_test, s.y_test):.4f}",
        f"{mean_squared_error(s.y_test, model.predict(s.X_test)):.5g}",
    ]


def _classify_metrics(model: Pipeline, s: _Split) -> list[str]:
    proba = model.predict_proba(s.X_test)
    return [
        _epochs(model),
        f"{model.score(s.X_train, s.y_train):.4f}",
        f"{model.score(s.X_test, s.y_test):.4f}",
        f"{log_loss(s.y_test, proba, labels=model[-1].classes_):.4f}",
    ]


# -------------------------------------------------------------- references
def _max_iter(args: argparse.Namespace) -> dict[str, Any]:
    return {} if args.max_iter is None else {"max_iter": args.max_iter}


def _linear_regression(args: argparse.Namespace, n_train: int) -> BaseEstimator:
    return LinearRegression()


def _logistic_regression(args: argparse.Namespace, n_train: int) -> BaseEstimator:
    # GDClassifier minimizes the mean log-loss + alpha/2 ||W||^2 and
    # LogisticRegression the summed log-loss + ||W||^2 / (2 C): the same
    # minimizer at C = 1 / (alpha n). A tight tol makes it the exact reference
    # (the default 1e-4 stops 3e-3 short on digits); --max-iter, an epoch
    # budget, does not apply to L-BFGS iterations.
    return LogisticRegression(
        C=1.0 / (CLASSIFIER_ALPHA * n_train), tol=1e-8, max_iter=1000
    )


def _mlp_classifier(args: argparse.Namespace, n_train: int) -> BaseEstimator:
    return MLPClassifier(
        hidden_layer_sizes=HIDDEN_LAYER_SIZES,
        random_state=args.random_state,
        **_max_iter(args),
    )


def _mlp_regressor(args: argparse.Namespace, n_train: int) -> BaseEstimator:
    # MLPRegressor's output layer learns the raw targets from weights near 0:
    # on diabetes (y about 150 +- 77) it ends its 200 epochs at a test R2 of
    # -2.2. GDMLPRegressor's output layer works in units of std(y) around
    # mean(y); standardized targets give MLPRegressor the same units (and the
    # same minimizers of the squared error).
    mlp = MLPRegressor(
        hidden_layer_sizes=HIDDEN_LAYER_SIZES,
        random_state=args.random_state,
        **_max_iter(args),
    )
    return TransformedTargetRegressor(regressor=mlp, transformer=StandardScaler())


def _diabetes() -> tuple[Array, Array]:
    return load_diabetes(return_X_y=True)


def _digits() -> tuple[Array, Array]:
    return load_digits(return_X_y=True)


_COEF_LEGEND = (
    "coef dist = ||coef_ - coef_ref|| / ||coef_ref||, on the standardized "
    "features, against {}"
)
_MLP_LEGEND = "coef dist is '-' for the MLPs (no unique optimum)"

TASKS: dict[str, _Task] = {
    "regress": _Task(
        row_sets=(
            _RowSet(
                kind="linear",
                estimator=GDRegressor,
                common={},
                reference=_linear_regression,
                compare_coef=True,
                legend=_COEF_LEGEND.format("LinearRegression"),
            ),
            _RowSet(
                kind="mlp",
                estimator=GDMLPRegressor,
                common={"hidden_layer_sizes": HIDDEN_LAYER_SIZES},
                reference=_mlp_regressor,
                compare_coef=False,
                legend=_MLP_LEGEND + "; MLPRegressor learns standardized y, as "
                "GDMLPRegressor's output layer does",
                reference_note=" on standardized y (TransformedTargetRegressor)",
            ),
        ),
        dataset="diabetes",
        load=_diabetes,
        test_size=0.25,
        stratify=False,
        headers=("epochs", "train R2", "test R2", "test MSE", "coef dist"),
        metrics=_regress_metrics,
        legend="",
    ),
    "classify": _Task(
        row_sets=(
            _RowSet(
                kind="linear",
                estimator=GDClassifier,
                common={"alpha": CLASSIFIER_ALPHA},
                reference=_logistic_regression,
                compare_coef=True,
                legend=_COEF_LEGEND.format("LogisticRegression")
                + " (same objective; its epochs are L-BFGS iterations)",
                from_data=("C",),
                reference_note=" with C = 1 / (alpha * n_train), the same objective",
            ),
            _RowSet(
                kind="mlp",
                estimator=GDMLPClassifier,
                common={"hidden_layer_sizes": HIDDEN_LAYER_SIZES},
                reference=_mlp_classifier,
                compare_coef=False,
                legend=_MLP_LEGEND,
            ),
        ),
        dataset="digits",
        load=_digits,
        test_size=0.3,
        stratify=True,
        headers=("epochs", "train acc", "test acc", "test log-loss", "coef dist"),
        metrics=_classify_metrics,
        legend="acc = accuracy; log-loss = mean cross-entropy of predict_proba",
    ),
}
ESTIMATOR_KINDS = (
    "all",
    *dict.fromkeys(rs.kind for t in TASKS.values() for rs in t.row_sets),
)


# --------------------------------------------------------------- CSV input
# pandas reads a column without a header cell as 'Unnamed: <position>', and
# writes it back under that name
_PANDAS_UNNAMED = re.compile(r"Unnamed: \d+")
_INDEX_NOTE = "an index written by pandas"
# Above this many distinct whole numbers, a numeric class label that also has
# a value on a single row (which no stratified split can hold) is taken for a
# quantity; scikit-learn warns at half the rows (check_classification_targets).
MAX_CLASSES = 50


def _read_rows(path: str) -> tuple[list[list[str]], list[int]]:
    """Non-blank rows of the CSV file and their line numbers."""
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(reader.line_num)
    except FileNotFoundError:
        raise CLIError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"{path} is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise CLIError(f"{path} is not a UTF-8 text file") from None
    except csv.Error as exc:
        raise CLIError(f"{path} is not valid CSV: {exc}") from None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
    return rows, lines


def _number(cell: str, where: str, hint: str) -> float:
    text = cell.strip()
    if not text:
        raise CLIError(f"{where} is empty; missing values are not supported")
    try:
        value = float(text)
    except ValueError:
        raise CLIError(f"{where} is not a number ({text!r}); {hint}") from None
    if not np.isfinite(value):
        raise CLIError(f"{where} is {text!r}; only finite numbers are supported")
    return value


def _is_number(text: str) -> bool:
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False


def _no_column(path: str, name: str, header: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in header[:8])
    more = f" and {len(header) - 8} more" if len(header) > 8 else ""
    return f"{path} has no column {name!r}; its columns: {shown}{more}"


def _column_index(header: list[str], target: str, path: str) -> int:
    if len(set(header)) < len(header):
        dup = next(n for n in header if header.count(n) > 1)
        raise CLIError(f"{path}: the header names column {dup!r} twice")
    if target not in header:
        raise CLIError(_no_column(path, target, header))
    return header.index(target)


def _dropped(
    header: list[str], j_target: int, drop: Sequence[str], path: str
) -> list[int]:
    """The columns ``--drop`` names, by position."""
    dropped = []
    for name in dict.fromkeys(drop):
        flag = f"--drop {shlex.quote(name)}"
        if name not in header:
            raise CLIError(f"{flag}: {_no_column(path, name, header)}")
        if header.index(name) == j_target:
            raise CLIError(
                f"{flag}: {name!r} is the target column; --drop leaves out "
                "feature columns only"
            )
        dropped.append(header.index(name))
    return dropped


def _is_pandas_index(header: list[str], body: list[list[str]]) -> bool:
    """Whether the first column is the RangeIndex that ``df.to_csv()`` writes
    without ``index=False``: no header cell (or pandas' name for none) and the
    row numbers 0..n-1, in any order (the frame may have been shuffled)."""
    if header[0] and not _PANDAS_UNNAMED.fullmatch(header[0]):
        return False
    cells = [row[0].strip() for row in body]
    if not all(c.isascii() and c.isdigit() for c in cells):
        return False
    return sorted(map(int, cells)) == list(range(len(body)))


def _left_out(
    header: list[str],
    body: list[list[str]],
    j_target: int,
    drop: Sequence[str],
    path: str,
) -> tuple[list[int], list[str]]:
    """The columns left out of the features, and a note on each kind."""
    dropped = _dropped(header, j_target, drop, path)
    notes = []
    if dropped:
        names = ", ".join(repr(header[j]) for j in dropped)
        notes.append(f"dropped {names} (--drop)")
    if 0 not in dropped and j_target != 0 and _is_pandas_index(header, body):
        named = f" {header[0]!r}" if header[0] else ""
        notes.insert(0, f"dropped column 1{named} ({_INDEX_NOTE})")
        dropped.append(0)
    return dropped, notes


def _features(
    header: list[str],
    body: list[list[str]],
    lines: list[int],
    columns: list[int],
    path: str,
) -> Array:
    hints = [
        "feature columns must be numeric: leave it out with "
        f"--drop {shlex.quote(header[j])}"
        for j in columns
    ]
    X = np.empty((len(body), len(columns)))
    for i, (row, line) in enumerate(zip(body, lines, strict=True)):
        for k, j in enumerate(columns):
            where = f"{path}, line {line}, column {header[j]!r}"
            X[i, k] = _number(row[j], where, hints[k])
    return X


def _check_discrete(cells: list[str], target: str) -> None:
    """Refuse a class label that is a quantity: numbers that are not whole
    (scikit-learn's type_of_target says 'continuous'), or more distinct whole
    numbers than classes can be, some on a single row."""
    if not all(_is_number(c) for c in cells):
        return  # labels that are not all numbers are class names
    values = np.array([float(c) for c in cells])
    if type_of_target(values) == "continuous":
        example = next(c for c, v in zip(cells, values, strict=True) if v != int(v))
        reason = f"e.g. {example!r} is not a whole number"
    else:
        counts = np.unique(values, return_counts=True)[1]
        if counts.min() > 1 or counts.size <= min(MAX_CLASSES, len(cells) / 2):
            return
        reason = f"{counts.size} distinct numbers in {len(cells)} rows"
    raise CLIError(
        f"the target column {target!r} looks continuous ({reason}): use --task regress"
    )


def _target(
    cells: list[str], lines: list[int], target: str, path: str, *, numeric: bool
) -> Array:
    need = "missing values are not supported" if numeric else "every row needs a label"
    for cell, line in zip(cells, lines, strict=True):
        if not cell:
            raise CLIError(f"{path}, line {line}, target {target!r} is empty; {need}")
    if not numeric:
        _check_discrete(cells, target)
        return np.asarray(cells)
    if not any(_is_number(c) for c in cells):
        raise CLIError(
            f"the target column {target!r} holds strings (e.g. {cells[0]!r}): "
            "use --task classify"
        )
    hint = "--task regress needs a number in every row"
    return np.array(
        [
            _number(c, f"{path}, line {line}, target {target!r}", hint)
            for c, line in zip(cells, lines, strict=True)
        ]
    )


def load_csv(
    path: str, target: str, *, numeric_target: bool, drop: Sequence[str] = ()
) -> _Data:
    """Read a CSV file with a header: numeric features and one target column.

    The columns named in ``drop`` and an index column written by pandas are
    left out of the features; ``notes`` says which.
    """
    rows, lines = _read_rows(path)
    if not rows:
        raise CLIError(f"{path} is empty")
    header, body, lines = [c.strip() for c in rows[0]], rows[1:], lines[1:]
    j_target = _column_index(header, target, path)
    if len(body) < MIN_ROWS:
        raise CLIError(
            f"{path} has {len(body)} data rows; at least {MIN_ROWS} are needed "
            "to split into train and test"
        )
    for row, line in zip(body, lines, strict=True):
        if len(row) != len(header):
            raise CLIError(
                f"{path}, line {line}: {len(row)} fields, but the header has "
                f"{len(header)}"
            )
    left_out, notes = _left_out(header, body, j_target, drop, path)
    columns = [j for j in range(len(header)) if j != j_target and j not in left_out]
    if not columns:
        raise CLIError(
            f"{path} has no feature column besides the target {target!r}"
            + "".join(f"; {note}" for note in notes)
        )
    # the target first: a task that does not suit it is the likelier mistake
    cells = [row[j_target].strip() for row in body]
    y = _target(cells, lines, target, path, numeric=numeric_target)
    X = _features(header, body, lines, columns, path)
    return _Data(X, y, f"{path} (target {target!r})", notes)


# ---------------------------------------------------------------- fitting
def _split(data: _Data, task: _Task, seed: int) -> _Split:
    stratify = None
    if task.stratify:
        labels, counts = np.unique(data.y, return_counts=True)
        if labels.size < 2:
            raise CLIError(
                f"the target holds a single class ({labels[0].item()!r}); "
                "classification needs at least 2"
            )
        if counts.min() < 2:
            rare = labels[np.argmin(counts)].item()
            raise CLIError(
                f"class {rare!r} has a single row; the stratified train/test "
                "split needs at least 2 rows per class"
            )
        stratify = data.y
    try:
        X_tr, X_te, y_tr, y_te = train_test_split(
            data.X,
            data.y,
            test_size=task.test_size,
            random_state=seed,
            stratify=stratify,
        )
    except ValueError as exc:
        n = data.X.shape[0]
        raise CLIError(f"cannot split {n} rows into train and test: {exc}") from None
    return _Split(X_tr, X_te, y_tr, y_te)


def _skgd_estimator(rows: _RowSet, solver: str, args: argparse.Namespace):
    params: dict[str, Any] = {"solver": solver, "random_state": args.random_state}
    params.update(SETTINGS.get(rows.estimator.__name__, {}).get(solver, {}))
    params.update(_max_iter(args))
    return rows.estimator(**rows.common, **params)


def _short_reason(exc: Exception) -> str:
    """The first sentence of an error, without the estimator's name."""
    text = str(exc).split(". ")[0].rstrip(".")
    name, _, rest = text.partition(" diverged ")
    if rest and " " not in name:
        text = rest.removeprefix("in ")
    text = text.split(" (reference")[0]
    return text if len(text) <= 80 else text[:77] + "..."


# fits of a model are repeated (up to --repeats) while they have taken less
# than this many seconds in all
_REPEAT_BUDGET = 1.0


def _fastest_fit(model: Pipeline, split: _Split, repeats: int) -> float:
    """Fit ``model``, then fresh clones of it while the fits so far have taken
    less than ``_REPEAT_BUDGET`` seconds, ``repeats`` fits at most; the
    seconds of the fastest. ``model`` is the one left fitted (with their
    seeds, the clones fit the same model)."""
    fitted, best, total = model, np.inf, 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        fitted.fit(split.X_train, split.y_train)
        seconds = time.perf_counter() - start
        best, total = min(best, seconds), total + seconds
        if total >= _REPEAT_BUDGET:
            break
        fitted = clone(model)
    return best


def _fit(
    name: str,
    model: Pipeline,
    split: _Split,
    score: Callable[[Pipeline], list[str]],
    repeats: int = 1,
) -> _Fit:
    """Fit and score one model; errors become the row, warnings its notes.
    The time is the fastest of up to ``repeats`` fits (see _fastest_fit)."""
    result = _Fit(name, model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            seconds = result.seconds = _fastest_fit(model, split, repeats)
            cells = score(model)
        except ValueError as exc:
            kind = "diverged" if "diverged" in str(exc) else "failed"
            result.error = f"{kind}: {_short_reason(exc)}"
        else:
            result.cells = [cells[0], f"{seconds:.3f}", *cells[1:]]
    for w in caught:
        note = f"{name}: {w.category.__name__}: {w.message}"
        if note not in result.notes:
            result.notes.append(note)
    return result


def _run_row_set(
    rows: _RowSet, task: _Task, split: _Split, args: argparse.Namespace
) -> list[_Fit]:
    """One fit per solver, then the reference's (fitted first: coef dist)."""

    def score(model: Pipeline, ref: Pipeline | None) -> list[str]:
        coef = _coef_distance(model, ref) if rows.compare_coef else "-"
        return [*task.metrics(model, split), coef]

    reference = rows.reference(args, len(split.y_train))
    ref_model = make_pipeline(StandardScaler(), reference)
    ref_name = type(_inner(reference)).__name__
    ref = _fit(ref_name, ref_model, split, partial(score, ref=ref_model), args.repeats)
    ref_fitted = ref_model if ref.error is None else None
    fits = []
    for solver in args.solvers:
        model = make_pipeline(StandardScaler(), _skgd_estimator(rows, solver, args))
        name = f"{rows.estimator.__name__} {solver}"
        fits.append(
            _fit(name, model, split, partial(score, ref=ref_fitted), args.repeats)
        )
    return [*fits, ref]


# ----------------------------------------------------------------- output
def _describe(estimator: BaseEstimator, skip: Sequence[str] = ()) -> str:
    """``Name(param=value, ...)`` with the parameters that differ from defaults."""
    defaults = type(estimator)().get_params(deep=False)
    params = estimator.get_params(deep=False)
    # the solver names the row, so it is shown even when it is the default
    changed = [
        k
        for k, v in params.items()
        if k not in skip and (k == "solver" or repr(v) != repr(defaults[k]))
    ]
    changed.sort(key=lambda k: (k != "solver", k))
    args = ", ".join(f"{k}={params[k]!r}" for k in changed)
    return f"{type(estimator).__name__}({args})"


def _table(headers: Sequence[str], blocks: Sequence[Sequence[_Fit]]) -> list[str]:
    """Aligned rows, a blank line between row sets: names left-aligned, numbers
    right-aligned. A failed fit prints its message after the name, across the
    number columns.
    """
    fits = [f for block in blocks for f in block]
    rows = [list(headers)] + [[f.name, *f.cells] for f in fits if f.error is None]
    widths = [max(len(row[j]) for row in rows) for j in range(len(headers))]
    widths[0] = max(widths[0], *(len(f.name) for f in fits))

    def line(cells: Sequence[str]) -> str:
        padded = [cells[0].ljust(widths[0])]
        padded += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(padded)

    lines = [line(headers)]
    for i, block in enumerate(blocks):
        lines += [""] if i else []
        for f in block:
            if f.error is None:
                lines.append(line([f.name, *f.cells]))
            else:
                lines.append(f"{f.name.ljust(widths[0])}  {f.error}")
    return lines


def _models(fits: Sequence[_Fit]) -> list[str]:
    """One line per model: its name and the parameters it was built with."""
    width = max(len(f.name) for f in fits)
    lines = []
    for f in fits:
        line = f"  {f.name.ljust(width)}  {_describe(f.model[-1])}"
        rate = getattr(f.model[-1], "learning_rate_init_", None)
        if f.error is None and rate is not None:
            line += f"  [learning rate used: {rate:.3g}]"
        lines.append(line)
    return lines


def _report(
    args,
    data: _Data,
    split: _Split,
    row_sets: Sequence[_RowSet],
    blocks: Sequence[Sequence[_Fit]],
) -> str:
    task = TASKS[args.task]
    fits = [f for block in blocks for f in block]
    n, d = data.X.shape
    command = f"skgd compare --task {args.task}"
    if args.estimator != "all":
        command += f" --estimator {args.estimator}"
    out = [
        command,
        f"data:    {data.source}, {n} rows x {d} feature{'s' * (d != 1)}",
        *(f"{'' if i else 'columns:':9}{note}" for i, note in enumerate(data.notes)),
        f"split:   {len(split.y_train)} train / {len(split.y_test)} test rows "
        f"(test_size={task.test_size}, random_state={args.random_state}"
        f"{', stratified' if task.stratify else ''})",
        "scaling: StandardScaler fitted on the train rows, in a Pipeline with "
        "each model",
    ]
    if args.blas_threads is not None:
        out.append(f"BLAS:    limited to {args.blas_threads} thread(s)")
    out += ["", "models (estimator defaults except as shown):", *_models(fits)]
    headers = ("model", task.headers[0], "fit time (s)", *task.headers[1:])
    legend = [text for text in (task.legend, *(r.legend for r in row_sets)) if text]
    if args.repeats > 1:
        legend.append(
            f"fit time = the fastest of up to {args.repeats} fits of the model "
            "(--repeats), refitted while its fits took under 1 s in all"
        )
    out += ["", *_table(headers, blocks), "", *legend]
    notes = [note for f in fits for note in f.notes]
    if notes:
        out += ["", "notes (warnings raised while fitting and scoring):"]
        out += [f"  {note}" for note in notes]
        if any("ConvergenceWarning" in note for note in notes):
            out.append(
                "  (--max-iter sets the epoch budget of every skgd model and "
                "MLP reference)"
            )
    return "\n".join(out)


def _load(args: argparse.Namespace, task: _Task) -> _Data:
    if args.csv is None:
        if args.target is not None:
            raise CLIError("--target needs --csv")
        if args.drop:
            raise CLIError("--drop needs --csv")
        X, y = task.load()
        return _Data(X, y, f"{task.dataset} (scikit-learn)")
    if args.target is None:
        raise CLIError("--csv needs --target COLUMN, the column to predict")
    numeric = args.task == "regress"
    return load_csv(args.csv, args.target, numeric_target=numeric, drop=args.drop)


def _compare(args: argparse.Namespace) -> None:
    task = TASKS[args.task]
    if args.plot is not None:
        _check_plot_path(args.plot)  # before the fits, not after
    data = _load(args, task)
    split = _split(data, task, args.random_state)
    row_sets = [r for r in task.row_sets if args.estimator in ("all", r.kind)]
    with _blas_limit(args.blas_threads):
        blocks = [_run_row_set(rows, task, split, args) for rows in row_sets]
    print(_report(args, data, split, row_sets, blocks))
    if args.plot is not None:
        _save_figure(_loss_curve_figure(row_sets, blocks, data.source), args.plot)
        print(f"loss curves written to {args.plot}")


# ------------------------------------------------------------ --plot FILE
def _check_plot_path(path: str) -> None:
    try:
        require_matplotlib("--plot")
    except ImportError:
        raise CLIError(f"--plot needs matplotlib: {PLOT_INSTALL}") from None
    from matplotlib.backend_bases import FigureCanvasBase

    # no suffix saves a PNG (matplotlib's default format)
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in formats:
        raise CLIError(
            f"--plot {path}: matplotlib cannot write .{suffix} files; use .png, "
            ".pdf or .svg"
        )
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise CLIError(f"--plot {path}: no such directory {folder}")


def _loss_curve_figure(
    row_sets: Sequence[_RowSet], blocks: Sequence[Sequence[_Fit]], source: str
):
    """One axes per row set, comparing the training loss of its solvers."""
    # a Figure without pyplot: no GUI backend, and nothing left open
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0 * len(row_sets), 4.5), layout="constrained")
    axes = fig.subplots(1, len(row_sets), squeeze=False)[0]
    for ax, rows, block in zip(axes, row_sets, blocks, strict=True):
        name = rows.estimator.__name__
        fitted = {
            f.model[-1].solver: f.model
            for f in block
            if f.error is None and isinstance(f.model[-1], rows.estimator)
        }
        ax.set_title(name)
        if fitted:
            LossCurveDisplay.from_estimators(fitted, ax=ax)
        else:
            ax.text(
                0.5,
                0.5,
                f"no {name} fit succeeded",
                ha="center",
                transform=ax.transAxes,
            )
            ax.set_axis_off()
    fig.suptitle(f"skgd compare: training loss per epoch on {source}")
    return fig


def _save_figure(fig, path: str) -> None:
    try:
        fig.savefig(path)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None


def _blas_limit(n_threads: int | None) -> AbstractContextManager:
    # multi-threaded BLAS on a small, busy machine can slow a fit down tenfold
    if n_threads is None:
        return nullcontext()
    if threadpool_limits is None:
        raise CLIError("--blas-threads needs the threadpoolctl package")
    return threadpool_limits(n_threads, user_api="blas")


# ---------------------------------------------------------------- parsing
def _solver_list(text: str) -> list[str]:
    if text.strip() == "all":
        return list(SOLVERS)
    solvers = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in solvers if s not in SOLVERS]
    if unknown or not solvers:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected 'all' or a comma-separated list of "
            f"{', '.join(SOLVERS)}"
        )
    return list(dict.fromkeys(solvers))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer in [0, 2**32)")
    return value


_COMPARE_DESCRIPTION = """\
Fit each of skgd's estimators for the task once per solver, beside the
matching scikit-learn estimator, on one train/test split, and print one table
with a block of rows per estimator: epochs (n_iter_), fit time (the fastest
of up to --repeats fits), train and test scores, and for the linear models
the distance of coef_ to the reference's.

  --task regress:  GDRegressor vs LinearRegression, then
                   GDMLPRegressor vs MLPRegressor
  --task classify: GDClassifier vs LogisticRegression (the same objective),
                   then GDMLPClassifier vs MLPClassifier
  --estimator linear or mlp keeps the first or the second block.

Data: --task regress uses scikit-learn's diabetes data (test_size=0.25);
--task classify its digits data (stratified, test_size=0.3). --csv PATH
--target COLUMN uses your own CSV file instead: a header row, numeric
feature columns, and a target column (numbers for regress, class labels for
classify). --drop COLUMN (repeatable) leaves a column out of the features; an
index column that pandas wrote (df.to_csv() without index=False: no header
cell, values 0..n-1) is left out by itself, with a note. Every model is a
Pipeline(StandardScaler(), estimator) fitted on the train rows. Fits that
fail show as a table row; warnings as notes.
--plot FILE.png also draws each skgd model's training loss per epoch.
"""


def _epilog() -> str:
    """The settings of every model, generated from the code that builds them."""
    lines = textwrap.wrap(
        "settings: each estimator's defaults, plus random_state=SEED, "
        "max_iter=N when --max-iter is given (not for LogisticRegression, "
        "whose iterations are not epochs), and the following.",
        width=79,
    )
    for name, task in TASKS.items():
        indent = f"  {name + ':':<10}"
        for rows in task.row_sets:
            lines += _epilog_row_set(rows, indent)
            indent = " " * 12
    auto = (
        "learning_rate_init='auto': the linear estimators take 1/L (L the "
        "curvature bound of the loss in their preconditioned coordinates) for "
        "gd and sgd, and a fixed step (GDRegressor's in units of std(y)) for "
        "the adaptive solvers, whose default schedule cuts the rate on "
        "plateaus; the MLPs take a rate per solver. The rate used is printed "
        "above the table."
    )
    lines += ["", *textwrap.wrap(auto, width=79)]
    lines += ["", "Exit status: 0 on success, 2 on a usage or data error."]
    return "\n".join(lines)


def _epilog_row_set(rows: _RowSet, indent: str) -> list[str]:
    est = rows.estimator(**rows.common)
    keys = ("learning_rate_init", "max_iter", "tol")
    defaults = ", ".join(f"{k}={est.get_params()[k]!r}" for k in keys)
    ref = _inner(rows.reference(_HELP_ARGS, 1))
    skip = ("random_state", *rows.from_data)
    text = (
        f"{_describe(est, skip=('solver',))} per solver ({defaults}) vs "
        f"{_describe(ref, skip=skip)}{rows.reference_note}"
    )
    lines = textwrap.wrap(
        text, width=79, initial_indent=indent, subsequent_indent=" " * 14
    )
    lines += [
        f"{'':14}{solver}: " + ", ".join(f"{k}={v!r}" for k, v in extra.items())
        for solver, extra in SETTINGS[rows.estimator.__name__].items()
    ]
    return lines


_HELP_ARGS = argparse.Namespace(random_state=0, max_iter=None)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skgd",
        description="scikit-learn estimators trained by gradient descent.",
    )
    parser.add_argument("--version", action="version", version=f"skgd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compare = commands.add_parser(
        "compare",
        help="fit every solver beside scikit-learn and print one table",
        description=_COMPARE_DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument(
        "--task",
        choices=tuple(TASKS),
        default="regress",
        help="regression on diabetes or classification on digits (default: regress)",
    )
    compare.add_argument(
        "--estimator",
        choices=ESTIMATOR_KINDS,
        default="all",
        help="the block of rows to run: linear (GDRegressor or GDClassifier), "
        "mlp (GDMLPRegressor or GDMLPClassifier) or all (default: all)",
    )
    compare.add_argument("--csv", metavar="PATH", help="a CSV file with a header row")
    compare.add_argument("--target", metavar="COLUMN", help="the column to predict")
    compare.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column of the CSV file to leave out of the features, such as an "
        "id or a text column; repeat for more (an index written by pandas is "
        "left out without it)",
    )
    compare.add_argument(
        "--solvers",
        type=_solver_list,
        default=list(DEFAULT_SOLVERS),
        metavar="LIST",
        help="comma-separated solvers to run, or 'all' "
        f"(default: {','.join(DEFAULT_SOLVERS)})",
    )
    compare.add_argument(
        "--max-iter",
        type=_positive_int,
        metavar="N",
        help="epoch budget of every skgd model and MLP reference "
        "(default: each estimator's)",
    )
    compare.add_argument(
        "--random-state",
        type=_seed,
        default=0,
        metavar="SEED",
        help="seed of the split and of every estimator (default: 0)",
    )
    compare.add_argument(
        "--blas-threads",
        type=_positive_int,
        metavar="N",
        help="limit the BLAS threads of every fit to N; 1 gives steadier fit "
        "times on a small or busy machine (default: leave as is)",
    )
    compare.add_argument(
        "--repeats",
        type=_positive_int,
        default=3,
        metavar="N",
        help="time each model as the fastest of up to N fits, refitting only "
        "while its fits have taken less than 1 s in all (default: 3); the "
        "fastest is the least disturbed by other processes",
    )
    compare.add_argument(
        "--plot",
        metavar="FILE.png",
        help="after the table, write a figure of the training loss per epoch "
        "of every skgd model: one panel per estimator, comparing its solvers "
        f"(needs matplotlib: {PLOT_INSTALL})",
    )
    compare.set_defaults(run=_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skgd`` command line.

    ``skgd compare`` fits every solver of :class:`~skgd.GDRegressor` and
    :class:`~skgd.GDMLPRegressor` (or, with ``--task classify``,
    :class:`~skgd.GDClassifier` and :class:`~skgd.GDMLPClassifier`) beside
    scikit-learn's reference estimators and prints one table, a block of rows
    per estimator; ``skgd compare --help`` lists the options and the settings
    used.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status: 0 on success.

    Raises
    ------
    SystemExit
        With status 2 on a usage or data error (a missing file or column, a
        non-numeric feature, a target that does not suit the task, too few
        rows...), after a one-line message ``skgd: error: ...`` on stderr;
        with status 0 after ``--help`` or ``--version``.

    See Also
    --------
    skgd.GDRegressor : Compared with LinearRegression by ``--task regress``.
    skgd.GDMLPRegressor : Compared with MLPRegressor by ``--task regress``.
    skgd.GDClassifier : Compared with LogisticRegression by ``--task classify``.
    skgd.GDMLPClassifier : Compared with MLPClassifier by ``--task classify``.

    Examples
    --------
    >>> from skgd.__main__ import main
    >>> main(["compare", "--estimator", "linear", "--solvers", "gd"])
    ... # doctest: +ELLIPSIS
    skgd compare --task regress --estimator linear
    data:    diabetes (scikit-learn), 442 rows x 10 features
    ...
    GDRegressor gd ...
    0
    """
    args = _build_parser().parse_args(argv)
    try:
        args.run(args)
    except CLIError as exc:
        print(f"skgd: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("skgd: interrupted", file=sys.stderr)
        return 130
    return 0
