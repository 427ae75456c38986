"""Retention: a facilitator may set how long raw votes are kept. After that many days from a
session's date, its votes, their history, comments and participants' profiles are deleted, and
only the number of votes per level in each round is kept (`ArchivedTally`), so totals, charts
and comparisons with later years still work while nothing about any one person remains."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select

from voting.database import Database
from voting.models import (
    ArchivedTally,
    Assessment,
    Participant,
    Vote,
    VoteHistory,
    VotingSession,
    utcnow,
)
from voting.validation import Refusal

MAX_RETENTION_DAYS = 3650


def set_retention(database: Database, assessment_id: int, days: int | None) -> None:
    if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
        raise Refusal(f"Enter a number of days from 1 to {MAX_RETENTION_DAYS}, or leave it empty.")
    with database.write() as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None:
            raise Refusal("That assessment no longer exists.")
        assessment.retention_days = days


def session_date(session: VotingSession) -> date:
    return session.held_on or session.created_at.date()


def due_sessions(database: Database, now: datetime | None = None) -> list[int]:
    today = (now or utcnow()).date()
    with database.read() as db:
        rows = db.execute(
            select(VotingSession, Assessment.retention_days)
            .join(Assessment, Assessment.id == VotingSession.assessment_id)
            .where(Assessment.retention_days.is_not(None), VotingSession.purged_at.is_(None))
        ).all()
        return [
            s.id
            for s, days in rows
            if days is not None and session_date(s) + timedelta(days=days) <= today
        ]


def purge_session(database: Database, session_id: int, now: datetime | None = None) -> None:
    """Keep the totals, delete the rest, in one transaction: never half-purged."""
    with database.write() as db:
        session = db.get(VotingSession, session_id)
        if session is None or session.purged_at is not None:
            return
        totals = db.execute(
            select(Vote.strand_key, Vote.round, Vote.level, func.count())
            .where(Vote.session_id == session_id)
            .group_by(Vote.strand_key, Vote.round, Vote.level)
        ).all()
        db.add_all(
            ArchivedTally(session_id=session_id, strand_key=k, round=r, level=lv, count=n)
            for k, r, lv, n in totals
        )
        db.execute(delete(VoteHistory).where(VoteHistory.session_id == session_id))
        db.execute(delete(Vote).where(Vote.session_id == session_id))
        db.execute(delete(Participant).where(Participant.session_id == session_id))
        for state in session.strand_states:
            if state.status == "open":
                state.status = "closed"
        session.status = "ended"
        session.purged_at = now or utcnow()


def purge_due(database: Database, now: datetime | None = None) -> list[int]:
    purged = due_sessions(database, now)
    for session_id in purged:
        purge_session(database, session_id, now)
    return purged
