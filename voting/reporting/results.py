"""Results of an assessment: the votes gathered from the database into the figures of
`analysis`, per strand, per forum, per round and per group of participants.

Only current votes count (each strand's latest round in each session); earlier rounds appear
in `rounds` so the facilitator can see how discussion moved the room.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from voting import analysis
from voting.analysis import Desk, DeskComparison, Figures, GroupTest, RoundChange
from voting.assessments import framework_of
from voting.disclosure import SMALL
from voting.frameworks import Framework
from voting.labels import ACTION_STATUS_LABELS, FORUM_LABELS, ROLE_CHOICES, rating_label
from voting.models import (
    Action,
    AgreedRating,
    ArchivedTally,
    Assessment,
    DeskRating,
    HandCount,
    Participant,
    StrandState,
    Vote,
    VotingSession,
)
from voting.reporting.disclosure import WITHIN, ForumFacts, Key, decide, hidden_words, strand_cells
from voting.reporting.register import Register, forum_register
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
    counts: tuple[int, ...]  # all zeros when hidden: a hidden forum carries no figure at all
    figures: Figures
    comparison: DeskComparison | None
    # Why the forum is hidden (disclosure.SMALL or PROTECTS), None when shown: see
    # voting/reporting/disclosure.py.
    hidden: str | None = None

    @property
    def suppressed(self) -> bool:
        return self.hidden is not None


@dataclass(frozen=True)
class GroupResult:
    """One group of a breakdown (by role, sector...): its figures, or why they are hidden."""

    label: str
    n: int | None  # None when hidden
    counts: tuple[int, ...] | None
    median: float | None
    hidden: str | None = None

    @property
    def suppressed(self) -> bool:
        return self.hidden is not None


@dataclass
class SegmentResult:
    attribute: str
    heading: str
    groups: list[GroupResult]
    test: GroupTest
    not_given: int | None  # people who did not say; None when that count is hidden
    not_given_hidden: str | None = None


@dataclass
class PreviousResult:
    label: str
    counts: tuple[int, ...]
    figures: Figures
    median_change: float | None
    sentence: str


@dataclass(frozen=True)
class TrendYear:
    """One assessment's ratings per strand, for the trend over years: strand key -> (desk,
    partners' median, agreed), as words ("" where there is none or it is hidden) and as
    positions on the level scale for the chart (None where the words are "")."""

    label: str
    ratings: dict[str, tuple[str, str, str]]
    values: dict[str, tuple[float | None, float | None, float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionView:
    text: str
    owner: str
    due: str  # ISO date or ""
    status: str  # the words, e.g. "Under way"
    # For last time's actions: what became of it here ("Done", or "" when not carried over).
    now: str = ""


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
    # The agreed rating as a level (or two adjacent ones), like the desk's: None if not agreed.
    agreed: Desk | None = None
    forums: list[ForumResult] = field(default_factory=list)
    rounds: list[tuple[str, RoundChange]] = field(default_factory=list)
    segments: list[SegmentResult] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    previous: PreviousResult | None = None
    # The desk team's key evidence and its sources: the rating's "why", in every output.
    desk_evidence: str = ""
    desk_sources: str = ""
    # Why the strand's own figures are hidden (disclosure.SMALL or PROTECTS), None if shown.
    hidden: str | None = None
    # Forums (big enough to be shown) whose own votes split on this strand: pooling forums can
    # average a split away, as Hertfordshire's Delivery strand showed (docs/analysis.md).
    split_forums: list[str] = field(default_factory=list)
    actions: list[ActionView] = field(default_factory=list)
    previous_actions: list[ActionView] = field(default_factory=list)

    @property
    def splits_room(self) -> bool:
        """Split in the pooled votes or in any forum shown."""
        return self.figures.split or bool(self.split_forums)

    @property
    def split_reason(self) -> str:
        """Why it is flagged, in words: the pooled reason, then the forums where it split."""
        reasons = [self.figures.split_reason] if self.figures.split_reason else []
        if self.split_forums:
            reasons.append("split in " + analysis.join_names(self.split_forums))
        return "; ".join(reasons)

    @property
    def forums_covering(self) -> int:
        return len(self.forums)

    @property
    def voted(self) -> bool:
        """Anyone voted on it (a strand whose figures are hidden was voted on): a strand nobody
        voted on has no figures to show, only that."""
        return self.figures.n > 0 or self.hidden is not None


@dataclass
class Results:
    assessment: Assessment
    framework: Framework
    level_names: tuple[str, ...]
    strands: list[StrandResult]
    sessions: list[VotingSession]
    min_group_size: int
    compared_with: Assessment | None = None
    register: Register | None = None
    # The earlier assessment whose actions the report follows up ("last time").
    actions_from: Assessment | None = None
    # Earlier assessments of the same area, oldest first, then this one (empty if none).
    trend: list[TrendYear] = field(default_factory=list)

    @property
    def purged_sessions(self) -> list[VotingSession]:
        """Sessions whose raw votes were deleted: in the totals, not in the groups."""
        return [s for s in self.sessions if s.purged_at is not None]

    @property
    def most_covered(self) -> list[StrandResult]:
        """Of the strands voted on (one nobody voted on is not "covered" by anyone)."""
        return _extremes([s for s in self.strands if s.voted], max)

    @property
    def least_covered(self) -> list[StrandResult]:
        return _extremes([s for s in self.strands if s.voted], min)

    @property
    def not_voted(self) -> list[StrandResult]:
        return [s for s in self.strands if not s.voted]

    @property
    def split_strands(self) -> list[StrandResult]:
        return [s for s in self.strands if s.splits_room]


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
    return [VoteRow(*row) for row in db.execute(query)] + _hand_rows(db, assessment_id, session_id)


def _hand_rows(db: Session, assessment_id: int, session_id: int | None) -> list[VoteRow]:
    """Votes recorded by hand, one row per vote counted, so that they pool with the phones'
    in every figure and pass the same disclosure control. Nobody said anything about
    themselves on a show of hands, so they count as "did not say" in the breakdowns."""
    query = (
        select(
            HandCount.session_id,
            HandCount.strand_key,
            HandCount.level,
            HandCount.count,
            VotingSession.forum_type,
            VotingSession.name,
        )
        .join(StrandState, in_current_round(HandCount))
        .join(VotingSession, VotingSession.id == HandCount.session_id)
        .where(VotingSession.assessment_id == assessment_id)
        .order_by(HandCount.id)
    )
    if session_id is not None:
        query = query.where(HandCount.session_id == session_id)
    return [
        VoteRow(sid, key, level, None, None, None, forum_type, name)
        for sid, key, level, count, forum_type, name in db.execute(query)
        for _ in range(count)
    ]


def _round_counts(
    db: Session, assessment_id: int, levels: int, session_id: int | None
) -> dict[tuple[int, str], dict[int, list[int]]]:
    """Counts per round for every (session, strand) that ran more than one round."""
    query = _with_later_rounds(
        select(Vote.session_id, Vote.strand_key, Vote.round, Vote.level, func.count()),
        Vote,
        assessment_id,
        session_id,
    ).group_by(Vote.session_id, Vote.strand_key, Vote.round, Vote.level)
    found: dict[tuple[int, str], dict[int, list[int]]] = defaultdict(dict)
    for sid, key, rnd, level, n in db.execute(query):
        bucket = found[(sid, key)].setdefault(rnd, [0] * levels)
        if 1 <= level <= levels:
            bucket[level - 1] = n
    # Paper slips handed in during a round belong to that round, as a phone's vote does.
    hand = _with_later_rounds(
        select(
            HandCount.session_id,
            HandCount.strand_key,
            HandCount.round,
            HandCount.level,
            HandCount.count,
        ),
        HandCount,
        assessment_id,
        session_id,
    )
    for sid, key, rnd, level, n in db.execute(hand):
        bucket = found[(sid, key)].setdefault(rnd, [0] * levels)
        if 1 <= level <= levels:
            bucket[level - 1] += n
    for place, by_round in _archived(db, assessment_id, levels, session_id, False).items():
        if len(by_round) > 1:
            found[place].update(by_round)
    return found


def _with_later_rounds(
    query: Any, table: type[Vote] | type[HandCount], assessment_id: int, session_id: int | None
) -> Any:
    """`query` over votes or hand counts, kept to the assessment's (or one session's) strands
    that ran more than one round: the two sources a round change is counted from."""
    query = (
        query.join(VotingSession, VotingSession.id == table.session_id)
        .join(
            StrandState,
            and_(
                StrandState.session_id == table.session_id,
                StrandState.strand_key == table.strand_key,
            ),
        )
        .where(VotingSession.assessment_id == assessment_id, StrandState.round > 1)
    )
    return query if session_id is None else query.where(table.session_id == session_id)


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
            # Hidden by the facilitator: in the raw download only.
            Vote.comment_hidden_at.is_(None),
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


@dataclass
class _Context:
    """What every strand of one gather shares."""

    framework: Framework
    names: tuple[str, ...]
    sessions: list[VotingSession]  # every session of the assessment: disclosure sees them all
    facts: list[ForumFacts]
    desk: dict[str, DeskRating]
    agreed: dict[str, AgreedRating]
    rows: list[VoteRow]
    archived: dict[tuple[int, str], dict[int, list[int]]]
    rounds: dict[tuple[int, str], dict[int, list[int]]]
    comments: dict[str, list[str]]
    min_size: int

    @property
    def levels(self) -> int:
        return len(self.names)


@dataclass
class _StrandData:
    """One strand's raw figures, before disclosure control: never shown as they are."""

    forums: dict[int, tuple[int, ...]]
    total: tuple[int, ...]
    # (attribute, value) -> scores, across forums; value None = the participant did not say
    groups: dict[tuple[str, str | None], list[int]]
    # (session id, attribute, value) -> scores within one forum
    session_groups: dict[tuple[int, str, str | None], list[int]]


def _strand_data(ctx: _Context, key: str) -> _StrandData:
    strand_rows = [r for r in ctx.rows if r.strand_key == key]
    forums = {}
    for session in ctx.sessions:
        if key not in session.strand_keys:
            continue
        forums[session.id] = analysis.combine(
            [
                _counts([r.level for r in strand_rows if r.session_id == session.id], ctx.levels),
                _kept_counts(ctx.archived, session.id, key, ctx.levels),
            ],
            ctx.levels,
        )
    groups: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    session_groups: dict[tuple[int, str, str | None], list[int]] = defaultdict(list)
    for row in strand_rows:
        if row.session_id not in forums:
            continue  # a vote outside the strands its session covers counts nowhere
        for attribute, _heading, _what in SEGMENTS:
            value = _segment_value(row, attribute) or None
            groups[(attribute, value)].append(row.level)
            if attribute in WITHIN:
                session_groups[(row.session_id, attribute, value)].append(row.level)
    return _StrandData(
        forums=forums,
        total=analysis.combine(forums.values(), ctx.levels),
        groups=dict(groups),
        session_groups=dict(session_groups),
    )


def _hidden_cells(ctx: _Context, data: _StrandData) -> dict[Key, str]:
    cells = strand_cells(
        total=data.total,
        forums=data.forums,
        facts=ctx.facts,
        groups={k: _counts(v, ctx.levels) for k, v in data.groups.items()},
        session_groups={k: _counts(v, ctx.levels) for k, v in data.session_groups.items()},
    )
    return decide(cells, ctx.min_size)


def _group_results(
    scores_by_label: dict[str, list[int]],
    reasons: dict[str, str | None],
    ctx: _Context,
    what: str,
) -> tuple[list[GroupResult], GroupTest]:
    """A breakdown's groups as shown, and the test between the groups shown (and only them)."""
    shown = {label: s for label, s in scores_by_label.items() if reasons[label] is None}
    groups_shown, test = analysis.segment(shown, ctx.levels, 0, what, ctx.names)
    by_label = {g.label: g for g in groups_shown}
    results = []
    for label in scores_by_label:
        reason = reasons[label]
        if reason is not None:
            results.append(GroupResult(label, None, None, None, reason))
        else:
            g = by_label[label]
            results.append(GroupResult(label, g.n, g.counts, g.median))
    if test.p_value is None and len(shown) < 2 and len(scores_by_label) >= 2:
        # Never a sentence about groups that cannot be shown, and never a p-value for one.
        sentence = "Fewer than two groups can be shown, so they are not compared."
        test = GroupTest((), None, None, None, sentence)
    return results, test


def _segment_results(
    ctx: _Context, data: _StrandData, hidden: dict[Key, str], session_id: int | None
) -> list[SegmentResult]:
    results = []
    for attribute, heading, what in SEGMENTS:
        if session_id is None:
            found = {v: s for (a, v), s in data.groups.items() if a == attribute}
            cell: Any = lambda v, a=attribute: ("group", a, v)  # noqa: E731
        elif attribute in WITHIN:
            found = {
                v: s
                for (sid, a, v), s in data.session_groups.items()
                if sid == session_id and a == attribute
            }
            cell = lambda v, a=attribute: ("sgroup", session_id, a, v)  # noqa: E731
        else:
            continue  # one forum is one kind of forum and one session: nothing to compare
        named = {v: s for v, s in sorted(found.items(), key=lambda kv: kv[0] or "") if v}
        reasons = {v: hidden.get(cell(v)) for v in named}
        groups, test = _group_results(dict(named), reasons, ctx, what)
        not_given = len(found.get(None, []))
        ng_reason = hidden.get(cell(None)) if not_given else None
        results.append(
            SegmentResult(
                attribute,
                heading,
                groups,
                test,
                None if ng_reason else not_given,
                ng_reason,
            )
        )
    return results


def _hidden_sentence(name: str, reason: str, min_size: int) -> str:
    if reason == SMALL:
        return f"Votes on {name} are not shown: fewer than {min_size} people voted."
    return (
        f"Votes on {name} are not shown: {hidden_words(reason, min_size)} from the other figures."
    )


def _forum_result(
    ctx: _Context,
    session: VotingSession,
    counts: tuple[int, ...],
    desk: Desk | None,
    reason: str | None,
) -> ForumResult:
    if reason is not None:
        counts = (0,) * ctx.levels
    return ForumResult(
        session_id=session.id,
        name=session.name,
        forum_type=session.forum_type,
        locality=session.locality,
        counts=counts,
        figures=analysis.figures(counts, ctx.names),
        comparison=None if reason else analysis.compare_with_desk(counts, desk),
        hidden=reason,
    )


def split_forum(forum: ForumResult) -> bool:
    """A forum counts towards a strand's split flag only when it is shown: a hidden forum's
    split would tell readers something about the few people in it."""
    return not forum.suppressed and forum.figures.split


def _round_results(
    ctx: _Context, key: str, forums: list[ForumResult]
) -> list[tuple[str, RoundChange]]:
    found = []
    for forum in forums:
        # A hidden forum's rounds (or a round with fewer voters than a group may have) would
        # show the very counts the forum row hides. Earlier rounds are in no other table.
        if forum.suppressed:
            continue
        by_round = ctx.rounds.get((forum.session_id, key), {})
        for number in sorted(by_round)[1:]:
            # A round nobody voted in has no rows, so it is absent rather than all zeros.
            before, after = by_round.get(number - 1, [0] * ctx.levels), by_round[number]
            if min(sum(before), sum(after)) < ctx.min_size:
                continue
            change = analysis.round_change(before, after, ctx.names)
            found.append((f"{forum.name}: round {number - 1} to {number}", change))
    return found


def _strand_result(
    ctx: _Context, strand: Any, session_id: int | None, previous: Any
) -> StrandResult:
    data = _strand_data(ctx, strand.key)
    hidden = _hidden_cells(ctx, data)
    strand_desk = _desk_of(ctx.desk.get(strand.key))
    by_id = {s.id: s for s in ctx.sessions}
    if session_id is None:
        counts, reason = data.total, hidden.get(("total",))
        forum_ids = list(data.forums)
    else:
        forum_ids = [session_id] if session_id in data.forums else []
        counts = data.forums.get(session_id, (0,) * ctx.levels)
        reason = hidden.get(("forum", session_id))
    if reason is not None:
        counts = (0,) * ctx.levels
    figures = analysis.figures(counts, ctx.names)
    comparison = None if reason else analysis.compare_with_desk(counts, strand_desk)
    sentence = (
        _hidden_sentence(strand.name, reason, ctx.min_size)
        if reason
        else analysis.describe(strand.name, figures, comparison, strand_desk, ctx.names)
    )
    result = StrandResult(
        key=strand.key,
        label=strand.label,
        name=strand.name,
        counts=counts,
        figures=figures,
        desk=strand_desk,
        desk_label=rating_label(ctx.framework, ctx.desk.get(strand.key)),
        comparison=comparison,
        sentence=sentence,
        agreed_label=rating_label(ctx.framework, ctx.agreed.get(strand.key)),
        agreed=_desk_of(ctx.agreed.get(strand.key)),
        next_steps=ctx.agreed[strand.key].next_steps if strand.key in ctx.agreed else "",
        comments=ctx.comments.get(strand.key, []),
        desk_evidence=(ctx.desk[strand.key].evidence or "") if strand.key in ctx.desk else "",
        desk_sources=(ctx.desk[strand.key].sources or "") if strand.key in ctx.desk else "",
        hidden=reason,
    )
    result.forums = [
        _forum_result(ctx, by_id[sid], data.forums[sid], strand_desk, hidden.get(("forum", sid)))
        for sid in forum_ids
    ]
    if len(result.forums) > 1:
        # With one forum its votes are the pooled votes: nothing more to name.
        result.split_forums = [f.name for f in result.forums if split_forum(f)]
    if result.split_forums and not figures.split:
        result.sentence += (
            " Pooled, the votes do not split, but the room split in "
            f"{analysis.join_names(result.split_forums)}."
        )
    result.rounds = _round_results(ctx, strand.key, result.forums)
    result.segments = _segment_results(ctx, data, hidden, session_id)
    if previous is not None:
        result.previous = _compare_strand(previous, strand.key, figures, ctx.names)
    return result


def gather(
    db: Session,
    assessment_id: int,
    session_id: int | None = None,
    compare_id: int | None = None,
    min_group_size: int = analysis.DEFAULT_MIN_GROUP_SIZE,
    trend: bool = True,
) -> Results | None:
    """The results of an assessment, or of one of its sessions, after disclosure control.

    Disclosure control always sees the whole assessment, so a session's page hides whatever
    the assessment's pages would let a reader work out from it, and the other way round."""
    assessment = db.get(Assessment, assessment_id)
    if assessment is None:
        return None
    framework = framework_of(assessment)
    levels = len(framework.levels)
    names = tuple(lv.name for lv in framework.levels)
    everything = list(assessment.sessions)
    ctx = _Context(
        framework=framework,
        names=names,
        sessions=everything,
        facts=[
            ForumFacts(
                s.id,
                s.name,
                FORUM_LABELS.get(s.forum_type, s.forum_type),
                s.purged_at is not None,
            )
            for s in everything
        ],
        desk={d.strand_key: d for d in assessment.desk_ratings},
        agreed={a.strand_key: a for a in assessment.agreed_ratings},
        rows=vote_rows(db, assessment_id),
        archived=_archived(db, assessment_id, levels, None, current_only=True),
        rounds=_round_counts(db, assessment_id, levels, session_id),
        comments=_comments(db, assessment_id, session_id),
        min_size=min_group_size,
    )
    previous = (
        _previous(db, assessment, compare_id, framework, min_group_size) if compare_id else None
    )
    strands = [_strand_result(ctx, s, session_id, previous) for s in framework.strands]
    shown_sessions = [s for s in everything if session_id is None or s.id == session_id]
    last_time = _attach_actions(db, assessment, strands)
    hidden_forums = {f.session_id for s in strands for f in s.forums if f.suppressed}
    return Results(
        assessment=assessment,
        framework=framework,
        level_names=names,
        strands=strands,
        sessions=shown_sessions,
        min_group_size=min_group_size,
        compared_with=previous[0] if previous else None,
        actions_from=last_time,
        trend=_trend(db, assessment, framework, strands, min_group_size) if trend else [],
        register=forum_register(
            db, assessment, framework, shown_sessions, hidden_forums, min_group_size
        ),
    )


def _previous(
    db: Session, assessment: Assessment, compare_id: int, framework: Framework, min_size: int
) -> tuple[Assessment, dict[str, tuple[int, ...]]] | None:
    """Another assessment's totals per strand as its own results show them (a total hidden
    there stays hidden here), when it uses the same levels."""
    other = db.get(Assessment, compare_id)
    if other is None or other.id == assessment.id or other.owner_id != assessment.owner_id:
        return None
    other_framework = framework_of(other)
    if [lv.key for lv in other_framework.levels] != [lv.key for lv in framework.levels]:
        return None
    theirs = gather(db, other.id, min_group_size=min_size, trend=False)
    if theirs is None:
        return None
    # Last year's raw votes may be gone under retention; gather counts its kept totals.
    counts = {s.key: s.counts for s in theirs.strands if s.hidden is None and s.figures.n}
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


def _year(label: str, strands: list[StrandResult], names: tuple[str, ...]) -> TrendYear:
    values = {
        s.key: (
            s.desk.value if s.desk else None,
            # A hidden strand's median stays hidden here too: the same rule as its own page.
            s.figures.median if s.hidden is None and s.figures.n else None,
            s.agreed.value if s.agreed else None,
        )
        for s in strands
    }
    return TrendYear(
        label,
        {
            key: (
                s.desk_label,
                "" if median is None else analysis.level_label(median, names),
                s.agreed_label,
            )
            for s, (key, (_, median, _)) in zip(strands, values.items(), strict=True)
        },
        values,
    )


def _trend(
    db: Session,
    assessment: Assessment,
    framework: Framework,
    strands: list[StrandResult],
    min_size: int,
) -> list[TrendYear]:
    """Every earlier assessment of the same area on the same levels, oldest first, and this
    one: desk, partners' and agreed ratings per strand per year."""
    names = tuple(lv.name for lv in framework.levels)
    keys = [lv.key for lv in framework.levels]
    years = []
    for other in reversed(comparable_assessments(db, assessment)):
        if other.id > assessment.id:
            continue
        if [lv.key for lv in framework_of(other).levels] != keys:
            continue
        theirs = gather(db, other.id, min_group_size=min_size, trend=False)
        if theirs is not None:
            years.append(_year(other.period, theirs.strands, names))
    if not years:
        return []
    return [*years, _year(assessment.period, strands, names)]


def _action_view(action: Action, now: Action | None = None) -> ActionView:
    return ActionView(
        text=action.text,
        owner=action.owner,
        due=action.due_on.isoformat() if action.due_on else "",
        status=ACTION_STATUS_LABELS.get(action.status, action.status),
        now="" if now is None else ACTION_STATUS_LABELS.get(now.status, now.status),
    )


def _attach_actions(
    db: Session, assessment: Assessment, strands: list[StrandResult]
) -> Assessment | None:
    """Each strand's action plan, and what became of the last assessment's actions: the
    newest earlier assessment of the same area, each action with its status there and, if it
    was carried over, its status now."""
    mine = list(
        db.scalars(select(Action).where(Action.assessment_id == assessment.id).order_by(Action.id))
    )
    by_key = {s.key: s for s in strands}
    for action in mine:
        if action.strand_key in by_key:
            by_key[action.strand_key].actions.append(_action_view(action))
    earlier = [a for a in comparable_assessments(db, assessment) if a.id < assessment.id]
    if not earlier:
        return None
    last = earlier[0]
    carried = {a.carried_from_id: a for a in mine if a.carried_from_id is not None}
    for action in db.scalars(
        select(Action).where(Action.assessment_id == last.id).order_by(Action.id)
    ):
        if action.strand_key in by_key:
            view = _action_view(action, carried.get(action.id))
            by_key[action.strand_key].previous_actions.append(view)
    return last if any(s.previous_actions for s in strands) else None


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
