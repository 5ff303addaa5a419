"""The command line: ``skgd compare`` tables, CSV input and one-line errors."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator

import skgd
from skgd import _cli
from skgd.__main__ import main
from skgd._optimizers import SOLVERS


def _blocks(out: str) -> list[dict[str, dict[str, str]]]:
    """The table of ``skgd compare`` output, one {model: {header: cell}} per
    row set (blocks of rows between blank lines, up to the legend)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("model "))
    headers = re.split(r"\s{2,}", lines[start].strip())
    blocks: list[dict[str, dict[str, str]]] = [{}]
    for line in lines[start + 1 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if not line.strip():
            blocks.append({})
        elif len(cells) < 2:  # the legend
            break
        else:
            blocks[-1][cells[0]] = dict(zip(headers, cells, strict=False))
    return [block for block in blocks if block]


def _rows(out: str) -> dict[str, dict[str, str]]:
    """The table of ``skgd compare`` output as {model: {header: cell}}."""
    rows = {}
    for block in _blocks(out):
        assert not set(rows) & set(block), "a model name repeats"
        rows.update(block)
    return rows


def _names(estimator: str, solvers=SOLVERS) -> list[str]:
    return [f"{estimator} {solver}" for solver in solvers]


def _run(capsys, *args: str) -> str:
    assert main(["compare", *args]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def _check_numbers(row: dict[str, str], skip=("model",)) -> dict[str, float]:
    return {k: float(v) for k, v in row.items() if k not in skip and v != "-"}


def _write_csv(path, header, rows) -> str:
    lines = [",".join(header)] + [",".join(str(c) for c in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _regression_csv(tmp_path, n=40):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1]
    y = X @ [2.0, -0.5, 3.0] + 1.0 + 0.1 * rng.normal(size=n)
    # the target sits between feature columns
    rows = [[X[i, 0], y[i], X[i, 1], X[i, 2]] for i in range(n)]
    return _write_csv(tmp_path / "data.csv", ["a", "y", "b", "c"], rows)


def test_regress_default_table_has_both_row_sets_and_gd_reaches_closed_form(capsys):
    out = _run(capsys)
    linear, mlp = _blocks(out)
    assert list(linear) == [*_names("GDRegressor"), "LinearRegression"]
    assert list(mlp) == [*_names("GDMLPRegressor"), "MLPRegressor"]
    rows = _rows(out)
    for name, row in rows.items():
        values = _check_numbers(row, skip=("model", "coef dist"))
        assert values["fit time (s)"] >= 0
        if name in linear and name != "LinearRegression":
            assert float(row["coef dist"]) >= 0
    assert rows["LinearRegression"]["coef dist"] == "ref"
    assert float(rows["GDRegressor gd"]["coef dist"]) < 1e-6
    assert rows["GDRegressor gd"]["test R2"] == rows["LinearRegression"]["test R2"]
    # the MLPs have no unique weights to compare
    assert {row["coef dist"] for row in mlp.values()} == {"-"}
    assert int(rows["MLPRegressor"]["epochs"]) > 0
    assert "diabetes" in out and "GDRegressor(solver='gd'" in out
    assert "GDMLPRegressor(solver='adam', hidden_layer_sizes=(64,)" in out
    assert "regressor=MLPRegressor(hidden_layer_sizes=(64,)" in out
    assert "tol=1e-10" in out


def test_regress_solvers_max_iter_and_blas_threads_options(capsys):
    out = _run(
        capsys, "--solvers", "adam,sgd", "--max-iter", "3", "--blas-threads", "1"
    )
    rows = _rows(out)
    assert list(rows) == [
        *_names("GDRegressor", ["adam", "sgd"]),
        "LinearRegression",
        *_names("GDMLPRegressor", ["adam", "sgd"]),
        "MLPRegressor",
    ]
    # --max-iter reaches every row set, the MLP reference included
    assert all(
        int(row["epochs"]) <= 3
        for name, row in rows.items()
        if name != "LinearRegression"
    )
    # the ConvergenceWarnings become notes under the table
    assert "notes (warnings" in out
    assert "GDRegressor sgd: ConvergenceWarning" in out
    assert "MLPRegressor: ConvergenceWarning" in out
    assert "limited to 1 thread" in out


def test_classify_default_table_has_both_row_sets(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = _run(capsys, "--task", "classify", "--max-iter", "4")
    assert caught == []  # warnings are notes in the output, not spewed
    linear, mlp = _blocks(out)
    assert list(linear) == [*_names("GDClassifier"), "LogisticRegression"]
    assert list(mlp) == [*_names("GDMLPClassifier"), "MLPClassifier"]
    for name, row in {**linear, **mlp}.items():
        values = _check_numbers(row, skip=("model", "coef dist"))
        if name != "LogisticRegression":  # an exact reference: no epoch budget
            assert 1 <= values["epochs"] <= 4
        assert 0 <= values["train acc"] <= 1 and 0 <= values["test acc"] <= 1
        assert values["test log-loss"] >= 0
    assert linear["LogisticRegression"]["coef dist"] == "ref"
    assert all(float(linear[n]["coef dist"]) >= 0 for n in _names("GDClassifier"))
    assert {row["coef dist"] for row in mlp.values()} == {"-"}
    assert "digits" in out and "stratified" in out
    assert "GDClassifier(solver='gd', alpha=0.01" in out
    assert "MLPClassifier: ConvergenceWarning" in out


def test_classify_gd_lands_on_logistic_regression(capsys):
    out = _run(capsys, "--task", "classify", "--estimator", "linear", "--solvers", "gd")
    rows = _rows(out)
    assert list(rows) == ["GDClassifier gd", "LogisticRegression"]
    gd, ref = rows["GDClassifier gd"], rows["LogisticRegression"]
    assert float(gd["coef dist"]) < 1e-4
    for column in ("train acc", "test acc", "test log-loss"):
        assert gd[column] == ref[column]
    # the reference has GDClassifier's objective: C = 1 / (alpha * n_train)
    assert f"C={1 / (_cli.CLASSIFIER_ALPHA * 1257)!r}" in out


@pytest.mark.parametrize(
    ("task", "estimator", "expected"),
    [
        ("regress", "linear", ["GDRegressor adam", "LinearRegression"]),
        ("regress", "mlp", ["GDMLPRegressor adam", "MLPRegressor"]),
        ("classify", "linear", ["GDClassifier adam", "LogisticRegression"]),
        ("classify", "mlp", ["GDMLPClassifier adam", "MLPClassifier"]),
    ],
)
def test_estimator_option_keeps_one_row_set(capsys, task, estimator, expected):
    out = _run(
        capsys, "--task", task, "--estimator", estimator, "--solvers", "adam",
        "--max-iter", "2",
    )  # fmt: skip
    assert out.startswith(f"skgd compare --task {task} --estimator {estimator}\n")
    assert [list(block) for block in _blocks(out)] == [expected]


def test_csv_regression_reaches_closed_form(tmp_path, capsys):
    path = _regression_csv(tmp_path)
    out = _run(capsys, "--csv", path, "--target", "y")
    rows = _rows(out)
    assert set(rows) == {
        *_names("GDRegressor"),
        "LinearRegression",
        *_names("GDMLPRegressor"),
        "MLPRegressor",
    }
    assert float(rows["GDRegressor gd"]["coef dist"]) < 1e-6
    assert float(rows["LinearRegression"]["test R2"]) > 0.99
    assert "40 rows x 3 features" in out


def _pets_csv(tmp_path, kinds=("cat", "dog", "eel")) -> str:
    rng = np.random.RandomState(0)
    labels = np.array(kinds)[np.arange(60) % len(kinds)]
    centers = {"cat": (0.0, 0.0), "dog": (5.0, 5.0), "eel": (0.0, 5.0)}
    rows = [[*(np.array(centers[c]) + rng.normal(size=2)), c] for c in labels]
    return _write_csv(tmp_path / "pets.csv", ["x1", "x2", "kind"], rows)


def test_csv_classification_with_string_labels(tmp_path, capsys):
    path = _pets_csv(tmp_path)
    out = _run(
        capsys, "--task", "classify", "--csv", path, "--target", "kind",
        "--solvers", "gd,adam", "--max-iter", "50",
    )  # fmt: skip
    linear, mlp = _blocks(out)
    assert list(linear) == [
        *_names("GDClassifier", ["gd", "adam"]),
        "LogisticRegression",
    ]
    assert list(mlp) == [*_names("GDMLPClassifier", ["gd", "adam"]), "MLPClassifier"]
    assert float(mlp["GDMLPClassifier gd"]["train acc"]) > 0.9
    assert float(linear["GDClassifier gd"]["train acc"]) > 0.9
    assert "60 rows x 2 features" in out


@pytest.mark.parametrize("kinds", [("cat", "dog"), ("cat", "dog", "eel")])
def test_csv_classification_gd_lands_on_logistic_regression(tmp_path, capsys, kinds):
    path = _pets_csv(tmp_path, kinds)
    out = _run(
        capsys, "--task", "classify", "--csv", path, "--target", "kind",
        "--estimator", "linear", "--solvers", "gd",
    )  # fmt: skip
    rows = _rows(out)
    assert float(rows["GDClassifier gd"]["coef dist"]) < 1e-4
    assert rows["GDClassifier gd"]["test acc"] == rows["LogisticRegression"]["test acc"]


def test_diverging_fit_is_a_table_row(monkeypatch, capsys):
    monkeypatch.setitem(
        _cli.SETTINGS["GDRegressor"], "sgd", {"learning_rate_init": 1e6}
    )
    out = _run(capsys, "--estimator", "linear", "--solvers", "gd,sgd")
    rows = _rows(out)
    assert rows["GDRegressor sgd"]["epochs"].startswith("diverged: epoch 1")
    assert "Scale the features" not in out  # only the short reason
    assert float(rows["GDRegressor gd"]["coef dist"]) < 1e-6


def test_every_task_has_a_linear_and_an_mlp_row_set():
    """The row sets the issue asked for: one per estimator type."""
    covered = {
        task: [(rows.kind, rows.estimator.__name__) for rows in spec.row_sets]
        for task, spec in _cli.TASKS.items()
    }
    assert covered == {
        "regress": [("linear", "GDRegressor"), ("mlp", "GDMLPRegressor")],
        "classify": [("linear", "GDClassifier"), ("mlp", "GDMLPClassifier")],
    }


GOOD = [[i, i % 3, 2 * i + 1] for i in range(12)]
CLASSES = [[i, i % 3, "ab"[i % 2]] for i in range(12)]


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ["--target", "y"], "no such file"),
        ("DIR", ["--target", "y"], "is a directory"),
        ("", ["--target", "y"], "is empty"),
        ("\n  \n", ["--target", "y"], "is empty"),
        (b"a,y\n\xff\xfe,1\n", ["--target", "y"], "not a UTF-8 text file"),
        ((["a", "b", "y"], GOOD), ["--target", "z"], "has no column 'z'"),
        ((["a", "a", "y"], GOOD), ["--target", "y"], "column 'a' twice"),
        ((["y"], [[1]] * 12), ["--target", "y"], "no feature column"),
        ((["a", "b", "y"], []), ["--target", "y"], "has 0 data rows"),
        ((["a", "b", "y"], GOOD[:5]), ["--target", "y"], "has 5 data rows"),
        (
            (["a", "b", "y"], [*GOOD, ["x", 1, 2]]),
            ["--target", "y"],
            "column 'a' is not a number ('x')",
        ),
        ((["a", "b", "y"], [*GOOD, [1, "", 2]]), ["--target", "y"], "is empty"),
        ((["a", "b", "y"], [*GOOD, [1, "inf", 2]]), ["--target", "y"], "finite"),
        ((["a", "b", "y"], [*GOOD, [1, 2]]), ["--target", "y"], "2 fields"),
        (
            (["a", "b", "y"], [*GOOD, [1, 2, "n/a"]]),
            ["--target", "y"],
            "line 14, target 'y' is not a number ('n/a'); --task regress needs a "
            "number in every row",
        ),
        (
            (["a", "b", "y"], [[i, 1, "c"] for i in range(12)]),
            ["--task", "classify", "--target", "y"],
            "single class",
        ),
        (
            (["a", "b", "y"], [*CLASSES, [0, 0, "z"]]),
            ["--task", "classify", "--target", "y"],
            "class 'z' has a single row",
        ),
        ((["a", "b", "y"], GOOD), [], "--csv needs --target"),
        (
            (["a", "b", "y"], GOOD),
            ["--target", "y", "--drop", "a", "--drop", "b"],
            "has no feature column besides the target 'y'; dropped 'a', 'b' (--drop)",
        ),
    ],
)
def test_data_errors_exit_2_with_one_line(tmp_path, capsys, content, args, message):
    path = tmp_path / "data.csv"
    if content == "DIR":
        path = tmp_path
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        _write_csv(path, *content)
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--csv", str(path), *args])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("skgd: error: ")
    assert message in err


def test_target_without_csv_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--target", "y"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == "skgd: error: --target needs --csv\n"


@pytest.mark.parametrize(
    "args",
    [
        ["compare", "--solvers", "gd,newton"],
        ["compare", "--solvers", ","],
        ["compare", "--max-iter", "0"],
        ["compare", "--blas-threads", "two"],
        ["compare", "--repeats", "0"],
        ["compare", "--random-state", "-1"],
        ["compare", "--task", "cluster"],
        ["compare", "--estimator", "tree"],
        [],
    ],
)
def test_usage_errors_exit_2(capsys, args):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err.splitlines()[-1]


def test_python_m_skgd_compare_help():
    result = subprocess.run(
        [sys.executable, "-m", "skgd", "compare", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: skgd compare")
    # the help states the settings used and every row set
    assert "tol=1e-10" in result.stdout
    assert "--estimator {all,linear,mlp}" in result.stdout
    assert "--drop COLUMN" in result.stdout and "index=False" in result.stdout
    for name in ("GDClassifier(alpha=0.01)", "LogisticRegression", "GDMLPRegressor"):
        assert name in result.stdout
    assert "C = 1 / (alpha * n_train)" in result.stdout


# ------------------------------------------------------------ --plot FILE.png
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _capture_figures(monkeypatch) -> list:
    """The figures ``--plot`` draws, kept for the test to look at."""
    figures = []
    draw = _cli._loss_curve_figure

    def keep(*args):
        figures.append(draw(*args))
        return figures[-1]

    monkeypatch.setattr(_cli, "_loss_curve_figure", keep)
    return figures


def test_plot_writes_a_png_with_a_panel_per_row_set(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    figures = _capture_figures(monkeypatch)
    path = tmp_path / "curves.png"
    out = _run(capsys, "--solvers", "gd,adam", "--max-iter", "20", "--plot", str(path))
    # the table first, then the one line naming the file
    assert list(_rows(out)) == [
        *_names("GDRegressor", ["gd", "adam"]),
        "LinearRegression",
        *_names("GDMLPRegressor", ["gd", "adam"]),
        "MLPRegressor",
    ]
    assert out.splitlines()[-1] == f"loss curves written to {path}"
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    # one axes per row set, each comparing its solvers (no reference rows)
    (fig,) = figures
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["GDRegressor", "GDMLPRegressor"]
    for ax in fig.axes:
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert legend == ["gd", "adam"]
        assert len(ax.get_lines()) == 2


def test_plot_leaves_out_failed_fits(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    figures = _capture_figures(monkeypatch)
    monkeypatch.setitem(
        _cli.SETTINGS["GDRegressor"], "sgd", {"learning_rate_init": 1e6}
    )
    path = tmp_path / "curves.png"
    _run(
        capsys, "--estimator", "linear", "--solvers", "gd,sgd", "--plot", str(path)
    )  # fmt: skip
    (ax,) = figures[0].axes
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["gd"]
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_plot_without_matplotlib_exits_2_naming_the_extra(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    path = tmp_path / "curves.png"
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--solvers", "gd", "--plot", str(path)])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""  # refused before any fit
    assert err == 'skgd: error: --plot needs matplotlib: pip install "skgd[plot]"\n'
    assert not path.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [("curves.pnk", "cannot write .pnk files"), ("no/dir/c.png", "no such directory")],
)
def test_plot_to_an_unwritable_path_exits_2_before_fitting(
    tmp_path, capsys, name, message
):
    pytest.importorskip("matplotlib")
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--plot", str(tmp_path / name)])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err


# ------------------------------------------- --drop, pandas' index, the target
def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"skgd {skgd.__version__}\n"


def _people_csv(tmp_path) -> str:
    """The regression data with a column of names, which no model can fit."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 2))
    y = X @ [1.0, -2.0] + 0.5
    rows = [[f"p{i}", X[i, 0], y[i], X[i, 1]] for i in range(30)]
    return _write_csv(tmp_path / "people.csv", ["name", "a", "y", "b"], rows)


def _csv_error(capsys, *args: str) -> str:
    """The one line ``skgd compare ARGS`` prints on exit status 2."""
    with pytest.raises(SystemExit) as exc:
        main(["compare", *args])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    return err.removeprefix("skgd: error: ").removesuffix("\n")


def test_a_string_column_must_be_dropped_and_drop_leaves_it_out(tmp_path, capsys):
    path = _people_csv(tmp_path)
    fast = ("--estimator", "linear", "--solvers", "gd")
    assert _csv_error(capsys, "--csv", path, "--target", "y", *fast) == (
        f"{path}, line 2, column 'name' is not a number ('p0'); feature columns "
        "must be numeric: leave it out with --drop name"
    )
    out = _run(capsys, "--csv", path, "--target", "y", "--drop", "name", *fast)
    assert f"data:    {path} (target 'y'), 30 rows x 2 features\n" in out
    assert "\ncolumns: dropped 'name' (--drop)\n" in out
    assert float(_rows(out)["LinearRegression"]["test R2"]) > 0.999


def test_drop_is_repeatable_and_the_data_keeps_the_other_columns(tmp_path):
    path = _people_csv(tmp_path)
    data = _cli.load_csv(path, "y", numeric_target=True, drop=["name", "b", "name"])
    assert data.notes == ["dropped 'name', 'b' (--drop)"]
    full = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(1, 2, 3))
    np.testing.assert_array_equal(data.X, full[:, [0]])
    np.testing.assert_array_equal(data.y, full[:, 1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--drop", "nme"],
            "--drop nme: {path} has no column 'nme'; its columns: 'name', 'a', "
            "'y', 'b'",
        ),
        (
            ["--drop", "two words"],
            "--drop 'two words': {path} has no column 'two words'; its columns: "
            "'name', 'a', 'y', 'b'",
        ),
        (
            ["--drop", "name", "--drop", "y"],
            "--drop y: 'y' is the target column; --drop leaves out feature "
            "columns only",
        ),
    ],
)
def test_drop_errors_name_the_column(tmp_path, capsys, args, message):
    path = _people_csv(tmp_path)
    error = _csv_error(capsys, "--csv", path, "--target", "y", *args)
    assert error == message.format(path=path)


def test_drop_without_csv_is_an_error(capsys):
    assert _csv_error(capsys, "--drop", "a") == "--drop needs --csv"


def _frame(n=40):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1]
    y = X @ [2.0, -0.5, 3.0] + 1.0 + 0.1 * rng.normal(size=n)
    return pd.DataFrame({"a": X[:, 0], "y": y, "b": X[:, 1], "c": X[:, 2]})


def test_an_index_written_by_pandas_is_dropped_with_a_note(tmp_path, capsys):
    df = _frame()
    with_index, without = tmp_path / "with_index.csv", tmp_path / "plain.csv"
    df.to_csv(with_index)
    df.to_csv(without, index=False)
    assert with_index.read_text().startswith(",a,y,b,c\n0,")
    fast = ("--target", "y", "--estimator", "linear", "--solvers", "gd")
    out = _run(capsys, "--csv", str(with_index), *fast)
    assert "40 rows x 3 features\n" in out
    assert "\ncolumns: dropped column 1 (an index written by pandas)\n" in out
    # the same table as without the index: the row numbers are no feature
    plain = _rows(_run(capsys, "--csv", str(without), *fast))
    for name, row in _rows(out).items():
        del row["fit time (s)"], plain[name]["fit time (s)"]
        assert row == plain[name]


def test_an_unnamed_index_of_a_shuffled_frame_is_dropped(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "data.csv"
    _frame().to_csv(path)
    # read back and shuffled, the index is a column pandas calls 'Unnamed: 0'
    pd.read_csv(path).sample(frac=1, random_state=0).to_csv(path, index=False)
    assert path.read_text().startswith("Unnamed: 0,a,y,b,c\n")
    data = _cli.load_csv(str(path), "y", numeric_target=True)
    assert data.notes == ["dropped column 1 'Unnamed: 0' (an index written by pandas)"]
    assert data.X.shape == (40, 3)


@pytest.mark.parametrize(
    ("header", "first"),
    [
        ("", lambda i: 2 * i),  # a filtered frame's index: kept, it may be data
        ("", lambda i: i + 1),
        ("id", lambda i: i),  # named by the user
    ],
)
def test_a_first_column_that_is_no_pandas_range_index_is_a_feature(
    tmp_path, header, first
):
    rows = [[first(i), i % 3, 2 * i + 1] for i in range(12)]
    path = _write_csv(tmp_path / "data.csv", [header, "a", "y"], rows)
    data = _cli.load_csv(path, "y", numeric_target=True)
    assert data.notes == [] and data.X.shape == (12, 2)


def test_an_index_only_beside_the_target_leaves_no_feature(tmp_path, capsys):
    path = _write_csv(tmp_path / "data.csv", ["", "y"], [[i, i] for i in range(12)])
    assert _csv_error(capsys, "--csv", path, "--target", "y") == (
        f"{path} has no feature column besides the target 'y'; dropped column 1 "
        "(an index written by pandas)"
    )


def test_string_target_under_regress_suggests_classify(tmp_path, capsys):
    rows = [[i, i % 3, ["setosa", "virginica"][i % 2]] for i in range(12)]
    path = _write_csv(tmp_path / "iris.csv", ["a", "b", "species"], rows)
    assert _csv_error(capsys, "--csv", path, "--target", "species") == (
        "the target column 'species' holds strings (e.g. 'setosa'): use --task classify"
    )


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ([0, 1, 2.5] * 4, "e.g. '2.5' is not a whole number"),
        ([2 * i + 1 for i in range(12)], "12 distinct numbers in 12 rows"),
        ([i // 2 for i in range(11)] + [9], "7 distinct numbers in 12 rows"),
    ],
)
def test_continuous_target_under_classify_suggests_regress(
    tmp_path, capsys, target, reason
):
    rows = [[i, i % 3, t] for i, t in enumerate(target)]
    path = _write_csv(tmp_path / "data.csv", ["a", "b", "y"], rows)
    error = _csv_error(capsys, "--task", "classify", "--csv", path, "--target", "y")
    assert (
        error
        == f"the target column 'y' looks continuous ({reason}): use --task regress"
    )


@pytest.mark.parametrize(
    "target",
    [
        [0, 1, 2] * 4,  # whole numbers, few: class labels
        [0.0, 1.0] * 6,  # written as floats, still whole
        [i // 2 for i in range(12)],  # 6 classes of 2 rows: a stratified split
        ["-1.5", "x"] * 6,  # not all numbers: class names
    ],
)
def test_discrete_target_under_classify_is_accepted(tmp_path, target):
    rows = [[i, i % 3, t] for i, t in enumerate(target)]
    path = _write_csv(tmp_path / "data.csv", ["a", "b", "y"], rows)
    data = _cli.load_csv(path, "y", numeric_target=False)
    assert list(data.y) == [str(t) for t in target]


class _ScriptedFit(BaseEstimator):
    """A model whose fits take the next of ``_ScriptedFit.durations`` seconds
    on a fake clock (``_cli.time.perf_counter``)."""

    durations: list[float] = []
    clock = [0.0]

    def fit(self, X, y):
        _ScriptedFit.clock[0] += _ScriptedFit.durations.pop(0)
        return self


@pytest.mark.parametrize(
    "durations, repeats, fastest, fits",
    [
        ([0.3, 0.1, 0.2], 3, 0.1, 3),  # the fastest of three
        ([0.6, 0.5, 0.1], 3, 0.5, 2),  # 1.1 s in all: no third fit
        ([1.5, 0.1], 3, 1.5, 1),  # one fit over the budget
        ([0.3, 0.1], 1, 0.3, 1),  # --repeats 1: one fit
        ([0.2, 0.2, 0.2, 0.2, 0.1, 0.9], 5, 0.1, 5),
    ],
)
def test_fit_time_is_the_fastest_of_the_repeats_within_a_second(
    monkeypatch, durations, repeats, fastest, fits
):
    monkeypatch.setattr(_ScriptedFit, "durations", list(durations))
    monkeypatch.setattr(_ScriptedFit, "clock", [0.0])
    monkeypatch.setattr(_cli.time, "perf_counter", lambda: _ScriptedFit.clock[0])
    split = _cli._Split(None, None, None, None)
    seconds = _cli._fastest_fit(_ScriptedFit(), split, repeats)
    assert seconds == pytest.approx(fastest)
    assert len(durations) - len(_ScriptedFit.durations) == fits


def test_repeats_option_and_its_legend(capsys, monkeypatch):
    fitted = []
    original = _cli._fastest_fit
    monkeypatch.setattr(
        _cli, "_fastest_fit", lambda m, s, r: fitted.append(r) or original(m, s, r)
    )
    fast = ("--estimator", "linear", "--solvers", "gd")
    out = _run(capsys, *fast)
    assert fitted == [3, 3]  # the default, for the reference and each solver
    assert "fit time = the fastest of up to 3 fits" in out
    fitted.clear()
    out = _run(capsys, *fast, "--repeats", "1")
    assert fitted == [1, 1]
    assert "fastest" not in out
