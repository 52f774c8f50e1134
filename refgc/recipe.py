"""Recipes: one TOML file that records how a model is made, run by ``refgc build``.

A recipe is a list of ``[[step]]`` tables, run in order. Each step is one ``refgc``
command, named by ``command``; its other keys are that command's options, spelled as on
the command line without the dashes (``n_insertion`` or ``n-insertion`` for
``--n-insertion``), and its positional arguments by their names (``slab``, ``data``,
``model``, ``results``)::

    [[step]]
    command = "data"
    slab = "slab.extxyz"
    species = ["Cu", "O"]
    labeller = "sevenn:7net-0"
    out = "data.extxyz"

    [[step]]
    command = "train"
    data = ["data.extxyz"]
    references = "data.references.json"
    out = "model.npz"

    [[step]]
    command = "learn"
    model = "model.npz"
    slab = "slab.extxyz"
    labeller = "sevenn:7net-0"
    rounds = 3
    mu = { O = [-2.0, -1.0, 0.0], Cu = [0.0] }
    out = "learn"

Values: a string or number is the option's value; a list, its several values; ``true``
gives a flag, ``false`` leaves it out; a table ``{X = v}`` gives ``X=v`` (lists joined
with commas), one ``--mu`` per element. Paths are relative to the recipe's folder.

Every command resumes where it stopped and never relabels what is done, so running the
recipe again continues an interrupted build, and running it when done changes nothing.
"""

import argparse
import os
import shlex
from contextlib import contextmanager
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["load_recipe", "command_lines", "build"]

COMMANDS = ("data", "train", "learn", "optimize", "validate")


def load_recipe(path):
    """The steps of the recipe file ``path``: a list of dicts, each with ``command``."""
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML ({err})") from None
    steps = document.get("step")
    if not isinstance(steps, list) or not steps or set(document) - {"step", "description"}:
        raise ValueError(f"{path}: expected [[step]] tables (and an optional description), got {sorted(document)}")
    for k, step in enumerate(steps, 1):
        if step.get("command") not in COMMANDS:
            raise ValueError(f"{path}: step {k} needs command = one of {', '.join(COMMANDS)}, "
                             f"got {step.get('command')!r}")
    return steps


def _value(v):
    return ",".join(map(str, v)) if isinstance(v, list) else str(v)


def _argv(step, subparser, where):
    """The command line of one step, its options checked against the command's parser."""
    actions = {a.dest: a for a in subparser._actions if a.dest != "help"}
    positional, optional = [], []
    for key, value in step.items():
        if key == "command":
            continue
        action = actions.get(key.replace("-", "_"))
        if action is None:
            known = ", ".join(sorted(actions))
            raise ValueError(f"{where}: refgc {step['command']} has no option {key!r} (it has {known})")
        values = value if isinstance(value, list) else [value]
        if not action.option_strings:
            positional += [str(v) for v in values]
            continue
        flag = action.option_strings[-1]
        if isinstance(value, bool):
            optional += [flag] if value else []
        elif isinstance(value, dict):
            items = [f"{k}={_value(v)}" for k, v in value.items()]
            repeated = isinstance(action, argparse._AppendAction)  # --mu O=-1 --mu Cu=0; else --candidates Cu=8 O=8
            optional += [t for item in items for t in (flag, item)] if repeated else [flag, *items]
        else:
            optional += [flag, *map(str, values)]
    return [step["command"], *positional, *optional]


def command_lines(path):
    """The ``refgc`` argument lists of the recipe ``path``'s steps, checked, in order."""
    from .cli import parser

    subparsers = next(a for a in parser()._actions if a.dest == "command").choices
    steps = load_recipe(path)
    return [_argv(step, subparsers[step["command"]], f"{path}: step {k}") for k, step in enumerate(steps, 1)]


@contextmanager
def _working_directory(folder):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def build(path, log=print):
    """Run the recipe ``path``: each step as ``refgc`` would from the recipe's folder.
    Returns 0, or the exit status of the first step that fails (later steps are not run)."""
    from .cli import main

    lines = command_lines(path)  # every step checked before any runs
    with _working_directory(Path(path).resolve().parent):
        for k, argv in enumerate(lines, 1):
            log(f"[{k}/{len(lines)}] refgc {shlex.join(argv)}")
            status = main(argv)
            if status:
                return status
    return 0
