"""The docs name what the code has: README's "Command line" section lists exactly the commands
`voting --help` offers, and docs/architecture.md and README's "Where things are" name every
module of the package. (The installed command's `--version` and every `--help` run in
tests/test_install.py.)"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from voting.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(commands.choices)


def _section(path: Path, heading: str) -> str:
    text = path.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    end = section.find("\n## ", len(heading))
    return section if end < 0 else section[:end]


def test_the_readme_lists_every_command_of_voting_help() -> None:
    section = _section(ROOT / "README.md", "## Command line")
    listed = re.findall(r"^\| `voting ([a-z-]+)", section, flags=re.MULTILINE)
    assert listed == _commands(), "README's Command line table and voting --help differ"


@pytest.mark.parametrize(
    ("doc", "heading"),
    [("docs/architecture.md", "# Architecture"), ("README.md", "## Where things are")],
)
def test_every_module_is_named_where_the_layout_is_described(doc: str, heading: str) -> None:
    section = _section(ROOT / doc, heading)
    modules = sorted(
        p.relative_to(ROOT / "voting")
        for p in (ROOT / "voting").rglob("*.py")
        if "migrations" not in p.parts and p.name != "__init__.py"
    )
    # Named as `name.py` or `name` in backticks, within the section.
    missing = [
        str(m) for m in modules if f"`{m.stem}`" not in section and f"{m.stem}.py`" not in section
    ]
    assert missing == [], f"{doc} does not name these modules: {missing}"
