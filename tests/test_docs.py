"""The manual keeps up with the code: every command-line option is documented, every
shipped model is named where the manual lists them, and every relative link in the
Markdown pages points at a file that exists."""

import re
from pathlib import Path

import pytest

from refgc.cli import parser
from refgc.modelfile import shipped_models

ROOT = Path(__file__).parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]


def options():
    sub = next(a for a in parser()._actions if a.dest == "command")
    for name, command in sub.choices.items():
        for action in command._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    yield name, flag


@pytest.mark.parametrize("command, flag", sorted(set(options())))
def test_every_option_is_in_the_cli_page(command, flag):
    text = (ROOT / "docs" / "cli.md").read_text()
    section = text.split(f"## refgc {command}")[1].split("\n## ")[0] if f"## refgc {command}" in text else text
    assert flag in section, f"docs/cli.md does not document refgc {command} {flag}"


@pytest.mark.parametrize("page", ["cli.md", "api.md"])
def test_every_shipped_model_is_listed(page):
    text = (ROOT / "docs" / page).read_text()
    for name in shipped_models():
        assert f"`{name}`" in text or f'`"{name}"`' in text, f"docs/{page} does not list the shipped model {name!r}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        # the site copies tutorials/ into docs/ and links them without the .py
        base = ROOT if page.parent.name == "docs" and target.startswith("tutorials/") else page.parent
        path = base / target
        assert path.exists() or path.with_suffix(".py").exists(), f"{page.name} links to {target}, which does not exist"
