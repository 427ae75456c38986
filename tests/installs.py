"""The product as a council's IT team installs it: the wheel built from this checkout, installed
into a fresh virtualenv outside it, its dependencies from the package index. Used by
tests/test_install.py and deploy/try_local.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Left out of the copy the wheel is built from: the build then writes no build/ or *.egg-info
# into the checkout, and cannot ship a stale build/lib/ left there by an earlier build.
TOP_LEVEL_LEFT_OUT = {".git", ".venv", "build", "dist", "sessions", "test-artifacts"}
LEFT_OUT_ANYWHERE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".ruff_cache", ".mypy_cache"
)


@dataclass(frozen=True)
class Install:
    """A virtualenv with the wheel installed in it."""

    venv: Path
    wheel: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def voting(self) -> Path:
        """The `voting` command the wheel's entry point installed."""
        return self.venv / "bin" / "voting"

    def site_packages(self) -> Path:
        found = run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        )
        return Path(found.strip())


def run(command: Sequence[str]) -> str:
    """Run a build or install step; on failure, say what it printed."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return str(done.stdout)


def _left_out(folder: str, names: list[str]) -> set[str]:
    ignored = set(LEFT_OUT_ANYWHERE(folder, names))
    if Path(folder) == ROOT:
        ignored |= TOP_LEVEL_LEFT_OUT & set(names)
    return ignored


def build_wheel(workdir: Path) -> Path:
    """`pip wheel` of a clean copy of this checkout (setup.py's build step copies templates/
    and static/ into the package); returns the wheel's path."""
    source = workdir / "source"
    shutil.copytree(ROOT, source, ignore=_left_out)
    dist = workdir / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)])
    (wheel,) = dist.glob("maturity_voting-*.whl")
    return wheel


def install(wheel: Path, venv: Path, extras: Sequence[str] = ()) -> Install:
    """A fresh virtualenv at `venv` with the wheel (and these extras) installed from it."""
    run([sys.executable, "-m", "venv", str(venv)])
    requirement = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement])
    return Install(venv, wheel)
