"""Deleting a session or an assessment removes every vote, comment and profile in it, after a
confirmation page that offers the exports first."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.helpers import control, csrf_from, last, make_session, phone, received, screen, vote
from voting.database import get_database
from voting.models import (
    Assessment,
    DeskRating,
    Participant,
    StrandState,
    Vote,
    VoteHistory,
    VotingSession,
)


def count(app: Flask, model: type) -> int:
    with get_database(app).read() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def test_deleting_a_session_removes_its_votes_and_closes_its_screens(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    keep = make_session(app, assessment_id, name="Keep me")
    gone = make_session(app, assessment_id, name="Delete me")
    for session in (keep, gone):
        console = screen(app, facilitator, "console", session.id)
        control(console, action="open", strand="culture")
        for level in (1, 2):
            assert vote(phone(app, session.join_code), "culture", level, comment="why")["ok"]
    doomed_phone = phone(app, gone.join_code)
    received(doomed_phone)

    page = facilitator.get(f"/facilitator/sessions/{gone.id}/delete").get_data(True)
    assert "This cannot be undone" in page
    assert (
        "2 votes and 2 comments" in page.replace("\n", " ").replace("  ", " ") or "2 vote" in page
    )
    assert f"/facilitator/sessions/{gone.id}/votes.csv" in page  # the export is offered first
    assert count(app, VotingSession) == 2  # looking changes nothing

    response = facilitator.post(
        f"/facilitator/sessions/{gone.id}/delete", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302
    assert not doomed_phone.is_connected()
    with get_database(app).read() as db:
        assert db.scalars(select(VotingSession.name)).all() == ["Keep me"]
        assert (
            db.scalar(select(func.count()).select_from(Vote).where(Vote.session_id == gone.id)) == 0
        )
        assert (
            db.scalar(select(func.count()).select_from(Vote).where(Vote.session_id == keep.id)) == 2
        )
    assert count(app, VoteHistory) == 2 and count(app, Participant) == 2
    # Its join code now leads nowhere.
    assert not phone(app, gone.join_code).is_connected()


def test_deleting_an_assessment_removes_everything_in_it(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    session = make_session(app, assessment_id)
    console = screen(app, facilitator, "console", session.id)
    control(console, action="open", strand="leadership")
    assert vote(phone(app, session.join_code), "leadership", 3)["ok"]
    assert last(received(console), "tally")
    page = facilitator.get(f"/facilitator/assessments/{assessment_id}/delete").get_data(True)
    assert "the assessment Hertfordshire 2017" in page
    facilitator.post(
        f"/facilitator/assessments/{assessment_id}/delete", data={"csrf_token": csrf_from(page)}
    )
    for model in (
        Assessment,
        DeskRating,
        VotingSession,
        StrandState,
        Participant,
        Vote,
        VoteHistory,
    ):
        assert count(app, model) == 0, model.__name__


def test_deletion_needs_the_csrf_token_and_a_login(
    app: Flask, client: FlaskClient, assessment_id: int
) -> None:
    session = make_session(app, assessment_id)
    assert client.post(f"/facilitator/sessions/{session.id}/delete").status_code in (302, 400)
    assert client.get(f"/facilitator/assessments/{assessment_id}/delete").status_code == 302
    assert count(app, VotingSession) == 1


def test_a_retention_period_deletes_raw_votes_and_keeps_the_totals(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    from datetime import date, timedelta

    from voting.models import ArchivedTally

    old = make_session(
        app, assessment_id, name="Old forum", held_on=date.today() - timedelta(days=40)
    )
    recent = make_session(app, assessment_id, name="Recent forum", held_on=date.today())
    for session, levels in ((old, [1, 2, 2, 4, 4, 4]), (recent, [3, 3])):
        console = screen(app, facilitator, "console", session.id)
        control(console, action="open", strand="culture")
        for level in levels:
            p = phone(app, session.join_code)
            p.emit("profile", {"role": "strategic", "sector": "Police"}, callback=True)
            assert vote(p, "culture", level, comment="private reason")["ok"]
    # A re-vote round in the old forum: both rounds' totals must survive.
    console = screen(app, facilitator, "console", old.id)
    control(console, action="close", strand="culture")
    control(console, action="revote", strand="culture")
    assert vote(phone(app, old.join_code), "culture", 3)["ok"]

    url = f"/facilitator/assessments/{assessment_id}"
    page = facilitator.get(url).get_data(True)
    bad = facilitator.post(
        f"{url}/retention", data={"retention_days": "-3", "csrf_token": csrf_from(page)}
    )
    assert bad.status_code == 303
    assert count(app, ArchivedTally) == 0
    saved = facilitator.post(
        f"{url}/retention", data={"retention_days": "30", "csrf_token": csrf_from(page)}
    )
    assert saved.status_code == 302

    with get_database(app).read() as db:
        old_votes = db.scalar(
            select(func.count()).select_from(Vote).where(Vote.session_id == old.id)
        )
        kept = db.execute(
            select(ArchivedTally.round, ArchivedTally.level, ArchivedTally.count)
            .where(ArchivedTally.session_id == old.id)
            .order_by(ArchivedTally.round, ArchivedTally.level)
        ).all()
        participants = db.scalar(
            select(func.count()).select_from(Participant).where(Participant.session_id == old.id)
        )
        purged_at = db.get(VotingSession, old.id).purged_at  # type: ignore[union-attr]
        recent_votes = db.scalar(
            select(func.count()).select_from(Vote).where(Vote.session_id == recent.id)
        )
    assert old_votes == 0 and participants == 0 and purged_at is not None
    assert [tuple(k) for k in kept] == [(1, 1, 1), (1, 2, 2), (1, 4, 3), (2, 3, 1)]
    assert recent_votes == 2  # within its period: untouched

    # The totals still show: the console (current round 2) and the results across forums.
    state = last(received(screen(app, facilitator, "console", old.id)), "state")
    assert next(s for s in state["strands"] if s["key"] == "culture")["counts"] == [0, 0, 1, 0]
    import json

    document = json.loads(facilitator.get(f"{url}/raw.json").get_data(True))
    # Round 2 of the old forum + the recent forum: raw data (3 people is too few for the board).
    assert document["tallies"]["culture"]["counts"] == [0, 0, 3, 0]
    board = json.loads(facilitator.get(f"{url}/assessment.json").get_data(True))
    assert board["analysis"]["strands"]["culture"]["counts"] is None
    results_page = facilitator.get(f"{url}/results").get_data(True)
    assert "were deleted under the retention period" in results_page
    assert "private reason" in results_page  # the recent forum's comments remain
    csv_rows = facilitator.get(f"{url}/votes.csv").get_data(True).strip().splitlines()
    assert len(csv_rows) == 2 + 2  # the raw-data label, the header, the recent forum's votes


def test_last_years_kept_totals_still_compare(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    from datetime import date, timedelta

    from voting.assessments import create_assessment
    from voting.upkeep.retention import purge_session

    with app.app_context():
        framework = app.extensions["voting_frameworks"]["early-help-2016"]
        last_year = create_assessment(get_database(), "Hertfordshire", "2016", framework, [])
    before = make_session(
        app, last_year, name="2016 forum", held_on=date.today() - timedelta(days=400)
    )
    console = screen(app, facilitator, "console", before.id)
    control(console, action="open", strand="culture")
    for level in (1, 1, 1, 1, 1):
        assert vote(phone(app, before.join_code), "culture", level)["ok"]
    purge_session(get_database(app), before.id)
    now = make_session(app, assessment_id, name="2017 forum")
    console = screen(app, facilitator, "console", now.id)
    control(console, action="open", strand="culture")
    for level in (2, 2, 2, 2, 2):
        assert vote(phone(app, now.join_code), "culture", level)["ok"]
    page = facilitator.get(
        f"/facilitator/assessments/{assessment_id}/results?compare={last_year}"
    ).get_data(True)
    assert "Median up since Hertfordshire 2016: Early then, Developing now." in page
