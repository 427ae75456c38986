"""The package's layering is checked by import-linter (contracts in pyproject.toml, run by
`make lint`). These tests show that the check has teeth: the tree as it is passes, and a copy of
the package with one contract-breaking import added fails, naming the contract it breaks. They
also check that no module takes part in an import cycle."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import voting

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(voting.__file__).resolve().parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the `voting` package found first on the path, under `project`."""
    environment = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(project / "pyproject.toml")],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PACKAGE, project / "voting", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    return project


def test_the_package_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_unchanged_copy_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(copy_of_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "added", "contract"),
    [
        # A lower layer reaching up, even inside a function, as a late import would.
        ("access/auth.py", "import voting.live.events", "Layers"),
        ("models.py", "def late():\n    from voting.access import auth", "Layers"),
        ("reporting/charts.py", "from voting.live import snapshots", "know nothing of each other"),
        ("labels.py", "import flask", "never import Flask"),
        ("validation.py", "from flask_socketio import emit", "never import Flask"),
    ],
)
def test_a_contract_breaking_import_fails_the_check(
    tmp_path: Path, module: str, added: str, contract: str
) -> None:
    project = copy_of_project(tmp_path)
    target = project / "voting" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n\n{added}\n", encoding="utf-8")
    result = lint_imports(project)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if line.endswith(" BROKEN")]
    assert any(contract in line for line in broken), result.stdout


def test_a_module_outside_every_layer_fails_the_check(tmp_path: Path) -> None:
    """The layers are exhaustive: a new module of the package must be given its place."""
    project = copy_of_project(tmp_path)
    (project / "voting" / "stray.py").write_text('"""Placed in no layer."""\n', encoding="utf-8")
    result = lint_imports(project)
    assert result.returncode != 0, result.stdout
    assert "voting.stray" in result.stdout


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Groups of modules that import each other, directly or not (Tarjan's strongly connected
    components of the module graph, late imports included)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_is_part_of_an_import_cycle() -> None:
    assert cycles(grimp.build_graph("voting", cache_dir=None)) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from loop import b\n")
    (package / "b.py").write_text("def late():\n    from loop import c\n")
    (package / "c.py").write_text("import loop.a\n")
    (package / "d.py").write_text("import loop.a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("loop", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert cycles(graph) == [["loop.a", "loop.b", "loop.c"]]


def test_shared_test_helpers_live_in_helper_modules() -> None:
    """A test module imports helpers from helper modules (tests/helpers.py, tests/servers.py…),
    never from another test module or from conftest.py, which holds fixtures only."""
    offenders = []
    for folder in ("tests", "benchmarks", "deploy"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "vendor" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    if name == "tests.conftest" or name.startswith("tests.test_"):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert offenders == []
