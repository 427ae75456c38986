"""Self-paced sessions, restart persistence on the same database, and the coalesced tally."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from tests.apps import close_app, ready_app
from tests.helpers import control, last, log_in, make_session, phone, received, screen, vote
from voting.database import get_database
from voting.live.events import socketio
from voting.models import VotingSession, utcnow


def test_a_self_paced_session_opens_every_strand_until_its_closing_time(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    session = make_session(
        app,
        assessment_id,
        name="Online survey",
        pacing="self_paced",
        closes_at=utcnow() + timedelta(days=7),
        strand_keys=["strategy", "culture", "workforce-development"],
    )
    p = phone(app, session.join_code)
    state = last(received(p), "state")
    assert state["session"]["pacing"] == "self_paced" and state["session"]["current"] is None
    assert vote(p, "culture", 2)["ok"] is False  # not started yet

    console = screen(app, facilitator, "console", session.id)
    assert control(console, action="start")["message"].startswith("Session started: every strand")
    state = last(received(p), "state")
    assert {s["key"]: s["status"] for s in state["strands"]} == {
        "strategy": "open",
        "culture": "open",
        "workforce-development": "open",
    }
    for key, level in (("strategy", 1), ("culture", 2), ("workforce-development", 4)):
        assert vote(p, key, level)["ok"]
    # Closing one strand in a self-paced session leaves the others open.
    control(console, action="close", strand="strategy")
    assert vote(p, "strategy", 2)["ok"] is False
    assert vote(p, "culture", 3)["ok"]

    with get_database(app).write() as db:
        db.execute(
            update(VotingSession)
            .where(VotingSession.id == session.id)
            .values(closes_at=utcnow() - timedelta(seconds=1))
        )
    late = vote(p, "culture", 1)
    assert late == {"ok": False, "error": "Voting in this session closed at its closing time."}
    assert control(console, action="open", strand="strategy")["ok"] is False
    summary = last(received(screen(app, facilitator, "console", session.id)), "state")
    assert {s["key"]: s["counts"] for s in summary["strands"]} == {
        "strategy": [1, 0, 0, 0],
        "culture": [0, 0, 1, 0],
        "workforce-development": [0, 0, 0, 1],
    }
    assert summary["session"]["status"] == "ended"


def test_everything_survives_a_restart_on_the_same_database(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession, settings: dict[str, Any]
) -> None:
    console = screen(app, facilitator, "console", live_session.id)
    control(console, action="start")
    control(console, action="open", strand="leadership")
    control(console, action="results", show=True)
    phones = [phone(app, live_session.join_code) for _ in range(4)]
    tokens = [last(received(p), "joined")["token"] for p in phones]
    for p, level in zip(phones, [1, 2, 2, 4], strict=True):
        assert vote(p, "leadership", level, comment=f"level {level}")["ok"]
    for p in phones:
        p.disconnect()
    console.disconnect()
    close_app(app)

    restarted = ready_app(settings)
    try:
        http = restarted.test_client()
        log_in(http)
        again = socketio.test_client(
            restarted,
            flask_test_client=http,
            auth={"role": "console", "session_id": live_session.id},
        )
        state = last(received(again), "state")
        assert state["session"]["status"] == "running"
        assert state["session"]["current"] == "leadership"
        assert state["session"]["show_results"] is True
        assert state["joined"] == 4
        leadership = next(s for s in state["strands"] if s["key"] == "leadership")
        assert leadership["status"] == "open" and leadership["counts"] == [1, 2, 0, 1]

        back = socketio.test_client(
            restarted, auth={"role": "phone", "code": live_session.join_code, "token": tokens[3]}
        )
        messages = received(back)
        assert last(messages, "joined")["new"] is False
        assert last(messages, "me")["votes"]["leadership"] == {"level": 4, "comment": "level 4"}
        assert vote(back, "leadership", 3)["ok"]
        assert last(received(again), "tally")["counts"]["leadership"] == [1, 2, 1, 0]
    finally:
        close_app(restarted)


def test_tally_broadcasts_are_coalesced_and_the_last_vote_always_shows(
    settings: dict[str, Any], assessment_id: int
) -> None:
    coalescing = ready_app({**settings, "TALLY_INTERVAL": 0.2})
    try:
        http = coalescing.test_client()
        log_in(http)
        session = make_session(coalescing, assessment_id)
        console = socketio.test_client(
            coalescing, flask_test_client=http, auth={"role": "console", "session_id": session.id}
        )
        control(console, action="open", strand="culture")
        received(console)
        phones = [
            socketio.test_client(coalescing, auth={"role": "phone", "code": session.join_code})
            for _ in range(20)
        ]
        for i, p in enumerate(phones):
            assert vote(p, "culture", 1 + i % 2)["ok"]
        deadline = time.monotonic() + 5
        tallies: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            tallies += [m["args"][0] for m in console.get_received() if m["name"] == "tally"]
            if tallies and tallies[-1]["voted"]["culture"] == 20:
                break
            time.sleep(0.05)
        assert tallies[-1]["counts"]["culture"] == [10, 10, 0, 0]
        assert len(tallies) < 20
    finally:
        close_app(coalescing)


def test_no_new_phone_joins_after_the_closing_time(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    session = make_session(
        app, assessment_id, pacing="self_paced", closes_at=utcnow() + timedelta(hours=1)
    )
    early = phone(app, session.join_code)
    token = last(received(early), "joined")["token"]
    with get_database(app).write() as db:
        db.execute(
            update(VotingSession)
            .where(VotingSession.id == session.id)
            .values(closes_at=utcnow() - timedelta(seconds=1))
        )
    assert not phone(app, session.join_code).is_connected()
    assert phone(app, session.join_code, token=token).is_connected()
