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
from voting.database import get_database
from voting.live import events


def ready_app(settings: dict[str, Any] | None = None) -> Flask:
    app = create_app(settings)
    prepare(app)
    return app


def close_app(app: Flask) -> None:
    """The end of a test's app: its screens forgotten, then its database connections closed.
    Test-client screens are never disconnected; without the first step the app's login sweep
    would go on querying a database that is dropped or unreachable by then, and print a
    "login sweep failed" traceback after the test run (events.forget_app)."""
    events.forget_app(app)
    get_database(app).dispose()


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
