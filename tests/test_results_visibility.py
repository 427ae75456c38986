"""Results hidden while a strand is open: no phone or presenter receives a strand's counts while
people vote on it, until voting closes or the facilitator shows them; the next strand hides
them again; the session setting "live bars while voting" sends them as votes land.

Checked on every Socket.IO message the phone and presenter clients receive (snapshots and
tallies alike), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from flask_socketio.test_client import SocketIOTestClient

from tests.helpers import control, make_session, phone, post_form, received, screen, vote
from voting.database import get_database
from voting.models import VotingSession

FAMILY, LEADERSHIP = "family-experience", "leadership"


def counts_seen(messages: list[dict[str, Any]]) -> dict[str, list[list[int]]]:
    """Every count of every strand in the messages (`state` snapshots and `tally` updates)."""
    seen: dict[str, list[list[int]]] = {}
    for message in messages:
        payload = message["args"][0] if message["args"] else None
        if not isinstance(payload, dict):
            continue
        if message["name"] == "state":
            for strand in payload["strands"]:
                if strand.get("counts") is not None:
                    seen.setdefault(strand["key"], []).append(strand["counts"])
        elif message["name"] == "tally":
            for key, counts in (payload.get("counts") or {}).items():
                seen.setdefault(key, []).append(counts)
    return seen


def _room(
    app: Flask, facilitator: FlaskClient, assessment_id: int, **session: Any
) -> tuple[Any, SocketIOTestClient, SocketIOTestClient, list[SocketIOTestClient]]:
    made = make_session(app, assessment_id, collect_profile=False, **session)
    console = screen(app, facilitator, "console", made.id)
    presenter = screen(app, facilitator, "presenter", made.id)
    phones = [phone(app, made.join_code) for _ in range(3)]
    return made, console, presenter, phones


def test_by_default_no_phone_or_presenter_receives_counts_of_an_open_strand(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    _, console, presenter, phones = _room(app, facilitator, assessment_id)
    assert control(console, action="start")["ok"]
    assert control(console, action="open", strand=FAMILY)["ok"]
    for p, level in zip(phones, [2, 2, 3], strict=True):
        assert vote(p, FAMILY, level)["ok"]
    assert vote(phones[0], FAMILY, 1)["ok"]  # a change of vote

    watched = {
        "presenter": received(presenter),
        **{f"phone{i}": received(p) for i, p in enumerate(phones)},
    }
    for name, messages in watched.items():
        assert any(m["name"] == "state" for m in messages), name
        assert counts_seen(messages) == {}, name
    # The presenter still learns how many voted (not how); the console sees everything.
    tallies = [m["args"][0] for m in watched["presenter"] if m["name"] == "tally"]
    assert tallies and tallies[-1]["voted"][FAMILY] == 3 and tallies[-1]["counts"] is None
    assert counts_seen(received(console))[FAMILY][-1] == [1, 1, 1, 0]

    # Closing voting shows the distribution to everyone.
    assert control(console, action="close", strand=FAMILY)["ok"]
    for client in (presenter, *phones):
        assert counts_seen(received(client)) == {FAMILY: [[1, 1, 1, 0]]}

    # The next strand opens hidden again.
    assert control(console, action="next")["ok"]
    assert control(console, action="open", strand=LEADERSHIP)["ok"]
    for client in (presenter, *phones):
        received(client)
    assert vote(phones[1], LEADERSHIP, 4)["ok"]
    for client in (presenter, *phones):
        assert LEADERSHIP not in counts_seen(received(client))

    # "Show results" for the strand on screen shows its counts, live from then on...
    assert control(console, action="results", show=True)["ok"]
    for client in (presenter, *phones):
        assert counts_seen(received(client))[LEADERSHIP] == [[0, 0, 0, 1]]
    assert vote(phones[2], LEADERSHIP, 3)["ok"]
    assert counts_seen(received(phones[0]))[LEADERSHIP] == [[0, 0, 1, 1]]

    # ...until the strand on screen changes: the third strand starts hidden.
    assert control(console, action="next")["ok"]
    assert control(console, action="open", strand="culture")["ok"]
    for client in (presenter, *phones):
        received(client)
    assert vote(phones[0], "culture", 2)["ok"]
    for client in (presenter, *phones):
        assert "culture" not in counts_seen(received(client))


def test_a_reopened_strand_and_a_new_round_are_hidden_again(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    _, console, presenter, phones = _room(app, facilitator, assessment_id)
    control(console, action="start")
    control(console, action="open", strand=FAMILY)
    vote(phones[0], FAMILY, 2)
    control(console, action="close", strand=FAMILY)
    for action in ("open", "revote"):
        if action == "revote":
            control(console, action="close", strand=FAMILY)
        received(presenter)
        assert control(console, action=action, strand=FAMILY)["ok"]
        assert vote(phones[1], FAMILY, 3)["ok"]
        assert FAMILY not in counts_seen(received(presenter)), action


def test_the_setting_live_bars_while_voting_sends_counts_as_votes_land(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    _, console, presenter, phones = _room(app, facilitator, assessment_id, live_results=True)
    control(console, action="start")
    control(console, action="open", strand=FAMILY)
    assert vote(phones[0], FAMILY, 2)["ok"]
    assert counts_seen(received(presenter))[FAMILY][-1] == [0, 1, 0, 0]
    assert counts_seen(received(phones[1]))[FAMILY][-1] == [0, 1, 0, 0]


def test_the_new_session_form_keeps_live_bars_off_unless_ticked(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    page = facilitator.get(f"/facilitator/assessments/{assessment_id}/sessions/new").text
    assert 'id="live_results"' in page and "anchoring" in page
    assert 'id="live_results" name="live_results" value="yes" checked' not in page
    made = {}
    for ticked in (False, True):
        data: dict[str, Any] = {
            "name": f"Forum {ticked}",
            "held_on": "2017-06-14",
            "forum_type": "mixed",
            "strands": [FAMILY],
            "pacing": "live",
        }
        if ticked:
            data["live_results"] = "yes"
        response = post_form(
            facilitator, f"/facilitator/assessments/{assessment_id}/sessions/new", data
        )
        assert response.status_code == 302, response.text
        made[ticked] = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with get_database(app).read() as db:
        for ticked, session_id in made.items():
            session = db.get(VotingSession, session_id)
            assert session is not None and session.live_results is ticked


def test_the_join_screen_is_shown_on_demand_and_never_after_the_end(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    _, console, presenter, _ = _room(app, facilitator, assessment_id)
    control(console, action="start")
    received(presenter)
    shown = control(console, action="join", show=True)
    assert shown == {"ok": True, "message": "Join screen shown on the projector."}
    state = [m["args"][0] for m in received(presenter) if m["name"] == "state"][-1]
    assert state["session"]["show_join"] is True
    # Opening voting takes the projector back to the strand.
    control(console, action="open", strand=FAMILY)
    state = [m["args"][0] for m in received(presenter) if m["name"] == "state"][-1]
    assert state["session"]["show_join"] is False
    control(console, action="end")
    refused = control(console, action="join", show=True)
    assert refused == {"ok": False, "error": "The session has ended, so nobody can join it now."}
