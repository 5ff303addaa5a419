"""The command line: ``skgd compare`` tables, CSV input and one-line errors."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

from skgd import _cli
from skgd.__main__ import main
from skgd._optimizers import SOLVERS


def _rows(out: str) -> dict[str, dict[str, str]]:
    """The table of ``skgd compare`` output as {model: {header: cell}}."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("model "))
    headers = re.split(r"\s{2,}", lines[start].strip())
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = dict(zip(headers, cells, strict=False))
    return rows


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


def test_regress_default_table_has_every_solver_and_gd_reaches_closed_form(capsys):
    out = _run(capsys)
    rows = _rows(out)
    assert set(rows) == {*SOLVERS, "LinearRegression"}
    for name, row in rows.items():
        values = _check_numbers(row, skip=("model", "coef dist"))
        assert values["fit time (s)"] >= 0
        if name != "LinearRegression":
            assert float(row["coef dist"]) >= 0
    assert rows["LinearRegression"]["coef dist"] == "ref"
    assert float(rows["gd"]["coef dist"]) < 1e-6
    assert rows["gd"]["test R2"] == rows["LinearRegression"]["test R2"]
    assert "diabetes" in out and "GDRegressor(solver='gd'" in out
    assert "tol=1e-10" in out


def test_regress_solvers_max_iter_and_blas_threads_options(capsys):
    out = _run(
        capsys, "--solvers", "adam,sgd", "--max-iter", "3", "--blas-threads", "1"
    )
    rows = _rows(out)
    assert list(rows) == ["adam", "sgd", "LinearRegression"]
    assert all(int(rows[s]["epochs"]) <= 3 for s in ("adam", "sgd"))
    # the ConvergenceWarnings become notes under the table
    assert "notes (warnings" in out
    assert "sgd: ConvergenceWarning" in out
    assert "limited to 1 thread" in out


def test_classify_default_table_has_every_solver(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = _run(capsys, "--task", "classify", "--max-iter", "4")
    assert caught == []  # warnings are notes in the output, not spewed
    rows = _rows(out)
    assert set(rows) == {*SOLVERS, "MLPClassifier"}
    for row in rows.values():
        values = _check_numbers(row)
        assert 1 <= values["epochs"] <= 4
        assert 0 <= values["train acc"] <= 1 and 0 <= values["test acc"] <= 1
        assert values["test log-loss"] >= 0
    assert "digits" in out and "stratified" in out
    assert "MLPClassifier: ConvergenceWarning" in out


def test_csv_regression_reaches_closed_form(tmp_path, capsys):
    path = _regression_csv(tmp_path)
    out = _run(capsys, "--csv", path, "--target", "y")
    rows = _rows(out)
    assert set(rows) == {*SOLVERS, "LinearRegression"}
    assert float(rows["gd"]["coef dist"]) < 1e-6
    assert float(rows["LinearRegression"]["test R2"]) > 0.99
    assert "40 rows x 3 features" in out


def test_csv_classification_with_string_labels(tmp_path, capsys):
    rng = np.random.RandomState(0)
    labels = np.array(["cat", "dog", "eel"])[np.arange(60) % 3]
    centers = {"cat": (0.0, 0.0), "dog": (5.0, 5.0), "eel": (0.0, 5.0)}
    rows = [[*(np.array(centers[c]) + rng.normal(size=2)), c] for c in labels]
    path = _write_csv(tmp_path / "pets.csv", ["x1", "x2", "kind"], rows)
    out = _run(
        capsys, "--task", "classify", "--csv", path, "--target", "kind",
        "--solvers", "gd,adam", "--max-iter", "50",
    )  # fmt: skip
    table = _rows(out)
    assert list(table) == ["gd", "adam", "MLPClassifier"]
    assert float(table["gd"]["train acc"]) > 0.9


def test_diverging_fit_is_a_table_row(monkeypatch, capsys):
    monkeypatch.setitem(_cli.SETTINGS["regress"], "sgd", {"learning_rate_init": 1e6})
    out = _run(capsys, "--solvers", "gd,sgd")
    rows = _rows(out)
    assert rows["sgd"]["epochs"].startswith("diverged: epoch 1")
    assert "Scale the features" not in out  # only the short reason
    assert float(rows["gd"]["coef dist"]) < 1e-6


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
        ((["a", "b", "y"], CLASSES), ["--target", "y"], "target 'y' is not a number"),
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
        ["compare", "--random-state", "-1"],
        ["compare", "--task", "cluster"],
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
    # the help states the settings used
    assert "tol=1e-10" in result.stdout
