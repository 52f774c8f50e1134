"""Every tutorial runs, start to end, in smoke mode (REFGC_SMOKE=1 shortens its loops)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parent.parent / "tutorials").glob("[0-9][0-9]_*.py"))


def test_there_are_tutorials():
    assert TUTORIALS, "no tutorials found"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path, tmp_path):
    env = {**os.environ, "REFGC_SMOKE": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "REFGC_FIGURES": str(tmp_path / "figures")}
    done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{path.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    if "REFGC-TUTORIAL-SKIPPED" in done.stdout:  # an optional dependency is missing; the tutorial says which
        pytest.skip(done.stdout.split("REFGC-TUTORIAL-SKIPPED:")[1].strip().splitlines()[0])
    figures = list((tmp_path / "figures").glob("*.png"))
    assert figures, f"{path.name} wrote no figure"
