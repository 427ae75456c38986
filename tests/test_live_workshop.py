"""A whole live workshop through Flask-SocketIO's test client: a presenter, a console and twelve
phones join, set profiles, vote, change votes, are refused on closed strands, and see the desk
rating only once it is revealed; the tallies are exact at every step."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.helpers import control, last, phone, received, screen, vote
from voting.database import get_database
from voting.models import Participant, Vote, VoteHistory, VotingSession

PHONES = 12


def strand_of(state: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in state["strands"] if s["key"] == key)


def db_counts(app: Flask, session_id: int, strand: str) -> list[int]:
    with get_database(app).read() as db:
        rows = db.execute(
            select(Vote.level, func.count())
            .where(Vote.session_id == session_id, Vote.strand_key == strand)
            .group_by(Vote.level)
        ).all()
    counts = [0, 0, 0, 0]
    for level, n in rows:
        counts[level - 1] = n
    return counts


def test_a_live_workshop_from_join_to_reveal(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    sid, code = live_session.id, live_session.join_code
    presenter = screen(app, facilitator, "presenter", sid)
    console = screen(app, facilitator, "console", sid)
    assert presenter.is_connected() and console.is_connected()
    first = last(presenter.get_received(), "state")
    assert first["session"]["code"] == code and first["joined"] == 0
    assert console.get_received()  # the console's own snapshot

    phones = [phone(app, code) for _ in range(PHONES)]
    tokens = []
    for p in phones:
        messages = received(p)
        joined = last(messages, "joined")
        assert joined["new"] is True and len(joined["token"]) >= 30
        tokens.append(joined["token"])
        state = last(messages, "state")
        assert state["session"]["status"] == "draft"
        assert [s["key"] for s in state["strands"]] == [
            "family-experience",
            "leadership",
            "culture",
        ]
        assert last(messages, "me") == {
            "votes": {},
            "profile": {"role": None, "sector": None, "locality": None, "done": False},
        }
    assert len(set(tokens)) == PHONES

    # Profiles: half strategic police, half operational health; one skips.
    for i, p in enumerate(phones[:-1]):
        profile = (
            {"role": "strategic", "sector": "Police", "locality": "North Herts"}
            if i % 2
            else {"role": "operational", "sector": "Health", "locality": "Dacorum"}
        )
        ack = p.emit("profile", profile, callback=True)
        assert ack == {"ok": True, "profile": {**profile, "done": True}}
    assert phones[-1].emit("profile", {}, callback=True)["ok"] is True

    # Nothing is open yet: a vote is refused and nothing is stored.
    refused = vote(phones[0], "family-experience", 2)
    assert refused == {"ok": False, "error": "Voting on this strand has not opened yet."}

    assert control(console, action="start")["ok"]
    opened = control(console, action="open", strand="family-experience")
    assert opened == {
        "ok": True,
        "message": "Voting open on The family experience of transformed services.",
    }
    for p in phones:
        state = last(received(p), "state")
        assert strand_of(state, "family-experience")["status"] == "open"
        assert state["session"]["current"] == "family-experience"

    # Votes: 3 Early, 5 Developing, 4 Maturing, then one phone changes Early -> Mature.
    planned = [1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3]
    for p, level in zip(phones, planned, strict=True):
        ack = vote(p, "family-experience", level)
        assert ack["ok"] is True and ack["vote"]["level"] == level
    changed = vote(phones[0], "family-experience", 4, comment="One plan per family now exists.")
    assert changed["vote"] == {
        "strand": "family-experience",
        "level": 4,
        "round": 1,
        "comment": "One plan per family now exists.",
    }
    expected = [2, 5, 4, 1]
    assert db_counts(app, sid, "family-experience") == expected

    console_tally = last(received(console), "tally")
    assert console_tally["counts"]["family-experience"] == expected
    assert console_tally["voted"]["family-experience"] == PHONES
    assert console_tally["joined"] == PHONES

    # Results are hidden: the presenter gets the number voted, never the counts.
    presenter_messages = received(presenter)
    tally = last(presenter_messages, "tally")
    assert tally["counts"] is None and tally["voted"]["family-experience"] == PHONES
    # Phones get no tally at all while results are hidden.
    assert all(m["name"] != "tally" for m in received(phones[5]))

    assert control(console, action="results", show=True)["ok"]
    shown = last(received(presenter), "state")
    assert strand_of(shown, "family-experience")["counts"] == expected
    assert strand_of(last(received(phones[3]), "state"), "family-experience")["counts"] == expected

    # Reveal is refused while voting is open, then allowed once closed.
    early = control(console, action="reveal", strand="family-experience", reveal=True)
    assert early["ok"] is False and "Close voting" in early["error"]
    assert control(console, action="close", strand="family-experience")["ok"]
    late = vote(phones[1], "family-experience", 4)
    assert late == {
        "ok": False,
        "error": "Voting on this strand is closed. Your earlier vote, if any, still counts.",
    }
    assert db_counts(app, sid, "family-experience") == expected

    # Until the reveal, no message to a phone or the presenter carries a desk rating.
    everything_before = received(presenter) + [m for p in phones for m in received(p)]
    assert all(_no_desk(m) for m in everything_before)

    assert control(console, action="reveal", strand="family-experience", reveal=True)["ok"]
    revealed = strand_of(last(received(presenter), "state"), "family-experience")
    assert revealed["desk"] == {"level": 2, "upper_level": None, "label": "Developing"}
    phone_view = strand_of(last(received(phones[7]), "state"), "family-experience")
    assert phone_view["desk"]["label"] == "Developing"
    # Strands not revealed stay hidden even after another strand's reveal.
    assert strand_of(last(received(phones[8]), "state"), "culture")["desk"] is None

    # Next strand: Leadership. Moving on keeps family experience closed; a phone that votes
    # on the old strand is refused.
    assert control(console, action="next")["message"] == "Now showing Leadership."
    assert control(console, action="open", strand="leadership")["ok"]
    assert vote(phones[2], "family-experience", 1)["ok"] is False
    for p in phones[:7]:
        assert vote(p, "leadership", 3)["ok"]
    console_state = last(received(console), "tally")
    assert console_state["voted"]["leadership"] == 7

    # Reopen: family experience again; opening it closes leadership (one open strand in live).
    assert control(console, action="open", strand="family-experience")["message"].startswith(
        "Voting reopened"
    )
    assert vote(phones[1], "family-experience", 3)["ok"]
    assert vote(phones[2], "leadership", 2)["ok"] is False
    # Phone 1 moves from Early to Maturing.
    assert db_counts(app, sid, "family-experience") == [1, 5, 5, 1]

    assert control(console, action="end")["ok"]
    assert vote(phones[4], "family-experience", 2)["ok"] is False
    ended = last(received(presenter), "state")
    assert ended["session"]["status"] == "ended"

    with get_database(app).read() as db:
        assert db.scalar(select(func.count()).select_from(Participant)) == PHONES
        # 12 + 1 change + 7 leadership + 1 after reopening: every change is in the history.
        assert db.scalar(select(func.count()).select_from(VoteHistory)) == 21
        profiles = db.execute(
            select(Participant.role, func.count()).group_by(Participant.role)
        ).all()
        assert dict(profiles) == {"operational": 6, "strategic": 5, None: 1}


def _no_desk(message: dict[str, Any]) -> bool:
    text = json.dumps(message["args"])
    payload = message["args"][0] if message["args"] else {}
    strands = payload.get("strands", []) if isinstance(payload, dict) else []
    return all(s.get("desk") is None for s in strands) and "Families still repeat" not in text


def test_console_sees_desk_ratings_and_voted_counts(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    console = screen(app, facilitator, "console", live_session.id)
    state = last(received(console), "state")
    culture = strand_of(state, "culture")
    assert culture["desk"] == {"level": 2, "upper_level": 3, "label": "Developing/Maturing"}
    assert culture["revealed"] is False and culture["voted"] == 0


def test_a_reloaded_phone_rejoins_as_the_same_participant(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    console = screen(app, facilitator, "console", live_session.id)
    control(console, action="open", strand="culture")
    first = phone(app, live_session.join_code)
    token = last(received(first), "joined")["token"]
    assert vote(first, "culture", 2, comment="Some teams share plans")["ok"]
    first.disconnect()

    again = phone(app, live_session.join_code, token=token)
    messages = received(again)
    assert last(messages, "joined") == {"token": token, "new": False}
    assert last(messages, "me")["votes"] == {
        "culture": {"level": 2, "comment": "Some teams share plans"}
    }
    # A vote without a comment keeps the comment given before.
    assert vote(again, "culture", 3)["vote"]["comment"] == "Some teams share plans"
    with get_database(app).read() as db:
        assert db.scalar(select(func.count()).select_from(Participant)) == 1
        assert db.scalar(select(func.count()).select_from(Vote)) == 1


def test_a_token_from_another_session_makes_a_new_participant(
    app: Flask, assessment_id: int, live_session: VotingSession
) -> None:
    from tests.helpers import make_session

    other = make_session(app, assessment_id, name="District group")
    first = phone(app, live_session.join_code)
    token = last(received(first), "joined")["token"]
    elsewhere = phone(app, other.join_code, token=token)
    joined = last(received(elsewhere), "joined")
    assert joined["new"] is True and joined["token"] != token


def test_two_tabs_of_one_participant_agree(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    console = screen(app, facilitator, "console", live_session.id)
    control(console, action="open", strand="leadership")
    tab1 = phone(app, live_session.join_code)
    token = last(received(tab1), "joined")["token"]
    tab2 = phone(app, live_session.join_code, token=token)
    received(tab2)
    assert vote(tab1, "leadership", 4)["ok"]
    assert last(received(tab2), "my_vote") == {
        "strand": "leadership",
        "level": 4,
        "comment": None,
        "round": 1,
    }
    assert all(m["name"] != "my_vote" for m in received(tab1))
    # The echo goes only where another tab is open (the worker counts each participant's
    # sockets): once the second tab has closed and a third opened, the third hears the vote.
    tab2.disconnect()
    assert vote(tab1, "leadership", 3)["ok"]
    tab3 = phone(app, live_session.join_code, token=token)
    received(tab3)
    assert vote(tab1, "leadership", 2)["ok"]
    assert last(received(tab3), "my_vote")["level"] == 2


def test_a_resent_vote_is_applied_once(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    console = screen(app, facilitator, "console", live_session.id)
    control(console, action="open", strand="leadership")
    p = phone(app, live_session.join_code)
    assert vote(p, "leadership", 2, client_vote_id="abc123")["ok"]
    assert vote(p, "leadership", 2, client_vote_id="abc123")["ok"]
    with get_database(app).read() as db:
        assert db.scalar(select(func.count()).select_from(VoteHistory)) == 1


def test_joining_an_ended_session_is_refused_but_a_known_phone_may_look(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    known = phone(app, live_session.join_code)
    token = last(received(known), "joined")["token"]
    console = screen(app, facilitator, "console", live_session.id)
    control(console, action="end")
    stranger = phone(app, live_session.join_code)
    assert not stranger.is_connected()
    back = phone(app, live_session.join_code, token=token)
    assert back.is_connected()
    assert last(received(back), "state")["session"]["status"] == "ended"


def test_an_unknown_code_is_refused(app: Flask) -> None:
    assert not phone(app, "NOPE99").is_connected()


def test_reopening_a_strand_hides_its_desk_rating_again(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    console = screen(app, facilitator, "console", live_session.id)
    presenter = screen(app, facilitator, "presenter", live_session.id)
    control(console, action="open", strand="leadership")
    control(console, action="close", strand="leadership")
    control(console, action="reveal", strand="leadership", reveal=True)
    assert (
        strand_of(last(received(presenter), "state"), "leadership")["desk"]["label"] == "Maturing"
    )
    control(console, action="open", strand="leadership")
    assert strand_of(last(received(presenter), "state"), "leadership")["desk"] is None


def test_an_ended_session_cannot_be_started_again_but_a_strand_can_resume_it(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    console = screen(app, facilitator, "console", live_session.id)
    control(console, action="start")
    control(console, action="end")
    assert control(console, action="start") == {
        "ok": False,
        "error": "This session has ended. Reopen a strand to resume it.",
    }
    assert control(console, action="open", strand="culture")["ok"]
    assert last(received(console), "state")["session"]["status"] == "running"


def test_a_resend_after_closing_still_counts_once(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    console = screen(app, facilitator, "console", live_session.id)
    control(console, action="open", strand="culture")
    p = phone(app, live_session.join_code)
    assert vote(p, "culture", 3, client_vote_id="v1")["ok"]
    control(console, action="close", strand="culture")
    # The phone never got the acknowledgement and sends the same vote again.
    assert vote(p, "culture", 3, client_vote_id="v1") == {
        "ok": True,
        "vote": {"strand": "culture", "level": 3, "comment": None, "round": 1},
    }
    assert vote(p, "culture", 2, client_vote_id="v2")["ok"] is False
    with get_database(app).read() as db:
        assert db.scalar(select(func.count()).select_from(VoteHistory)) == 1


def test_a_new_phone_moves_the_joined_count_on_screen(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    presenter = screen(app, facilitator, "presenter", live_session.id)
    received(presenter)
    first = phone(app, live_session.join_code)
    assert last(received(presenter), "tally")["joined"] == 1
    token = last(received(first), "joined")["token"]
    phone(app, live_session.join_code, token=token)  # the same participant again: no change
    assert all(m["name"] != "tally" for m in received(presenter))


def test_a_revote_opens_round_two_and_keeps_round_one(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    console = screen(app, facilitator, "console", live_session.id)
    phones = [phone(app, live_session.join_code) for _ in range(4)]
    refused = control(console, action="revote", strand="culture")
    assert refused == {
        "ok": False,
        "error": "Voting on Culture has not run yet; open it for its first round.",
    }
    control(console, action="open", strand="culture")
    for p, level in zip(phones, [1, 1, 4, 4], strict=True):
        assert vote(p, "culture", level)["ok"]
    assert control(console, action="revote", strand="culture")["ok"] is False  # still open
    control(console, action="close", strand="culture")
    control(console, action="reveal", strand="culture", reveal=True)
    ack = control(console, action="revote", strand="culture")
    assert ack == {"ok": True, "message": "Round 2 of voting open on Culture; round 1 is kept."}
    state = last(received(phones[0]), "state")
    culture = strand_of(state, "culture")
    assert culture["round"] == 2 and culture["status"] == "open" and culture["desk"] is None
    for p, level in zip(phones, [2, 2, 3, 2], strict=True):
        assert vote(p, "culture", level)["vote"]["round"] == 2
    console_state = last(received(console), "tally")
    assert console_state["counts"]["culture"] == [0, 3, 1, 0]
    with get_database(app).read() as db:
        rounds = db.execute(
            select(Vote.round, Vote.level, func.count())
            .group_by(Vote.round, Vote.level)
            .order_by(Vote.round, Vote.level)
        ).all()
    assert [tuple(r) for r in rounds] == [(1, 1, 2), (1, 4, 2), (2, 2, 3), (2, 3, 1)]
