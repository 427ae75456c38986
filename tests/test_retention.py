"""Deleting a session or an assessment removes every vote, comment and profile in it, after a
confirmation page that offers the exports first."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import control, csrf_from, last, make_session, phone, received, screen, vote
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
