"""Counting votes with SQL. Nothing here increments a cached number: every figure is counted
from the rows, so a screen can never drift from what the database holds."""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from voting.models import ArchivedTally, Participant, StrandState, Vote


def level_counts(db: Session, session_id: int, levels: int) -> dict[str, list[int]]:
    """Votes per level for each strand's current round: {strand_key: [n_level1, n_level2, …]},
    counting the kept totals of a session whose raw votes were deleted under retention."""
    rows = db.execute(
        select(Vote.strand_key, Vote.level, func.count())
        .join(
            StrandState,
            and_(
                StrandState.session_id == Vote.session_id,
                StrandState.strand_key == Vote.strand_key,
                StrandState.round == Vote.round,
            ),
        )
        .where(Vote.session_id == session_id)
        .group_by(Vote.strand_key, Vote.level)
    ).all()
    archived = db.execute(
        select(ArchivedTally.strand_key, ArchivedTally.level, ArchivedTally.count)
        .join(
            StrandState,
            and_(
                StrandState.session_id == ArchivedTally.session_id,
                StrandState.strand_key == ArchivedTally.strand_key,
                StrandState.round == ArchivedTally.round,
            ),
        )
        .where(ArchivedTally.session_id == session_id)
    ).all()
    counts: dict[str, list[int]] = {}
    for strand_key, level, n in [*rows, *archived]:
        bucket = counts.setdefault(strand_key, [0] * levels)
        if 1 <= level <= levels:
            bucket[level - 1] += n
    return counts


def joined_count(db: Session, session_id: int) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(Participant)
            .where(Participant.session_id == session_id)
        )
        or 0
    )
