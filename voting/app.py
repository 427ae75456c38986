"""The application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, abort, render_template, request
from flask_compress import Compress
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, ServiceUnavailable
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from voting import database, frameworks
from voting.access import auth
from voting.config import Config, shipped_folder
from voting.facilitator import facilitate, records
from voting.live import compression, events, participate
from voting.live.staticfiles import StaticFiles
from voting.reporting import reports

log = logging.getLogger(__name__)
# Row ids are 32-bit integers in every supported database (SQLite's are 64-bit, PostgreSQL's
# `integer` 32): a larger id in an address is no row, so a 404, not a driver overflow (a 500).
MAX_ROW_ID = 2**31 - 1

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)
SECURITY_HEADERS = [
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
]


def build_app(config: dict[str, Any] | None = None) -> Flask:
    settings = Config().as_dict()
    settings.update(config or {})
    Config.validate(settings)
    app = Flask(
        "voting",
        static_folder=str(shipped_folder("static")),
        template_folder=str(shipped_folder("templates")),
        instance_path=str(settings["INSTANCE_DIR"]),
    )
    app.config.from_mapping(settings)
    # Pages go out compressed (gzip or deflate; br or zstd over HTTPS): the voting page is about
    # a third of its size on the wire, which a phone on slow venue Wi-Fi feels. Static files are
    # compressed once, by StaticFiles below.
    Compress(app)
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    database.init_app(app)
    auth.init_app(app)
    _load_frameworks(app)
    app.register_blueprint(participate.bp)
    app.register_blueprint(facilitate.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(records.bp)
    events.init_app(app)
    compression.decline_websocket_compression(app)
    # Outside Flask and Socket.IO: a phone's scripts and styles cost neither (staticfiles.py).
    app.wsgi_app = StaticFiles(  # type: ignore[method-assign]
        app.wsgi_app, lambda: app.static_folder or "", SECURITY_HEADERS
    )
    app.before_request(_refuse_nul_in_fields)
    if app.config.get("PROXY_COUNT"):
        # Outermost, so that Socket.IO handshakes see the client's address too (rate limits).
        # (Flask documents wrapping wsgi_app this way; mypy sees it as assigning to a method.)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["PROXY_COUNT"]))  # type: ignore[method-assign]
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_unavailable)
    return app


def prepare(app: Flask) -> None:
    """Start-up work, done where the server (or a command) starts rather than in the factory:
    bring the schema up to date, then load or make the stored secrets."""
    database.get_database(app).upgrade()
    auth.load_secrets(app)


class RowIdConverter(IntegerConverter):
    """`<int:…>` in every route, bounded to the ids a table can hold."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


def _refuse_nul_in_fields() -> None:
    """No form field or query value of any page may hold NUL: no page asks for one, and
    PostgreSQL cannot store it (the insert would fail as a 500). Refused once, here, for every
    form, before anything reads it. (Werkzeug already turns invalid UTF-8 into U+FFFD.)"""
    for values in (request.args, request.form):
        if any("\x00" in value for items in values.listvalues() for value in items):
            abort(400, description="A field contains a character that is not allowed (NUL).")


def _load_frameworks(app: Flask) -> None:
    found, errors = frameworks.discover(app.config["FRAMEWORK_DIRS"])
    if frameworks.DEFAULT_FRAMEWORK_ID not in found:
        raise RuntimeError(
            f"The built-in framework {frameworks.DEFAULT_FRAMEWORK_ID!r} did not load: "
            + "; ".join(errors)
        )
    for error in errors:
        log.warning("Framework file skipped: %s", error)
    app.extensions["voting_frameworks"] = found
    app.extensions["voting_framework_errors"] = errors


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)
    return response


def _database_unavailable(_error: OperationalError) -> tuple[str, int, dict[str, str]]:
    """A page that needed the database while it is down or stalled (past DATABASE_TIMEOUT):
    a clear 503, never a 500 or a wait without end."""
    log.warning("a page was refused: the database cannot be reached")
    page, status = _http_error(
        ServiceUnavailable(
            "The server cannot reach its database just now. Nothing was changed; "
            "please try again in a moment."
        )
    )
    return page, status, {"Retry-After": "5"}


def _http_error(error: HTTPException) -> tuple[str, int]:
    return render_template("error.html", error=error), error.code or 500
