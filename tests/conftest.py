"""Fixtures in the flaskr style (`app`, `client`, `runner`), a logged-in `facilitator`, an
`assessment_id` with desk ratings and a `live_session`. The helpers the tests call (log in,
connect phones and screens, vote, send console actions...) are in tests/helpers.py.

Every test that takes `app` runs on SQLite and, when VOTING_TEST_DATABASE_URL is set, on
PostgreSQL too. With VOTING_REQUIRE_SERVICES=1 (as CI sets), a missing PostgreSQL fails the run
instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.apps import CommandRunner, close_app, ready_app
from tests.helpers import PASSPHRASE, PG_HINT, log_in, make_session, require_service
from voting.assessments import (
    DeskEntry,
    create_assessment,
    save_desk_ratings,
)
from voting.database import Database, get_database
from voting.models import VotingSession


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
    close_app(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> CommandRunner:
    return CommandRunner(app)


@pytest.fixture
def facilitator(client: FlaskClient) -> FlaskClient:
    response = log_in(client)
    assert response.status_code == 302
    return client


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


@pytest.fixture
def live_session(app: Flask, assessment_id: int) -> VotingSession:
    return make_session(app, assessment_id)
