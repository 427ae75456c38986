"""The short cuts taken for speed give the same answers as the long way round: the cached parsed
framework, the live tally counted without a full snapshot, the one-select vote path, and the
personal snapshot of a phone that has just joined."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, update
from sqlalchemy.exc import OperationalError

from tests.helpers import control, last, make_session, phone, received, screen, vote
from voting.assessments import create_assessment, framework_of
from voting.database import get_database
from voting.live import snapshots, votes
from voting.models import Assessment, StrandState, VotingSession
from voting.tallies import live_tally
from voting.validation import Refusal


def test_an_assessment_made_under_a_reused_id_gets_its_own_framework(
    app: Flask, assessment_id: int
) -> None:
    with app.app_context():
        database = get_database()
        with database.read() as db:
            old = db.get(Assessment, assessment_id)
            assert old is not None
            assert len(framework_of(old).strands) == 6  # parsed and cached
        with database.write() as db:
            db.execute(delete(Assessment).where(Assessment.id == assessment_id))
        split = app.extensions["voting_frameworks"]["early-help-2016-split-delivery"]
        with database.write() as db:
            # The same id again, as SQLite gives after the last row is deleted.
            db.add(
                Assessment(
                    id=assessment_id,
                    area="Devon",
                    period="2018",
                    framework_id=split.id,
                    framework=split.to_dict(),
                    level_count=4,
                    localities=[],
                )
            )
        with database.read() as db:
            new = db.get(Assessment, assessment_id)
            assert new is not None
            assert framework_of(new) == split
            assert len(framework_of(new).strands) == 7


def test_a_cached_framework_is_the_parsed_one(app: Flask) -> None:
    with app.app_context():
        national = app.extensions["voting_frameworks"]["early-help-2016"]
        aid = create_assessment(get_database(), "Kent", "2019", national, [])
        with get_database().read() as db:
            assessment = db.get(Assessment, aid)
            assert assessment is not None
            first, second = framework_of(assessment), framework_of(assessment)
        assert first == national
        assert second is first


def _full_counts(app: Flask, session_id: int) -> tuple[dict[str, list[int]], int, bool]:
    with get_database(app).read() as db:
        loaded = snapshots.load(db, session_id)
        assert loaded is not None
        counts = {k: snapshots._counts(loaded, k) for k in loaded.session.strand_keys}
        return counts, loaded.joined, loaded.session.show_results


def test_the_live_tally_agrees_with_the_full_snapshot(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    session = make_session(app, assessment_id)
    console = screen(app, facilitator, "console", session.id)
    control(console, action="start")
    assert control(console, action="open", strand="family-experience")["ok"]
    phones = [phone(app, session.join_code) for _ in range(5)]
    for i, p in enumerate(phones):
        assert vote(p, "family-experience", 1 + i % 4)["ok"]
    assert control(console, action="close", strand="family-experience")["ok"]
    assert control(console, action="revote", strand="family-experience")["ok"]
    assert vote(phones[0], "family-experience", 3)["ok"]

    for show in (False, True):
        if show:
            assert control(console, action="results", show=True)["ok"]
        with get_database(app).read() as db:
            tally = live_tally(db, session.id)
        assert tally is not None
        counts, joined, show_results = _full_counts(app, session.id)
        assert show_results is show
        assert (tally.joined, tally.show_results) == (joined, show_results) == (5, show)
        assert {k: tally.of(k) for k in tally.strand_keys} == counts
        assert counts["family-experience"] == [0, 0, 1, 0]  # the second round only
        presenter = snapshots.tally_update(tally, "presenter")
        assert presenter is not None and presenter["voted"]["family-experience"] == 1
        assert (snapshots.tally_update(tally, "phones") is not None) is show

    with get_database(app).read() as db:
        assert live_tally(db, 10_000) is None


def test_the_vote_path_refuses_a_missing_session_and_a_strand_outside_it(
    app: Flask, assessment_id: int
) -> None:
    session = make_session(app, assessment_id)
    with app.app_context():
        database = get_database()
        joined = votes.join(database, session.join_code, None)
        for session_id, strand, message in (
            (session.id, "strategy", "That strand is not part of this session."),
            (10_000, "leadership", "This session no longer exists."),
        ):
            try:
                votes.cast_vote(database, session_id, joined.participant_id, strand, 2, None, None)
            except Refusal as refusal:
                assert refusal.message == message
            else:
                raise AssertionError(f"a vote on {strand} in session {session_id} was accepted")


def test_a_resent_vote_counts_once_even_after_the_strand_closed(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    session = make_session(app, assessment_id)
    console = screen(app, facilitator, "console", session.id)
    control(console, action="start")
    strand = "leadership"
    assert control(console, action="open", strand=strand)["ok"]
    p = phone(app, session.join_code)
    first = vote(p, strand, 2, client_vote_id="v-1", comment="Board meets monthly")
    assert first["ok"]
    control(console, action="close", strand=strand)
    again = vote(p, strand, 2, client_vote_id="v-1")
    assert again == first  # the stored vote, comment included, and not refused
    assert vote(p, strand, 3, client_vote_id="v-2")["ok"] is False
    counts, _joined, _show = _full_counts(app, session.id)
    assert counts[strand] == [0, 1, 0, 0]


def test_a_new_phones_personal_snapshot_is_what_the_database_holds(
    app: Flask, assessment_id: int
) -> None:
    session = make_session(app, assessment_id)
    with app.app_context():
        joined = votes.join(get_database(), session.join_code, None)
        assert joined.is_new
        with get_database().read() as db:
            stored = snapshots.phone_personal(db, session.id, joined.participant_id)
            assert db.get(VotingSession, session.id) is not None
    assert snapshots.new_phone_personal() == stored


def test_a_joining_phone_is_sent_its_empty_personal_snapshot(
    app: Flask, assessment_id: int
) -> None:
    session = make_session(app, assessment_id)
    me = last(received(phone(app, session.join_code)), "me")
    assert me == {
        "votes": {},
        "profile": {"role": None, "sector": None, "locality": None, "done": False},
    }


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_a_vote_in_flight_holds_off_the_close_of_its_strand(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    """The vote's one select locks the strand's row (`FOR SHARE OF strand_states`): a close
    waits until the vote has committed, so no vote checked as open lands after the close. (On
    SQLite the write lock, taken before the select, orders them.)"""
    session = make_session(app, assessment_id)
    console = screen(app, facilitator, "console", session.id)
    control(console, action="start")
    assert control(console, action="open", strand="leadership")["ok"]
    database = get_database(app)
    joined = votes.join(database, session.join_code, None)
    close = (
        update(StrandState)
        .where(StrandState.session_id == session.id, StrandState.strand_key == "leadership")
        .values(status="closed")
    )
    bound = {"session_id": session.id, "strand_key": "leadership"}
    with database.transaction() as voting:  # a vote between its check and its commit
        row = voting.execute(
            votes._VOTE_CONTEXT, {**bound, "participant_id": joined.participant_id}
        ).one()
        assert row[3] == "open"
        with (
            database.engine.connect() as closing,
            pytest.raises(OperationalError, match="lock timeout"),
            closing.begin(),
        ):
            closing.exec_driver_sql("SET LOCAL lock_timeout = '300ms'")
            closing.execute(close)
    with database.engine.begin() as closing:  # once the vote has committed, the close goes on
        assert closing.execute(close).rowcount == 1
