"""The README's Python example runs as written."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).parent.parent / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    assert np.isfinite(scope["dG"]) and scope["dG_dq"].shape == (len(scope["atoms"]),)
    assert (tmp_path / "model.npz").exists()
