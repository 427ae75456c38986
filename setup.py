"""Build step: the top-level `templates/` and `static/` folders (the source, as the layout asks)
are copied into the package, so that a wheel carries them as `voting/templates` and
`voting/static`. Everything else is in setup.cfg."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("templates", "static")
# Sources of built assets, not served: the Sass that govuk-frontend.min.css is built from.
LEFT_OUT = shutil.ignore_patterns("scss", "__pycache__", "*.pyc")


class BuildWithPages(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install serves the folders where they are
            return
        for name in SHIPPED:
            target = Path(self.build_lib) / "voting" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target, ignore=LEFT_OUT)


setup(cmdclass={"build_py": BuildWithPages})
