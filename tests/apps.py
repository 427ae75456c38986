"""Making an app as the server does: the factory, then the start-up work (voting.app.prepare)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

from flask import Flask

from voting import create_app
from voting.app import prepare
from voting.cli import main


def ready_app(settings: dict[str, Any] | None = None) -> Flask:
    app = create_app(settings)
    prepare(app)
    return app


@dataclass(frozen=True)
class Result:
    exit_code: int
    output: str


class CommandRunner:
    """Runs `voting` commands (voting.cli) against one app's settings, capturing what they
    print: the `runner` fixture, as flaskr's runs `flask` commands."""

    def __init__(self, app: Flask) -> None:
        self.settings = {k: v for k, v in app.config.items() if k.isupper()}

    def invoke(self, args: list[str]) -> Result:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main(args, settings=self.settings)
        return Result(code, printed.getvalue())
