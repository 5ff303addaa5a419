"""The ``skgd`` command line: ``skgd compare`` puts every solver beside scikit-learn.

``skgd compare`` fits :class:`~skgd.GDRegressor` (``--task regress``) or
:class:`~skgd.GDMLPClassifier` (``--task classify``) once per solver, and the
matching scikit-learn estimator, on one train/test split of a bundled data set
or of the user's CSV file, and prints one aligned table. Every model sits in a
``Pipeline`` behind a ``StandardScaler`` fitted on the training rows.

Errors in the arguments or the data end the program with a one-line message
and exit status 2; a fit that fails (e.g. diverges) becomes a row of the table;
warnings are collected and printed as notes under it.
"""

import argparse
import csv
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.datasets import load_diabetes, load_digits
from sklearn.linear_model import LinearRegression
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDMLPClassifier, GDRegressor
from skgd._optimizers import SOLVERS

try:  # installed with scikit-learn; only used by --blas-threads
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

Array = np.ndarray

# The settings each solver gets beyond the estimator's defaults and the seed.
# Full-batch 'gd' lands on the closed form in a few epochs (whitened least
# squares has the identity Hessian), so tol=1e-10 costs nothing and shows it.
# Every other solver runs at its defaults: their 'auto' rates and schedules are
# what this table is for.
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "regress": {"gd": {"tol": 1e-10}},
    "classify": {},
}
# the default run shows every solver, so a new one appears without a CLI change
DEFAULT_SOLVERS = SOLVERS
HIDDEN_LAYER_SIZES = (64,)
# fewer rows than this cannot give both a training set and a scorable test set
MIN_ROWS = 10


class CLIError(Exception):
    """A problem with the arguments or the data, reported in one line."""


@dataclass
class _Data:
    X: Array
    y: Array
    source: str


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


@dataclass(frozen=True)
class _Task:
    estimator: type
    common: dict[str, Any]
    reference: Callable[[argparse.Namespace], BaseEstimator]
    dataset: str
    load: Callable[[], tuple[Array, Array]]
    test_size: float
    stratify: bool
    headers: tuple[str, ...]
    metrics: Callable[[Pipeline, _Split, Pipeline | None], list[str]]
    legend: str


# ----------------------------------------------------------------- metrics
def _epochs(model: Pipeline) -> str:
    n_iter = getattr(model[-1], "n_iter_", None)
    return "-" if n_iter is None else str(int(n_iter))


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


def _regress_metrics(model: Pipeline, s: _Split, ref: Pipeline | None) -> list[str]:
    return [
        _epochs(model),
        f"{model.score(s.X_train, s.y_train):.4f}",
        f"{model.score(s.X_test, s.y_test):.4f}",
        f"{mean_squared_error(s.y_test, model.predict(s.X_test)):.5g}",
        _coef_distance(model, ref),
    ]


def _classify_metrics(model: Pipeline, s: _Split, ref: Pipeline | None) -> list[str]:
    proba = model.predict_proba(s.X_test)
    return [
        _epochs(model),
        f"{model.score(s.X_train, s.y_train):.4f}",
        f"{model.score(s.X_test, s.y_test):.4f}",
        f"{log_loss(s.y_test, proba, labels=model[-1].classes_):.4f}",
    ]


def _linear_regression(args: argparse.Namespace) -> BaseEstimator:
    return LinearRegression()


def _mlp_classifier(args: argparse.Namespace) -> BaseEstimator:
    params: dict[str, Any] = {"random_state": args.random_state}
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    return MLPClassifier(**TASKS["classify"].common, **params)


def _diabetes() -> tuple[Array, Array]:
    return load_diabetes(return_X_y=True)


def _digits() -> tuple[Array, Array]:
    return load_digits(return_X_y=True)


TASKS: dict[str, _Task] = {
    "regress": _Task(
        estimator=GDRegressor,
        common={},
        reference=_linear_regression,
        dataset="diabetes",
        load=_diabetes,
        test_size=0.25,
        stratify=False,
        headers=("epochs", "train R2", "test R2", "test MSE", "coef dist"),
        metrics=_regress_metrics,
        legend="coef dist = ||coef_ - coef_ref|| / ||coef_ref||, on the "
        "standardized features, against LinearRegression",
    ),
    "classify": _Task(
        estimator=GDMLPClassifier,
        common={"hidden_layer_sizes": HIDDEN_LAYER_SIZES},
        reference=_mlp_classifier,
        dataset="digits",
        load=_digits,
        test_size=0.3,
        stratify=True,
        headers=("epochs", "train acc", "test acc", "test log-loss"),
        metrics=_classify_metrics,
        legend="acc = accuracy; log-loss = mean cross-entropy of predict_proba",
    ),
}


# --------------------------------------------------------------- CSV input
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


def _number(cell: str, where: str) -> float:
    text = cell.strip()
    if not text:
        raise CLIError(f"{where} is empty; missing values are not supported")
    try:
        value = float(text)
    except ValueError:
        raise CLIError(
            f"{where} is not a number ({text!r}); feature columns must be numeric"
        ) from None
    if not np.isfinite(value):
        raise CLIError(f"{where} is {text!r}; only finite numbers are supported")
    return value


def _column_index(header: list[str], target: str, path: str) -> int:
    names = [name.strip() for name in header]
    if len(set(names)) < len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise CLIError(f"{path}: the header names column {dup!r} twice")
    if target not in names:
        shown = ", ".join(repr(n) for n in names[:8])
        more = f" and {len(names) - 8} more" if len(names) > 8 else ""
        raise CLIError(f"{path} has no column {target!r}; its columns: {shown}{more}")
    if len(names) < 2:
        raise CLIError(f"{path} has no feature column besides the target {target!r}")
    return names.index(target)


def load_csv(path: str, target: str, *, numeric_target: bool) -> _Data:
    """Read a CSV file with a header: numeric features and one target column."""
    rows, lines = _read_rows(path)
    if not rows:
        raise CLIError(f"{path} is empty")
    header, body = [c.strip() for c in rows[0]], rows[1:]
    j_target = _column_index(header, target, path)
    if len(body) < MIN_ROWS:
        raise CLIError(
            f"{path} has {len(body)} data rows; at least {MIN_ROWS} are needed "
            "to split into train and test"
        )
    features = [j for j in range(len(header)) if j != j_target]
    X = np.empty((len(body), len(features)))
    y: list[Any] = []
    for i, (row, line) in enumerate(zip(body, lines[1:], strict=True)):
        if len(row) != len(header):
            raise CLIError(
                f"{path}, line {line}: {len(row)} fields, but the header has "
                f"{len(header)}"
            )
        for k, j in enumerate(features):
            X[i, k] = _number(row[j], f"{path}, line {line}, column {header[j]!r}")
        where = f"{path}, line {line}, target {target!r}"
        if numeric_target:
            y.append(_number(row[j_target], where))
        elif not row[j_target].strip():
            raise CLIError(f"{where} is empty; every row needs a class label")
        else:
            y.append(row[j_target].strip())
    return _Data(X, np.asarray(y), f"{path} (target {target!r})")


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


def _skgd_estimator(task_name: str, solver: str, args: argparse.Namespace):
    params: dict[str, Any] = {"solver": solver, "random_state": args.random_state}
    params.update(SETTINGS.get(task_name, {}).get(solver, {}))
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    task = TASKS[task_name]
    return task.estimator(**task.common, **params)


def _short_reason(exc: Exception) -> str:
    """The first sentence of an error, without the estimator's name."""
    text = str(exc).split(". ")[0].rstrip(".")
    name, _, rest = text.partition(" diverged ")
    if rest and " " not in name:
        text = rest.removeprefix("in ")
    text = text.split(" (reference")[0]
    return text if len(text) <= 80 else text[:77] + "..."


def _fit(name: str, model: Pipeline, split: _Split, task: _Task, ref) -> _Fit:
    """Fit and score one model; errors become the row, warnings its notes."""
    result = _Fit(name, model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            model.fit(split.X_train, split.y_train)
            seconds = time.perf_counter() - start
            cells = task.metrics(model, split, ref)
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


def _table(headers: Sequence[str], fits: Sequence[_Fit]) -> list[str]:
    """Aligned rows: names left-aligned, numbers right-aligned.

    A failed fit prints its message after the name, across the number columns.
    """
    rows = [list(headers)] + [[f.name, *f.cells] for f in fits if f.error is None]
    widths = [max(len(row[j]) for row in rows) for j in range(len(headers))]
    widths[0] = max(widths[0], *(len(f.name) for f in fits))

    def line(cells: Sequence[str]) -> str:
        padded = [cells[0].ljust(widths[0])]
        padded += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(padded)

    lines = [line(headers)]
    for f in fits:
        if f.error is None:
            lines.append(line([f.name, *f.cells]))
        else:
            lines.append(f"{f.name.ljust(widths[0])}  {f.error}")
    return lines


def _report(args, data: _Data, split: _Split, fits: Sequence[_Fit]) -> str:
    task = TASKS[args.task]
    n, d = data.X.shape
    out = [
        f"skgd compare --task {args.task}",
        f"data:    {data.source}, {n} rows x {d} feature{'s' * (d != 1)}",
        f"split:   {len(split.y_train)} train / {len(split.y_test)} test rows "
        f"(test_size={task.test_size}, random_state={args.random_state}"
        f"{', stratified' if task.stratify else ''})",
        "scaling: StandardScaler fitted on the train rows, in a Pipeline with "
        "each model",
    ]
    if args.blas_threads is not None:
        out.append(f"BLAS:    limited to {args.blas_threads} thread(s)")
    out += ["", "models (estimator defaults except as shown):"]
    width = max(len(f.name) for f in fits)
    for f in fits:
        line = f"  {f.name.ljust(width)}  {_describe(f.model[-1])}"
        rate = getattr(f.model[-1], "learning_rate_init_", None)
        if f.error is None and rate is not None:
            line += f"  [learning rate used: {rate:.3g}]"
        out.append(line)
    headers = ("model", task.headers[0], "fit time (s)", *task.headers[1:])
    out += ["", *_table(headers, fits), "", task.legend]
    notes = [note for f in fits for note in f.notes]
    if notes:
        out += ["", "notes (warnings raised while fitting and scoring):"]
        out += [f"  {note}" for note in notes]
        if any("ConvergenceWarning" in note for note in notes):
            out.append("  (--max-iter raises the epoch budget of every model)")
    return "\n".join(out)


def _compare(args: argparse.Namespace) -> None:
    task = TASKS[args.task]
    if args.csv is None:
        if args.target is not None:
            raise CLIError("--target needs --csv")
        X, y = task.load()
        data = _Data(X, y, f"{task.dataset} (scikit-learn)")
    elif args.target is None:
        raise CLIError("--csv needs --target COLUMN, the column to predict")
    else:
        numeric = args.task == "regress"
        data = load_csv(args.csv, args.target, numeric_target=numeric)
    split = _split(data, task, args.random_state)
    ref_model = make_pipeline(StandardScaler(), task.reference(args))
    with _blas_limit(args.blas_threads):
        ref = _fit(type(ref_model[-1]).__name__, ref_model, split, task, ref_model)
        ref_fitted = ref_model if ref.error is None else None
        fits = []
        for solver in args.solvers:
            model = make_pipeline(
                StandardScaler(), _skgd_estimator(args.task, solver, args)
            )
            fits.append(_fit(solver, model, split, task, ref_fitted))
    print(_report(args, data, split, [*fits, ref]))


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
Fit skgd's estimator once per solver, and scikit-learn's reference, on one
train/test split, and print one table: epochs (n_iter_), fit time, train and
test scores, and for regression the distance of coef_ to LinearRegression's.

Data: --task regress uses scikit-learn's diabetes data (test_size=0.25);
--task classify its digits data (stratified, test_size=0.3). --csv PATH
--target COLUMN uses your own CSV file instead: a header row, numeric
feature columns, and a target column (numbers for regress, any labels for
classify). Every model is a Pipeline(StandardScaler(), estimator) fitted on
the train rows. Fits that fail show as a table row; warnings as notes.
"""


def _epilog() -> str:
    """The settings of every model, generated from the code that builds them."""
    lines = textwrap.wrap(
        "settings: each estimator's defaults, plus random_state=SEED, "
        "max_iter=N when --max-iter is given, and the following.",
        width=79,
    )
    for name, task in TASKS.items():
        est = task.estimator(**task.common)
        keys = ("learning_rate_init", "max_iter", "tol")
        defaults = ", ".join(f"{k}={est.get_params()[k]!r}" for k in keys)
        ref = _describe(task.reference(_HELP_ARGS), skip=("random_state",))
        text = f"{_describe(est, skip=('solver',))} per solver ({defaults}) vs {ref}"
        lines += textwrap.wrap(
            text,
            width=79,
            initial_indent=f"  {name + ':':<10}",
            subsequent_indent=" " * 12,
        )
        lines += [
            f"{'':14}{solver}: " + ", ".join(f"{k}={v!r}" for k, v in extra.items())
            for solver, extra in SETTINGS[name].items()
        ]
    auto = (
        "learning_rate_init='auto': GDRegressor takes 1/L (L the curvature in "
        "its preconditioned coordinates) for gd and sgd, and a fixed step in "
        "units of std(y) for the adaptive solvers, whose default schedule cuts "
        "the rate on plateaus; GDMLPClassifier takes a rate per solver. The "
        "rate used is printed above the table."
    )
    lines += ["", *textwrap.wrap(auto, width=79)]
    lines += ["", "Exit status: 0 on success, 2 on a usage or data error."]
    return "\n".join(lines)


_HELP_ARGS = argparse.Namespace(random_state=0, max_iter=None)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skgd",
        description="scikit-learn estimators trained by gradient descent.",
    )
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
        help="GDRegressor vs LinearRegression, or GDMLPClassifier vs "
        "MLPClassifier (default: regress)",
    )
    compare.add_argument("--csv", metavar="PATH", help="a CSV file with a header row")
    compare.add_argument("--target", metavar="COLUMN", help="the column to predict")
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
        help="epoch budget of every iterative model (default: each estimator's)",
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
    compare.set_defaults(run=_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skgd`` command line.

    ``skgd compare`` fits every solver of :class:`~skgd.GDRegressor` (or, with
    ``--task classify``, :class:`~skgd.GDMLPClassifier`) beside scikit-learn's
    reference estimator and prints one table; ``skgd compare --help`` lists the
    options and the settings used.

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
        non-numeric feature, too few rows...), after a one-line message
        ``skgd: error: ...`` on stderr; with status 0 after ``--help``.

    See Also
    --------
    skgd.GDRegressor : The linear regressor compared by ``--task regress``.
    skgd.GDMLPClassifier : The classifier compared by ``--task classify``.

    Examples
    --------
    >>> from skgd.__main__ import main
    >>> main(["compare", "--solvers", "gd"])  # doctest: +ELLIPSIS
    skgd compare --task regress
    data:    diabetes (scikit-learn), 442 rows x 10 features
    ...
    gd ...
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
