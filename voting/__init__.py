"""Live voting for early help maturity-model workshops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The one place the version is written: setup.cfg reads it, `voting --version` prints it.
__version__ = "0.1.0"

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application. It does no start-up work: the `voting` commands call
    `voting.app.prepare` on it (migrations, stored secrets) before using it.

    The factory lives in `voting.app` and is imported here, not at module level, so that the
    server entry point can monkey-patch eventlet or gevent before Flask and its friends load.
    """
    from voting.app import build_app

    return build_app(config)
