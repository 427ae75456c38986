"""Helpers shared by the tests that drive the app in process: log in, post a form with its CSRF
token, make a session, connect Socket.IO test clients as phones and screens, send console
actions and votes, read what arrived, and snapshot every table. Fixtures live in conftest.py.
"""

from __future__ import annotations

import os
import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from socketio import packet
from sqlalchemy import select

from voting.assessments import SessionSpec, create_session
from voting.database import get_database
from voting.live.events import socketio
from voting.models import Base, VotingSession

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


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(client: FlaskClient, passphrase: str = PASSPHRASE) -> Any:
    page = client.get("/login")
    return client.post(
        "/login", data={"passphrase": passphrase, "csrf_token": csrf_from(page.get_data(True))}
    )


def post_form(client: FlaskClient, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """POST a form the way a browser does: with the CSRF token of the page it came from."""
    page = client.get(url)
    return client.post(url, data={**data, "csrf_token": csrf_from(page.get_data(True))}, **kwargs)


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


def dump(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: "unchanged" means exactly that."""
    with get_database(app).read() as db:
        return {
            table.name: [
                tuple(row) for row in db.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


class RecordingClient(SocketIOTestClient):
    """The Flask-SocketIO test client drops a refused connection's message; keep it."""

    refusal: Any = None

    def connect(
        self,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
    ) -> None:
        server = self.socketio.server
        original = server._send_packet

        def record(eio_sid: str, pkt: Any) -> Any:
            if eio_sid == self.eio_sid and pkt.packet_type == packet.CONNECT_ERROR:
                self.refusal = pkt.data
            return original(eio_sid, pkt)

        server._send_packet = record
        try:
            super().connect(namespace, query_string, headers, auth)
        finally:
            server._send_packet = original
