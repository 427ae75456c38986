"""Bad input on every Socket.IO event gets a clear message back to its sender, changes nothing,
and leaves the server serving everybody else."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.helpers import control, phone, screen, vote
from voting.database import get_database
from voting.live.events import DATABASE_UNAVAILABLE, SERVER_FAULT
from voting.models import Participant, StrandState, Vote, VoteHistory, VotingSession

BAD_VOTES: list[tuple[Any, str]] = [
    (None, "Enter a strand."),
    ("a string", "A vote must be an object with named fields."),
    ([1, 2], "A vote must be an object with named fields."),
    ({"level": 2}, "Enter a strand."),
    ({"strand": "culture"}, "The level must be a whole number."),
    ({"strand": "culture", "level": "high"}, "The level must be a whole number."),
    ({"strand": "culture", "level": "--3"}, "The level must be a whole number."),
    ({"strand": "culture", "level": "٣"}, "The level must be a whole number."),
    ({"strand": "culture", "level": True}, "The level must be a whole number."),
    ({"strand": "culture", "level": 2.5}, "The level must be a whole number."),
    ({"strand": "culture", "level": 0}, "The level must be between 1 and 4."),
    ({"strand": "culture", "level": 5}, "The level must be between 1 and 4."),
    ({"strand": "culture", "level": 10**30}, "The level must be between 1 and 4."),
    ({"strand": "no-such-strand", "level": 2}, "That strand is not part of this session."),
    ({"strand": "strategy", "level": 2}, "That strand is not part of this session."),
    ({"strand": ["culture"], "level": 2}, "A strand must be text."),
    ({"strand": "x" * 100_000, "level": 2}, "A strand must be 40 characters or fewer."),
    (
        {"strand": "culture", "level": 2, "comment": "y" * 501},
        "The comment must be 500 characters or fewer.",
    ),
    ({"strand": "culture", "level": 2, "comment": {"a": 1}}, "The comment must be text."),
    (
        {"strand": "culture", "level": 2, "comment": "nul\x00byte"},
        "The comment contains a character that is not allowed.",
    ),
    (
        {"strand": "culture", "level": 2, "client_vote_id": "z" * 65},
        "The vote id must be 64 characters or fewer.",
    ),
]


def snapshot(app: Flask) -> tuple[int, ...]:
    with get_database(app).read() as db:
        counts = tuple(
            db.scalar(select(func.count()).select_from(model)) or 0
            for model in (Vote, VoteHistory, Participant)
        )
        statuses = tuple(db.scalars(select(StrandState.status).order_by(StrandState.id)))
        session = db.scalars(select(VotingSession)).one()
        return (
            *counts,
            hash(statuses),
            hash((session.status, session.current_strand, session.show_results)),
        )


@pytest.fixture
def open_culture(app: Flask, facilitator: FlaskClient, live_session: VotingSession) -> Any:
    console = screen(app, facilitator, "console", live_session.id)
    control(console, action="open", strand="culture")
    return console


def test_every_bad_vote_is_refused_with_a_message_and_changes_nothing(
    app: Flask, live_session: VotingSession, open_culture: Any
) -> None:
    p = phone(app, live_session.join_code)
    bystander = phone(app, live_session.join_code)
    before = snapshot(app)
    for payload, message in BAD_VOTES:
        ack = p.emit("vote", payload, callback=True)
        assert ack == {"ok": False, "error": message}, payload
        assert p.is_connected()
    assert snapshot(app) == before
    # Everyone else carries on.
    assert vote(bystander, "culture", 3)["ok"]
    assert vote(p, "culture", 2, comment="  trimmed  ")["vote"]["comment"] == "trimmed"


def test_bad_profiles_are_refused(app: Flask, live_session: VotingSession) -> None:
    p = phone(app, live_session.join_code)
    before = snapshot(app)
    cases = [
        ({"role": "king"}, "Choose your role level from the list."),
        ({"sector": "Pirates"}, "Choose your sector from the list."),
        ({"locality": "Atlantis"}, "Choose your locality from the list."),
        ({"role": 7}, "Your role level must be text."),
        ("strategic", "A profile must be an object with named fields."),
    ]
    for payload, message in cases:
        assert p.emit("profile", payload, callback=True) == {"ok": False, "error": message}
    assert snapshot(app) == before


def test_bad_control_events_are_refused_and_change_nothing(
    app: Flask, live_session: VotingSession, open_culture: Any
) -> None:
    console = open_culture
    before = snapshot(app)
    cases = [
        ({}, "Enter an action."),
        ({"action": "explode"}, "Choose an action from the list."),
        ({"action": "open"}, "Enter a strand."),
        ({"action": "open", "strand": "strategy"}, "That strand is not part of this session."),
        ({"action": "open", "strand": "culture"}, "Voting on Culture is already open."),
        ({"action": "close", "strand": "leadership"}, "Voting on Leadership is not open."),
        ({"action": "results"}, "Show must be true or false."),
        ({"action": "results", "show": "yes"}, "Show must be true or false."),
        (
            {"action": "reveal", "strand": "culture", "reveal": True},
            "Close voting on Culture before revealing the desk rating, so that it cannot anchor "
            "the room's votes.",
        ),
        ({"action": "reveal", "strand": "culture"}, "Reveal must be true or false."),
        ({"action": "next"}, "This is already the last strand."),
        ("open", "The request must be an object with named fields."),
    ]
    for payload, message in cases:
        ack = console.emit("control", payload, callback=True)
        assert ack == {"ok": False, "error": message}, payload
    assert snapshot(app) == before
    control(console, action="close", strand="culture")
    no_desk = control(console, action="goto", strand="leadership")
    assert no_desk["ok"]


def test_reveal_without_a_desk_rating_is_refused(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    from tests.helpers import make_session

    session = make_session(app, assessment_id, strand_keys=["strategy"])
    console = screen(app, facilitator, "console", session.id)
    ack = control(console, action="reveal", strand="strategy", reveal=True)
    assert ack == {"ok": False, "error": "No desk rating is recorded for Strategy yet."}


def test_unknown_events_and_bad_connections_do_not_disturb_others(
    app: Flask, live_session: VotingSession, open_culture: Any
) -> None:
    from voting.live.events import socketio

    p = phone(app, live_session.join_code)
    p.emit("no_such_event", {"x": 1})
    for auth in (
        {"role": "phone"},
        {"role": "phone", "code": 12345},
        {"role": "phone", "code": "x" * 10_000},
        {"role": "console", "session_id": "1"},
        "phone",
        [1, 2],
    ):
        refused = socketio.test_client(app, auth=auth)
        assert not refused.is_connected()
    assert vote(p, "culture", 1)["ok"]


def test_a_database_fault_is_reported_to_the_sender_and_the_server_recovers(
    app: Flask, live_session: VotingSession, open_culture: Any
) -> None:
    """A real database error inside the vote path (the votes table vanishes) gets a polite
    refusal; once the table is back, the next vote is stored."""
    from sqlalchemy import text

    p = phone(app, live_session.join_code)
    with get_database(app).write() as db:
        db.execute(text("ALTER TABLE votes RENAME TO votes_away"))
    try:
        ack = vote(p, "culture", 2)
        # SQLite reports the missing table as an OperationalError (the "database unavailable"
        # answer), PostgreSQL as a programming error (the general one): both refuse clearly.
        assert ack["ok"] is False and ack["error"] in (SERVER_FAULT, DATABASE_UNAVAILABLE)
        assert p.is_connected()
    finally:
        with get_database(app).write() as db:
            db.execute(text("ALTER TABLE votes_away RENAME TO votes"))
    assert vote(p, "culture", 2)["ok"]
    with get_database(app).read() as db:
        assert db.scalar(select(func.count()).select_from(VoteHistory)) == 1
