"""Every gallery example runs to completion and prints its results.

The examples run in a fresh interpreter each (so matplotlib's backend and
warning filters do not leak), in quick mode (``SKGD_EXAMPLES_QUICK=1``) and
with single-threaded BLAS: on a small shared machine, multi-threaded BLAS on
tiny matrices costs more than it saves.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# lines (regular expressions) each example must print
EXPECTED = {
    "plot_dask_fit.py": [
        r"X: 150,000 x 125 float64 = 150 MB in 6 chunks of 25 MB",
        r"gd: 3 epochs in \d+\.\d s, relative coefficient error \d\.\de-0[23], "
        r"client memory \+\d+ MB",
        r"sgd: \d epochs in \d+\.\d s, relative coefficient error \d\.\de-0[23]",
        r"a dask array: True, 6 chunks",
        r"R2 of gd: 0\.9\d{3}",
    ],
    "plot_solver_comparison.py": [
        r"optimal objective \(half the training MSE\): \d+\.\d+",
        r"LinearRegression\s+-\s+0\.5\d+\s+0",
        r"gd\s+\d+\s+0\.5\d+\s+\S+",
        r"sgd\s+\d+\s+0\.5\d+\s+\S+",
        r"adam\s+\d+\s+0\.5\d+\s+\S+",
    ],
    "plot_mlp_training.py": [
        r"solver='adam', learning_rate_init=0\.003",
        r"epoch\s+20\s+loss \d\.\d{4}\s+test accuracy 0\.\d{4}",
        r"gd\s+20\s+\d\.\d{4}\s+0\.\d{4}",
        r"sgd\s+20\s+\d\.\d{4}\s+0\.\d{4}",
        r"adam\s+20\s+\d\.\d{4}\s+0\.\d{4}",
    ],
    "plot_all_solvers.py": [
        r"minimum objective \(LinearRegression\): \d+\.\d+",
        *(
            rf"{s}: final objective\s+\d+\.\d+, relative coef error \d\.\de[+-]\d+"
            for s in ("gd", "sgd", "adam")
        ),
        *(
            rf"{s}: final log-loss \d\.\d{{4}}, training accuracy [01]\.\d{{3}}"
            for s in ("gd", "sgd", "adam")
        ),
    ],
    "grid_search_schedule.py": [
        r"best parameters: \{'gdregressor__learning_rate': '\w+', "
        r"'gdregressor__learning_rate_init': 0\.\d+\}",
        r"best cross-validated R²: 0\.\d{4}",
        r"cosine\s+0\.\d{4}\s+0\.\d{4}",
    ],
}


def _run(args, tmp_path):
    env = {
        **os.environ,
        "SKGD_EXAMPLES_QUICK": "1",
        "SKGD_EXAMPLES_SAVE": str(tmp_path),
        "MPLBACKEND": "Agg",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_every_example_has_expected_output():
    """A new example must come with the lines its test looks for."""
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_and_prints_results(name, tmp_path):
    out = _run([str(EXAMPLES / name)], tmp_path)
    for pattern in EXPECTED[name]:
        assert re.search(pattern, out), f"{pattern!r} not in output:\n{out}"
    if _has_matplotlib():
        assert (tmp_path / name.replace(".py", ".png")).is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_without_matplotlib(name, tmp_path):
    """The plots are optional: without matplotlib the example still runs."""
    hide = (
        "import runpy, sys; sys.modules['matplotlib'] = None; "
        f"runpy.run_path({str(EXAMPLES / name)!r}, run_name='__main__')"
    )
    out = _run(["-c", hide], tmp_path)
    assert "matplotlib is not installed: no figure" in out
    assert not list(tmp_path.glob("*.png"))


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
