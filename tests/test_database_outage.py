"""The database goes away mid-workshop and comes back: a vote meanwhile is refused with a clear
message, the server keeps serving, and once the database is reachable again votes are stored.

No mock: PostgreSQL is reached through a small TCP forwarder that the test cuts and restores,
as a network fault or a database restart would."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tests.apps import close_app, ready_app
from tests.helpers import PASSPHRASE, PG_HINT, last, log_in, received, require_service
from tests.services import Forwarder
from voting.assessments import SessionSpec, create_assessment, create_session
from voting.database import Database, get_database
from voting.live.events import DATABASE_UNAVAILABLE, socketio
from voting.models import Vote, VoteHistory, VotingSession

pytestmark = pytest.mark.services


@pytest.fixture
def outage_app(tmp_path: Any) -> Iterator[tuple[Flask, Forwarder, str]]:
    url = os.environ.get("VOTING_TEST_DATABASE_URL")
    if not url:
        require_service(PG_HINT)
    assert url is not None
    direct = Database(url)
    try:
        direct.drop_schema()
    except Exception as exc:
        require_service(f"PostgreSQL at {url} is not reachable: {exc}")
    finally:
        direct.dispose()
    parsed = make_url(url)
    forwarder = Forwarder(parsed.host or "127.0.0.1", parsed.port or 5432)
    forwarded = parsed.set(host="127.0.0.1", port=forwarder.port).render_as_string(
        hide_password=False
    )
    app = ready_app(
        {
            "TESTING": True,
            "DATABASE_URL": forwarded,
            "FACILITATOR_PASSPHRASE": PASSPHRASE,
            "SECRET_KEY": "outage",
            "ASYNC_MODE": "threading",
            "TALLY_INTERVAL": 0,
            "INSTANCE_DIR": str(tmp_path),
        }
    )
    try:
        yield app, forwarder, url
    finally:
        forwarder.close()
        close_app(app)


def open_culture(app: Flask) -> tuple[int, str, Any]:
    """An assessment with one live session whose Culture strand is open: (session id, join code,
    the console that opened it, kept connected)."""
    with app.app_context():
        framework = app.extensions["voting_frameworks"]["early-help-2016"]
        aid = create_assessment(get_database(), "Devon", "2017", framework, [])
        sid = create_session(
            get_database(),
            aid,
            SessionSpec("Forum", None, "mixed", "", ["culture"], "live", None, False),
        )
        with get_database().read() as db:
            code = db.get(VotingSession, sid).join_code  # type: ignore[union-attr]
    http = app.test_client()
    log_in(http)
    console = socketio.test_client(
        app, flask_test_client=http, auth={"role": "console", "session_id": sid}
    )
    assert console.emit("control", {"action": "open", "strand": "culture"}, callback=True)["ok"]
    return sid, code, console


def _counts(url: str) -> tuple[int, int]:
    database = Database(url)
    try:
        with database.read() as db:
            return (
                db.scalar(select(func.count()).select_from(Vote)) or 0,
                db.scalar(select(func.count()).select_from(VoteHistory)) or 0,
            )
    finally:
        database.dispose()


def test_votes_are_refused_while_the_database_is_away_and_stored_once_it_is_back(
    outage_app: tuple[Flask, Forwarder, str],
) -> None:
    app, forwarder, direct_url = outage_app
    _sid, code, console = open_culture(app)
    phone = socketio.test_client(app, auth={"role": "phone", "code": code})
    assert last(received(phone), "joined")["new"]
    assert phone.emit("vote", {"strand": "culture", "level": 2}, callback=True)["ok"]

    forwarder.cut()
    away = phone.emit("vote", {"strand": "culture", "level": 4}, callback=True)
    assert away == {"ok": False, "error": DATABASE_UNAVAILABLE}
    assert phone.is_connected() and console.is_connected()
    assert app.test_client().get("/").status_code == 200  # pages without the database serve
    assert _counts(direct_url) == (1, 1)  # nothing half-written

    forwarder.restore()
    back = phone.emit("vote", {"strand": "culture", "level": 4}, callback=True)
    assert back["ok"] and back["vote"]["level"] == 4
    assert _counts(direct_url) == (1, 2)


def test_a_full_disk_refuses_the_vote_clearly_and_voting_resumes_when_there_is_room(
    tmp_path: Any,
) -> None:
    """SQLite's `max_page_count` caps the database file at its present size: the next write
    fails with SQLITE_FULL, exactly as on a full disk. Lifting the cap is the disk freed."""
    from sqlalchemy import event

    app = ready_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'voting.sqlite3'}",
            "FACILITATOR_PASSPHRASE": PASSPHRASE,
            "SECRET_KEY": "full",
            "ASYNC_MODE": "threading",
            "TALLY_INTERVAL": 0,
            "INSTANCE_DIR": str(tmp_path),
        }
    )
    try:
        sid, code, _console = open_culture(app)
        phones = [socketio.test_client(app, auth={"role": "phone", "code": code}) for _ in range(2)]
        engine = get_database(app).engine

        def full(dbapi_connection: Any, _record: Any) -> None:
            pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        event.listen(engine, "connect", full)
        engine.dispose()
        # Enough changed votes (each a history row with a long comment) to need a new page.
        refusals = [
            p.emit("vote", {"strand": "culture", "level": 2, "comment": "x" * 500}, callback=True)
            for p in phones
            for _ in range(15)
        ]
        assert {"ok": False, "error": DATABASE_UNAVAILABLE} in refusals
        assert all(p.is_connected() for p in phones)

        event.remove(engine, "connect", full)
        engine.dispose()
        for p in phones:
            assert p.emit("vote", {"strand": "culture", "level": 3}, callback=True)["ok"]
        with get_database(app).read() as db:
            levels = db.scalars(select(Vote.level).where(Vote.session_id == sid)).all()
        assert sorted(levels) == [3, 3]
    finally:
        close_app(app)
