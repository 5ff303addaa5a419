"""Every Python block of README.md runs on its own, in a fresh process."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs_alone(code, tmp_path):
    if "LossCurveDisplay" in code:
        pytest.importorskip("matplotlib")
    # a headless backend: the block may draw
    env_code = "import matplotlib\nmatplotlib.use('Agg')\n" if "Display" in code else ""
    script = tmp_path / "block.py"
    script.write_text(env_code + code, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-W", "ignore", str(script)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    if "# True" in code:
        assert "True" in run.stdout and "False" not in run.stdout
