"""Sphinx configuration of refgc's documentation site.

Build it with ``pip install ".[docs]"`` and ``sphinx-build -W -b html docs docs/_build/html``.
The tutorials (jupytext "percent" scripts in ``tutorials/``) are copied into ``docs/tutorials``
and executed by MyST-NB as notebooks, so the site shows their output and figures. Set
``REFGC_SMOKE=1`` for the short loops that CI uses; without it the tutorials run in full
(about half an hour on two cores), and jupyter-cache reruns only the ones that changed.
"""

import importlib.util
import os
import shutil
from pathlib import Path

import refgc

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

project = "refgc"
author = "the refgc authors"
copyright = "the refgc authors, MIT licence"
version = release = refgc.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinxarg.ext",
]

# The tutorials live beside the package so that the tests run them; the site gets a copy.
# Their helper modules are copied too (the notebooks import them) but are not pages.
TUTORIALS = HERE / "tutorials"
TUTORIALS.mkdir(exist_ok=True)
for source in sorted((ROOT / "tutorials").glob("*.py")):
    target = TUTORIALS / source.name
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)  # unchanged copies keep their time stamp: no re-execution
HELPERS = ["tutorials/top_view.py", "tutorials/torch_schnet.py"]

exclude_patterns = ["_build", "jupyter_execute", "*.py", *HELPERS, "**/.ipynb_checkpoints"]
source_suffix = {".md": "myst-nb", ".py": "myst-nb"}
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}

# Execution: in the tutorials' folder (they import their helpers), figures beside the build.
nb_execution_mode = "cache"
nb_execution_cache_path = str(HERE / "_build" / ".jupyter_cache")
nb_execution_timeout = -1
nb_execution_raise_on_error = True
nb_execution_show_tb = True
# Tutorial 6 checks a PyTorch implementation: without torch (as in CI) its page shows the code
# without output rather than failing the build.
if importlib.util.find_spec("torch") is None:
    nb_execution_excludepatterns = ["tutorials/06_cross_check.py"]
    print("refgc docs: torch is not installed, so tutorial 6 is shown without executing it")
nb_output_stderr = "remove"  # tqdm.auto warns that ipywidgets is missing; the tutorials print to stdout
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
os.environ.setdefault("REFGC_FIGURES", "../_build/tutorial-figures")  # relative to the tutorials, where they run

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True

html_theme = "furo"
html_title = f"refgc {release}"
html_static_path = ["_static"]
