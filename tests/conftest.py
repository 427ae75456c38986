"""Fixtures in the flaskr style (`app`, `client`, `runner`), plus helpers to log in, build an
assessment and connect Socket.IO test clients as phones, a presenter and a console.

Every test that takes `app` runs on SQLite and, when VOTING_TEST_DATABASE_URL is set, on
PostgreSQL too. With VOTING_REQUIRE_SERVICES=1 (as CI sets), a missing PostgreSQL fails the run
instead of skipping.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient

from tests.apps import CommandRunner, ready_app
from voting.assessments import (
    DeskEntry,
    SessionSpec,
    create_assessment,
    create_session,
    save_desk_ratings,
)
from voting.database import Database, get_database
from voting.live.events import socketio
from voting.models import VotingSession

PASSPHRASE = "test passphrase for facilitators"
PG_HINT = (
    "PostgreSQL tests need VOTING_TEST_DATABASE_URL, e.g. "
    "VOTING_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test make test"
)


def require_service(message: str) -> None:
    """Skip on a laptop; fail where CI has said the service must be there."""
    if os.environ.get("VOTING_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {message}")
    pytest.skip(message)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    url = os.environ.get("VOTING_TEST_DATABASE_URL")
    if not url:
        require_service(PG_HINT)
    assert url is not None
    database = Database(url)
    try:
        database.drop_schema()
    except Exception as exc:
        require_service(f"PostgreSQL at {url} is not reachable: {exc}")
    finally:
        # Even when the drop fails: a connection left open is a ResourceWarning in a later test.
        database.dispose()
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "FACILITATOR_PASSPHRASE": PASSPHRASE,
        "SECRET_KEY": "test secret key",
        "ASYNC_MODE": "threading",
        "TALLY_INTERVAL": 0,
        "INSTANCE_DIR": str(tmp_path),
        "PUBLIC_URL": "https://vote.example.org",
        # Tests send many events from one test client in a row; the limit has its own tests
        # (test_limits.py), and real-server tests run with the production limits.
        "EVENT_BURST": 1000,
    }


@pytest.fixture
def app(settings: dict[str, Any]) -> Iterator[Flask]:
    application = ready_app(settings)
    yield application
    get_database(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> CommandRunner:
    return CommandRunner(app)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(client: FlaskClient, passphrase: str = PASSPHRASE) -> Any:
    page = client.get("/login")
    return client.post(
        "/login", data={"passphrase": passphrase, "csrf_token": csrf_from(page.get_data(True))}
    )


@pytest.fixture
def facilitator(client: FlaskClient) -> FlaskClient:
    response = log_in(client)
    assert response.status_code == 302
    return client


def post_form(client: FlaskClient, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """POST a form the way a browser does: with the CSRF token of the page it came from."""
    page = client.get(url)
    return client.post(url, data={**data, "csrf_token": csrf_from(page.get_data(True))}, **kwargs)


@pytest.fixture
def assessment_id(app: Flask) -> int:
    with app.app_context():
        framework = app.extensions["voting_frameworks"]["early-help-2016"]
        aid = create_assessment(
            get_database(), "Hertfordshire", "2017", framework, ["North Herts", "Dacorum"]
        )
        save_desk_ratings(
            get_database(),
            aid,
            [
                DeskEntry(
                    "family-experience", 2, None, "Families still repeat their story.", "Audit"
                ),
                DeskEntry("leadership", 3, None, "Board in place.", "Minutes"),
                DeskEntry("culture", 2, 3, "Mixed picture.", "Survey"),
            ],
        )
    return aid


def make_session(app: Flask, assessment_id: int, **overrides: Any) -> VotingSession:
    spec = {
        "name": "Partnership workshop",
        "held_on": date(2017, 6, 14),
        "forum_type": "mixed",
        "locality": "North Herts",
        "strand_keys": ["family-experience", "leadership", "culture"],
        "pacing": "live",
        "closes_at": None,
        "collect_profile": True,
        **overrides,
    }
    with app.app_context():
        sid = create_session(get_database(), assessment_id, SessionSpec(**spec))
        with get_database().read() as db:
            return db.get(VotingSession, sid)  # type: ignore[return-value]


@pytest.fixture
def live_session(app: Flask, assessment_id: int) -> VotingSession:
    return make_session(app, assessment_id)


def phone(app: Flask, code: str, token: str | None = None) -> SocketIOTestClient:
    auth: dict[str, Any] = {"role": "phone", "code": code}
    if token:
        auth["token"] = token
    return socketio.test_client(app, auth=auth)


def screen(app: Flask, facilitator: FlaskClient, role: str, session_id: int) -> SocketIOTestClient:
    return socketio.test_client(
        app, flask_test_client=facilitator, auth={"role": role, "session_id": session_id}
    )


def events(client: SocketIOTestClient, name: str) -> list[Any]:
    """Every payload of the named event received since the last call (drains the queue)."""
    return [m["args"][0] for m in client.get_received() if m["name"] == name]


def received(client: SocketIOTestClient) -> list[dict[str, Any]]:
    return client.get_received()


def last(messages: list[dict[str, Any]], name: str) -> Any:
    found = [m["args"][0] for m in messages if m["name"] == name]
    assert found, f"no {name!r} message among {[m['name'] for m in messages]}"
    return found[-1]


def control(console: SocketIOTestClient, **payload: Any) -> dict[str, Any]:
    ack = console.emit("control", payload, callback=True)
    assert isinstance(ack, dict)
    return ack


def vote(phone_client: SocketIOTestClient, strand: str, level: Any, **extra: Any) -> dict[str, Any]:
    ack = phone_client.emit("vote", {"strand": strand, "level": level, **extra}, callback=True)
    assert isinstance(ack, dict)
    return ack
