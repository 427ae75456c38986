"""Counting votes with SQL. Nothing here increments a cached number: every figure is counted
from the rows, so a screen can never drift from what the database holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, select, union_all
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
#
# Every source of counts in one statement, grouped by strand, round and level: the votes (from
# the index ix_votes_tally alone, in its order), the kept totals of a session whose raw votes
# were deleted under retention, and the votes recorded by hand. Only each strand's current
# round counts; that is applied after, from the strand states (a handful of rows), because
# joining them to every vote row cost three times as much as the count itself.
_COUNTS_BY_ROUND = union_all(
    select(Vote.strand_key, Vote.round, Vote.level, func.count())
    .where(Vote.session_id == bindparam("session_id"))
    .group_by(Vote.strand_key, Vote.round, Vote.level),
    select(
        ArchivedTally.strand_key, ArchivedTally.round, ArchivedTally.level, ArchivedTally.count
    ).where(ArchivedTally.session_id == bindparam("session_id")),
    select(HandCount.strand_key, HandCount.round, HandCount.level, HandCount.count).where(
        HandCount.session_id == bindparam("session_id")
    ),
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
_STRAND_STATES = select(StrandState.strand_key, StrandState.round, StrandState.status).where(
    StrandState.session_id == bindparam("session_id")
)


def level_counts(
    db: Session, session_id: int, levels: int, rounds: dict[str, int] | None = None
) -> dict[str, list[int]]:
    """Votes per level for each strand's current round: {strand_key: [n_level1, n_level2, …]},
    counting the kept totals of a session whose raw votes were deleted under retention and the
    votes the facilitator recorded by hand (paper slips, a show of hands). `rounds`: each
    strand's current round, when the caller has read them already."""
    bound = {"session_id": session_id}
    if rounds is None:
        rounds = {key: round_ for key, round_, _status in db.execute(_STRAND_STATES, bound)}
    counts: dict[str, list[int]] = {}
    for strand_key, round_, level, n in db.execute(_COUNTS_BY_ROUND, bound):
        if rounds.get(strand_key) != round_:
            continue
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
    states = db.execute(_STRAND_STATES, bound).all()
    return LiveTally(
        strand_keys=list(strand_keys),
        show_results=bool(show_results),
        levels=levels,
        counts=level_counts(db, session_id, levels, {key: r for key, r, _s in states}),
        joined=joined_count(db, session_id),
        live_results=bool(live_results),
        status=status,
        pacing=pacing,
        current=current,
        closes_at=closes_at,
        statuses={key: s for key, _r, s in states},
    )
