"""Results of an assessment: the votes gathered from the database into the figures of
`analysis`, per strand, per forum, per round and per group of participants.

Only current votes count (each strand's latest round in each session); earlier rounds appear
in `rounds` so the facilitator can see how discussion moved the room.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from voting import analysis
from voting.analysis import Desk, DeskComparison, Figures, Group, GroupTest, RoundChange
from voting.assessments import framework_of
from voting.frameworks import Framework
from voting.labels import FORUM_LABELS, ROLE_CHOICES, rating_label
from voting.models import (
    AgreedRating,
    ArchivedTally,
    Assessment,
    DeskRating,
    Participant,
    StrandState,
    Vote,
    VotingSession,
)
from voting.tallies import in_current_round

# (attribute, heading, how the groups are named in a sentence)
SEGMENTS = (
    ("role", "Role level", "strategic and operational partners"),
    ("sector", "Sector or agency", "sectors"),
    ("locality", "Participant's locality", "localities"),
    ("forum_type", "Kind of forum", "kinds of forum"),
    ("session", "Session", "sessions"),
)


@dataclass(frozen=True)
class VoteRow:
    session_id: int
    strand_key: str
    level: int
    role: str | None
    sector: str | None
    locality: str | None
    forum_type: str
    session: str


@dataclass
class ForumResult:
    session_id: int
    name: str
    forum_type: str
    locality: str
    counts: tuple[int, ...]
    figures: Figures
    comparison: DeskComparison | None
    # A forum with fewer voters than the minimum group size is shown as "fewer than N", so that
    # a small district group's votes cannot be traced to the people in it.
    suppressed: bool = False


@dataclass
class SegmentResult:
    attribute: str
    heading: str
    groups: list[Group]
    test: GroupTest
    not_given: int


@dataclass
class PreviousResult:
    label: str
    counts: tuple[int, ...]
    figures: Figures
    median_change: float | None
    sentence: str


@dataclass
class StrandResult:
    key: str
    label: str
    name: str
    counts: tuple[int, ...]
    figures: Figures
    desk: Desk | None
    desk_label: str
    comparison: DeskComparison | None
    sentence: str
    agreed_label: str
    next_steps: str
    forums: list[ForumResult] = field(default_factory=list)
    rounds: list[tuple[str, RoundChange]] = field(default_factory=list)
    segments: list[SegmentResult] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    previous: PreviousResult | None = None
    # The desk team's key evidence and its sources: the rating's "why", in every output.
    desk_evidence: str = ""
    desk_sources: str = ""

    @property
    def forums_covering(self) -> int:
        return len(self.forums)


@dataclass
class Results:
    assessment: Assessment
    framework: Framework
    level_names: tuple[str, ...]
    strands: list[StrandResult]
    sessions: list[VotingSession]
    min_group_size: int
    compared_with: Assessment | None = None

    @property
    def purged_sessions(self) -> list[VotingSession]:
        """Sessions whose raw votes were deleted: in the totals, not in the groups."""
        return [s for s in self.sessions if s.purged_at is not None]

    @property
    def most_covered(self) -> list[StrandResult]:
        return _extremes(self.strands, max)

    @property
    def least_covered(self) -> list[StrandResult]:
        return _extremes(self.strands, min)

    @property
    def split_strands(self) -> list[StrandResult]:
        return [s for s in self.strands if s.figures.split]


def _extremes(strands: list[StrandResult], pick: Any) -> list[StrandResult]:
    if not strands:
        return []
    target = pick(s.forums_covering for s in strands)
    return [s for s in strands if s.forums_covering == target]


def vote_rows(db: Session, assessment_id: int, session_id: int | None = None) -> list[VoteRow]:
    query = (
        select(
            Vote.session_id,
            Vote.strand_key,
            Vote.level,
            Participant.role,
            Participant.sector,
            Participant.locality,
            VotingSession.forum_type,
            VotingSession.name,
        )
        .join(StrandState, in_current_round(Vote))
        .join(Participant, Participant.id == Vote.participant_id)
        .join(VotingSession, VotingSession.id == Vote.session_id)
        .where(VotingSession.assessment_id == assessment_id)
    )
    if session_id is not None:
        query = query.where(Vote.session_id == session_id)
    return [VoteRow(*row) for row in db.execute(query)]


def _round_counts(
    db: Session, assessment_id: int, levels: int, session_id: int | None
) -> dict[tuple[int, str], dict[int, list[int]]]:
    """Counts per round for every (session, strand) that ran more than one round."""
    query = (
        select(Vote.session_id, Vote.strand_key, Vote.round, Vote.level, func.count())
        .join(VotingSession, VotingSession.id == Vote.session_id)
        .join(
            StrandState,
            and_(
                StrandState.session_id == Vote.session_id,
                StrandState.strand_key == Vote.strand_key,
            ),
        )
        .where(VotingSession.assessment_id == assessment_id, StrandState.round > 1)
        .group_by(Vote.session_id, Vote.strand_key, Vote.round, Vote.level)
    )
    if session_id is not None:
        query = query.where(Vote.session_id == session_id)
    found: dict[tuple[int, str], dict[int, list[int]]] = defaultdict(dict)
    for sid, key, rnd, level, n in db.execute(query):
        bucket = found[(sid, key)].setdefault(rnd, [0] * levels)
        if 1 <= level <= levels:
            bucket[level - 1] = n
    for place, by_round in _archived(db, assessment_id, levels, session_id, False).items():
        if len(by_round) > 1:
            found[place].update(by_round)
    return found


def _archived(
    db: Session, assessment_id: int, levels: int, session_id: int | None, current_only: bool
) -> dict[tuple[int, str], dict[int, list[int]]]:
    """Kept totals of sessions whose raw votes were deleted under retention, per round."""
    query = (
        select(
            ArchivedTally.session_id,
            ArchivedTally.strand_key,
            ArchivedTally.round,
            ArchivedTally.level,
            ArchivedTally.count,
        )
        .join(VotingSession, VotingSession.id == ArchivedTally.session_id)
        .join(
            StrandState,
            and_(
                StrandState.session_id == ArchivedTally.session_id,
                StrandState.strand_key == ArchivedTally.strand_key,
            ),
        )
        .where(VotingSession.assessment_id == assessment_id)
    )
    if current_only:
        query = query.where(StrandState.round == ArchivedTally.round)
    if session_id is not None:
        query = query.where(ArchivedTally.session_id == session_id)
    found: dict[tuple[int, str], dict[int, list[int]]] = defaultdict(dict)
    for sid, key, rnd, level, n in db.execute(query):
        bucket = found[(sid, key)].setdefault(rnd, [0] * levels)
        if 1 <= level <= levels:
            bucket[level - 1] += n
    return found


def _kept_counts(
    archived: dict[tuple[int, str], dict[int, list[int]]], session_id: int, key: str, levels: int
) -> list[int]:
    by_round = archived.get((session_id, key), {})
    return list(next(iter(by_round.values()))) if by_round else [0] * levels


def _comments(db: Session, assessment_id: int, session_id: int | None) -> dict[str, list[str]]:
    query = (
        select(Vote.strand_key, Vote.comment)
        .join(StrandState, in_current_round(Vote))
        .join(VotingSession, VotingSession.id == Vote.session_id)
        .where(
            VotingSession.assessment_id == assessment_id,
            Vote.comment.is_not(None),
            Vote.comment != "",
        )
        .order_by(Vote.id)
    )
    if session_id is not None:
        query = query.where(Vote.session_id == session_id)
    grouped: dict[str, list[str]] = defaultdict(list)
    for key, comment in db.execute(query):
        if comment:  # never None here (filtered above); the check tells the type checker
            grouped[key].append(comment)
    return grouped


def _desk_of(rating: DeskRating | AgreedRating | None) -> Desk | None:
    if rating is None or rating.level is None:
        return None
    return Desk(rating.level, rating.upper_level)


def _counts(levels_voted: list[int], levels: int) -> tuple[int, ...]:
    counts = [0] * levels
    for level in levels_voted:
        if 1 <= level <= levels:
            counts[level - 1] += 1
    return tuple(counts)


def _segment_value(row: VoteRow, attribute: str) -> str | None:
    if attribute == "role":
        return ROLE_CHOICES.get(row.role or "")
    if attribute == "forum_type":
        return FORUM_LABELS.get(row.forum_type, row.forum_type)
    if attribute == "session":
        return row.session
    return getattr(row, attribute)


def _segments(rows: list[VoteRow], levels: int, min_size: int) -> list[SegmentResult]:
    results = []
    for attribute, heading, what in SEGMENTS:
        grouped: dict[str, list[int]] = defaultdict(list)
        not_given = 0
        for row in rows:
            value = _segment_value(row, attribute)
            if value:
                grouped[value].append(row.level)
            else:
                not_given += 1
        groups, test = analysis.segment(dict(sorted(grouped.items())), levels, min_size, what)
        results.append(SegmentResult(attribute, heading, _protect(groups), test, not_given))
    return results


def _protect(groups: list[Group]) -> list[Group]:
    """Secondary suppression: with exactly one group hidden, the strand's total minus the groups
    shown would give it away, so the smallest shown group is hidden too."""
    hidden = [g for g in groups if g.suppressed and g.n > 0]
    shown = [g for g in groups if not g.suppressed and g.n > 0]
    if len(hidden) != 1 or not shown:
        return groups
    smallest = min(shown, key=lambda g: g.n)
    return [
        replace(g, suppressed=True, counts=None, median=None) if g is smallest else g
        for g in groups
    ]


def _protect_forums(forums: list[ForumResult]) -> None:
    """The same rule for forums: one small forum alone could be recovered from the total."""
    hidden = [f for f in forums if f.suppressed and f.figures.n > 0]
    shown = [f for f in forums if not f.suppressed and f.figures.n > 0]
    if len(hidden) == 1 and shown:
        min(shown, key=lambda f: f.figures.n).suppressed = True


def gather(
    db: Session,
    assessment_id: int,
    session_id: int | None = None,
    compare_id: int | None = None,
    min_group_size: int = analysis.DEFAULT_MIN_GROUP_SIZE,
) -> Results | None:
    assessment = db.get(Assessment, assessment_id)
    if assessment is None:
        return None
    framework = framework_of(assessment)
    levels = len(framework.levels)
    names = tuple(lv.name for lv in framework.levels)
    sessions = [s for s in assessment.sessions if session_id is None or s.id == session_id]
    desk = {d.strand_key: d for d in assessment.desk_ratings}
    agreed = {a.strand_key: a for a in assessment.agreed_ratings}
    rows = vote_rows(db, assessment_id, session_id)
    archived = _archived(db, assessment_id, levels, session_id, current_only=True)
    rounds = _round_counts(db, assessment_id, levels, session_id)
    comments = _comments(db, assessment_id, session_id)
    previous = _previous(db, assessment, compare_id, framework) if compare_id else None

    strands = []
    for strand in framework.strands:
        strand_rows = [r for r in rows if r.strand_key == strand.key]
        counts = analysis.combine(
            [
                _counts([r.level for r in strand_rows], levels),
                *(_kept_counts(archived, s.id, strand.key, levels) for s in sessions),
            ],
            levels,
        )
        figures = analysis.figures(counts, names)
        strand_desk = _desk_of(desk.get(strand.key))
        comparison = analysis.compare_with_desk(counts, strand_desk)
        result = StrandResult(
            key=strand.key,
            label=strand.label,
            name=strand.name,
            counts=counts,
            figures=figures,
            desk=strand_desk,
            desk_label=rating_label(framework, desk.get(strand.key)),
            comparison=comparison,
            sentence=analysis.describe(strand.name, figures, comparison, strand_desk, names),
            agreed_label=rating_label(framework, agreed.get(strand.key)),
            next_steps=agreed[strand.key].next_steps if strand.key in agreed else "",
            comments=comments.get(strand.key, []),
            desk_evidence=(desk[strand.key].evidence or "") if strand.key in desk else "",
            desk_sources=(desk[strand.key].sources or "") if strand.key in desk else "",
        )
        for session in sessions:
            if strand.key not in session.strand_keys:
                continue
            forum_counts = analysis.combine(
                [
                    _counts([r.level for r in strand_rows if r.session_id == session.id], levels),
                    _kept_counts(archived, session.id, strand.key, levels),
                ],
                levels,
            )
            result.forums.append(
                ForumResult(
                    session_id=session.id,
                    name=session.name,
                    forum_type=session.forum_type,
                    locality=session.locality,
                    counts=forum_counts,
                    figures=analysis.figures(forum_counts, names),
                    comparison=analysis.compare_with_desk(forum_counts, strand_desk),
                    suppressed=sum(forum_counts) < min_group_size,
                )
            )
        _protect_forums(result.forums)
        for forum in result.forums:
            # After suppression is settled: a hidden forum's rounds (or a round with fewer
            # voters than a group may have) would show the very counts the forum row hides.
            if forum.suppressed:
                continue
            by_round = rounds.get((forum.session_id, strand.key), {})
            for number in sorted(by_round)[1:]:
                # A round nobody voted in has no rows, so it is absent rather than all zeros.
                before, after = by_round.get(number - 1, [0] * levels), by_round[number]
                if min(sum(before), sum(after)) < min_group_size:
                    continue
                change = analysis.round_change(before, after, names)
                result.rounds.append((f"{forum.name}: round {number - 1} to {number}", change))
        result.segments = _segments(strand_rows, levels, min_group_size)
        if previous is not None:
            result.previous = _compare_strand(previous, strand.key, figures, names)
        strands.append(result)
    return Results(
        assessment=assessment,
        framework=framework,
        level_names=names,
        strands=strands,
        sessions=sessions,
        min_group_size=min_group_size,
        compared_with=previous[0] if previous else None,
    )


def _previous(
    db: Session, assessment: Assessment, compare_id: int, framework: Framework
) -> tuple[Assessment, dict[str, tuple[int, ...]]] | None:
    """Another assessment's current counts per strand, when it uses the same levels."""
    other = db.get(Assessment, compare_id)
    if other is None or other.id == assessment.id or other.owner_id != assessment.owner_id:
        return None
    other_framework = framework_of(other)
    if [lv.key for lv in other_framework.levels] != [lv.key for lv in framework.levels]:
        return None
    levels = len(framework.levels)
    grouped: dict[str, list[int]] = defaultdict(list)
    for row in vote_rows(db, other.id):
        grouped[row.strand_key].append(row.level)
    counts = {key: _counts(values, levels) for key, values in grouped.items()}
    # Last year's raw votes may be gone under retention; its kept totals still compare.
    for (_sid, key), by_round in _archived(db, other.id, levels, None, True).items():
        kept = next(iter(by_round.values()))
        counts[key] = analysis.combine([counts.get(key, (0,) * levels), kept], levels)
    return other, counts


def _compare_strand(
    previous: tuple[Assessment, dict[str, tuple[int, ...]]],
    key: str,
    now: Figures,
    names: tuple[str, ...],
) -> PreviousResult | None:
    other, counts_by_strand = previous
    if key not in counts_by_strand:
        return None
    counts = counts_by_strand[key]
    then = analysis.figures(counts, names)
    label = f"{other.area} {other.period}"
    change = None
    if then.median is not None and now.median is not None:
        change = now.median - then.median
    then_label = analysis.level_label(then.median, names)
    now_label = analysis.level_label(now.median, names)
    if change is None:
        sentence = f"Not enough votes to compare with {label}."
    elif change == 0:
        sentence = f"Median unchanged since {label}: {now_label}."
    else:
        direction = "up" if change > 0 else "down"
        sentence = f"Median {direction} since {label}: {then_label} then, {now_label} now."
    return PreviousResult(label, counts, then, change, sentence)


def comparable_assessments(db: Session, assessment: Assessment) -> list[Assessment]:
    """Other assessments of the same area (last year's, say), newest first."""
    return list(
        db.scalars(
            select(Assessment)
            .where(
                Assessment.area == assessment.area,
                Assessment.id != assessment.id,
                # Only the same account's: last year's of another area's account stays unseen.
                Assessment.owner_id.is_(None)
                if assessment.owner_id is None
                else Assessment.owner_id == assessment.owner_id,
            )
            .order_by(Assessment.id.desc())
        )
    )
