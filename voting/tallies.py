"""Counting votes with SQL. Nothing here increments a cached number: every figure is counted
from the rows, so a screen can never drift from what the database holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, select
from sqlalchemy.orm import Session

from voting.models import (
    ArchivedTally,
    Assessment,
    HandCount,
    Participant,
    StrandState,
    Vote,
    VotingSession,
)


def in_current_round(table: Any) -> ColumnElement[bool]:
    """Join condition: rows of `table` (votes, kept totals) in their strand's current round."""
    return and_(
        StrandState.session_id == table.session_id,
        StrandState.strand_key == table.strand_key,
        StrandState.round == table.round,
    )


# Built once and run with bound values: these run for every live tally (up to ten a second per
# session), where building the statement cost more than running it.
_CURRENT_ROUND_COUNTS = (
    select(Vote.strand_key, Vote.level, func.count())
    .join(StrandState, in_current_round(Vote))
    .where(Vote.session_id == bindparam("session_id"))
    .group_by(Vote.strand_key, Vote.level)
)
_ARCHIVED_COUNTS = (
    select(ArchivedTally.strand_key, ArchivedTally.level, ArchivedTally.count)
    .join(StrandState, in_current_round(ArchivedTally))
    .where(ArchivedTally.session_id == bindparam("session_id"))
)
_HAND_COUNTS = (
    select(HandCount.strand_key, HandCount.level, HandCount.count)
    .join(StrandState, in_current_round(HandCount))
    .where(HandCount.session_id == bindparam("session_id"))
)
_JOINED = (
    select(func.count())
    .select_from(Participant)
    .where(Participant.session_id == bindparam("session_id"))
)
_SESSION_FOR_TALLY = (
    select(
        VotingSession.strand_keys,
        VotingSession.show_results,
        Assessment.level_count,
        VotingSession.live_results,
        VotingSession.status,
        VotingSession.pacing,
        VotingSession.current_strand,
        VotingSession.closes_at,
    )
    .join(Assessment, Assessment.id == VotingSession.assessment_id)
    .where(VotingSession.id == bindparam("session_id"))
)
_STRAND_STATUSES = select(StrandState.strand_key, StrandState.status).where(
    StrandState.session_id == bindparam("session_id")
)


def level_counts(db: Session, session_id: int, levels: int) -> dict[str, list[int]]:
    """Votes per level for each strand's current round: {strand_key: [n_level1, n_level2, …]},
    counting the kept totals of a session whose raw votes were deleted under retention and the
    votes the facilitator recorded by hand (paper slips, a show of hands)."""
    bound = {"session_id": session_id}
    rows = db.execute(_CURRENT_ROUND_COUNTS, bound).all()
    archived = db.execute(_ARCHIVED_COUNTS, bound).all()
    by_hand = db.execute(_HAND_COUNTS, bound).all()
    counts: dict[str, list[int]] = {}
    for strand_key, level, n in [*rows, *archived, *by_hand]:
        bucket = counts.setdefault(strand_key, [0] * levels)
        if 1 <= level <= levels:
            bucket[level - 1] += n
    return counts


def joined_count(db: Session, session_id: int) -> int:
    return db.scalar(_JOINED, {"session_id": session_id}) or 0


@dataclass(frozen=True)
class LiveTally:
    """What a live tally update needs: the counts, and what decides whether screens may see
    them (the rule itself is `voting.live.snapshots.results_visible`)."""

    strand_keys: list[str]
    show_results: bool
    levels: int
    counts: dict[str, list[int]]
    joined: int
    live_results: bool = False
    status: str = "running"
    pacing: str = "live"
    current: str | None = None
    closes_at: datetime | None = None
    statuses: dict[str, str] = field(default_factory=dict)

    def of(self, strand_key: str) -> list[int]:
        return self.counts.get(strand_key, [0] * self.levels)


def live_tally(db: Session, session_id: int) -> LiveTally | None:
    """The session's current counts, without loading its snapshot (see `snapshots.load`)."""
    session = db.execute(_SESSION_FOR_TALLY, {"session_id": session_id}).first()
    if session is None:
        return None
    strand_keys, show_results, levels, live_results, status, pacing, current, closes_at = session
    bound = {"session_id": session_id}
    return LiveTally(
        strand_keys=list(strand_keys),
        show_results=bool(show_results),
        levels=levels,
        counts=level_counts(db, session_id, levels),
        joined=joined_count(db, session_id),
        live_results=bool(live_results),
        status=status,
        pacing=pacing,
        current=current,
        closes_at=closes_at,
        statuses={key: s for key, s in db.execute(_STRAND_STATUSES, bound).all()},
    )
