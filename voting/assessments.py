"""Setting up an assessment: its framework (parsed once and cached), desk and agreed ratings,
its sessions with their join codes, and the votes a facilitator records by hand.

Every function checks its input, refuses with a message when it does not apply, and otherwise
commits before returning.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from voting.database import Database
from voting.frameworks import Framework, parse
from voting.models import (
    ACTION_STATUSES,
    FORUM_TYPES,
    HAND_METHODS,
    OPEN_ACTION_STATUSES,
    PACINGS,
    VOTE_METHODS,
    Action,
    AgreedRating,
    Assessment,
    DeskRating,
    HandCount,
    StrandRating,
    StrandState,
    Vote,
    VotingSession,
    utcnow,
)
from voting.validation import Refusal

# No 0/O, 1/I/L: the code is read off a screen at the back of a hall.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6


# Parsed frameworks by assessment. An assessment's copy of its framework is written once, when
# the assessment is made, so a parsed copy never goes stale; the creation time in the key keeps
# a reused id (SQLite, after a deletion) from finding another assessment's framework. Parsing on
# every join and every snapshot was a third of a join's server time.
_PARSED: OrderedDict[tuple[int, datetime | None], Framework] = OrderedDict()
_PARSED_LIMIT = 256
_PARSED_LOCK = threading.Lock()


def framework_of(assessment: Assessment) -> Framework:
    if assessment.id is None:  # not stored yet: nothing to key it by
        return parse(assessment.framework, "the new assessment")
    key = (assessment.id, assessment.created_at)
    with _PARSED_LOCK:
        found = _PARSED.get(key)
        if found is not None:
            _PARSED.move_to_end(key)
            return found
    framework = parse(assessment.framework, f"assessment {assessment.id}")
    with _PARSED_LOCK:
        _PARSED[key] = framework
        while len(_PARSED) > _PARSED_LIMIT:
            _PARSED.popitem(last=False)
    return framework


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def create_assessment(
    database: Database,
    area: str,
    period: str,
    framework: Framework,
    localities: list[str],
    owner_id: int | None = None,
) -> int:
    with database.write() as db:
        assessment = Assessment(
            owner_id=owner_id,
            area=area,
            period=period,
            framework_id=framework.id,
            framework=framework.to_dict(),
            level_count=len(framework.levels),
            localities=localities,
        )
        db.add(assessment)
        db.flush()
        return assessment.id


@dataclass(frozen=True)
class DeskEntry:
    strand_key: str
    level: int | None
    upper_level: int | None
    evidence: str
    sources: str


def save_desk_ratings(database: Database, assessment_id: int, entries: list[DeskEntry]) -> None:
    _save_ratings(database, assessment_id, entries, DeskRating, ("evidence", "sources"))


@dataclass(frozen=True)
class AgreedEntry:
    strand_key: str
    level: int | None
    upper_level: int | None
    next_steps: str


def save_agreed_ratings(database: Database, assessment_id: int, entries: list[AgreedEntry]) -> None:
    _save_ratings(database, assessment_id, entries, AgreedRating, ("next_steps",))


def _save_ratings(
    database: Database,
    assessment_id: int,
    entries: list[DeskEntry] | list[AgreedEntry],
    model: type[StrandRating],
    texts: tuple[str, ...],
) -> None:
    """Upsert one rating row per strand (desk or agreed), all or nothing."""
    with database.write() as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None:
            raise Refusal("That assessment no longer exists.")
        framework = framework_of(assessment)
        existing = {
            r.strand_key: r
            for r in db.scalars(select(model).where(model.assessment_id == assessment_id))
        }
        for entry in entries:
            if framework.strand(entry.strand_key) is None:
                raise Refusal(f"Unknown strand {entry.strand_key!r}.")
            _check_levels(entry, len(framework.levels))
            row = existing.get(entry.strand_key)
            if row is None:
                row = model()  # (the mixin's type knows no constructor arguments)
                row.assessment_id = assessment_id
                row.strand_key = entry.strand_key
                db.add(row)
            row.level = entry.level
            row.upper_level = entry.upper_level
            for name in texts:
                setattr(row, name, getattr(entry, name))


def _check_levels(entry: DeskEntry | AgreedEntry, levels: int) -> None:
    if entry.level is None:
        if entry.upper_level is not None:
            raise Refusal("A split rating needs both of its levels.")
        return
    if not 1 <= entry.level <= levels:
        raise Refusal("Choose a level from the list.")
    if entry.upper_level is not None and entry.upper_level != entry.level + 1:
        raise Refusal("A split rating must span two adjacent levels, such as Developing/Maturing.")
    # "4-5" on a four-level model is adjacent but has no fifth level: stored, it would read
    # "Mature/" and fail the desk comparison on every results page.
    if entry.upper_level is not None and entry.upper_level > levels:
        raise Refusal("Choose a level from the list.")


@dataclass(frozen=True)
class SessionSpec:
    name: str
    held_on: date | None
    forum_type: str
    locality: str
    strand_keys: list[str]
    pacing: str
    closes_at: datetime | None
    collect_profile: bool
    method: str = "phones"
    # "Live bars while voting": off by default, since a running tally anchors the room.
    live_results: bool = False


def create_session(database: Database, assessment_id: int, spec: SessionSpec) -> int:
    if spec.forum_type not in FORUM_TYPES or spec.pacing not in PACINGS:
        raise Refusal("Choose a forum type and a pacing from the lists.")
    if spec.method not in VOTE_METHODS:
        raise Refusal("Choose how the forum votes from the list.")
    if not spec.strand_keys:
        raise Refusal("Choose at least one strand for this session.")
    for _ in range(10):
        try:
            return _insert_session(database, assessment_id, spec, new_join_code())
        except IntegrityError:
            continue  # the join code was taken; draw another
    raise RuntimeError("could not find a free join code")


def _insert_session(database: Database, assessment_id: int, spec: SessionSpec, code: str) -> int:
    with database.write() as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None:
            raise Refusal("That assessment no longer exists.")
        framework = framework_of(assessment)
        unknown = [k for k in spec.strand_keys if framework.strand(k) is None]
        if unknown:
            raise Refusal(f"Unknown strand {unknown[0]!r}.")
        ordered = [s.key for s in framework.strands if s.key in set(spec.strand_keys)]
        session = VotingSession(
            assessment_id=assessment_id,
            name=spec.name,
            held_on=spec.held_on,
            forum_type=spec.forum_type,
            locality=spec.locality,
            strand_keys=ordered,
            pacing=spec.pacing,
            closes_at=spec.closes_at,
            collect_profile=spec.collect_profile,
            method=spec.method,
            live_results=spec.live_results,
            join_code=code,
            current_strand=ordered[0] if spec.pacing == "live" else None,
        )
        db.add(session)
        db.flush()
        db.add_all(StrandState(session_id=session.id, strand_key=k) for k in ordered)
        return session.id


# --------------------------------------------------------------------------------------------
# Votes recorded by hand

MAX_HAND_COUNT = 10_000


def _hand_session(db: Session, session_id: int) -> tuple[VotingSession, Framework]:
    session = db.get(VotingSession, session_id)
    if session is None:
        raise Refusal("That session no longer exists.")
    return session, framework_of(session.assessment)


def save_hand_counts(
    database: Database, session_id: int, method: str, counts: dict[str, list[int]]
) -> None:
    """Set a forum's votes recorded by one method (a show of hands, paper forms, email...):
    per strand, the number of votes per level, in each strand's current round. Replaces what
    that method recorded before for those strands; all or nothing."""
    if method not in HAND_METHODS:
        raise Refusal("Choose how these votes were cast: paper, email, show of hands or survey.")
    with database.write() as db:
        session, framework = _hand_session(db, session_id)
        levels = len(framework.levels)
        states = {s.strand_key: s for s in session.strand_states}
        for key, per_level in counts.items():
            if key not in states:
                raise Refusal(f"{key!r} is not a strand of this session.")
            if len(per_level) != levels:
                raise Refusal(f"Give a count for each of the {levels} levels.")
            if any(not 0 <= n <= MAX_HAND_COUNT for n in per_level):
                raise Refusal(f"Each count must be a whole number from 0 to {MAX_HAND_COUNT}.")
        for key, per_level in counts.items():
            state = states[key]
            existing = {
                h.level: h
                for h in db.scalars(
                    select(HandCount).where(
                        HandCount.session_id == session_id,
                        HandCount.strand_key == key,
                        HandCount.round == state.round,
                        HandCount.method == method,
                    )
                )
            }
            for level, n in enumerate(per_level, start=1):
                row = existing.get(level)
                if n == 0:
                    if row is not None:
                        db.delete(row)
                    continue
                if row is None:
                    row = HandCount(
                        session_id=session_id,
                        strand_key=key,
                        round=state.round,
                        level=level,
                        method=method,
                        count=0,
                    )
                    db.add(row)
                row.count = n
                row.recorded_at = utcnow()


def add_paper_slip(database: Database, session_id: int, strand_key: str, level: int) -> str:
    """One vote on paper from a partner without a phone, added to the strand's current round
    while the strand is open; returns a line for the facilitator."""
    with database.write() as db:
        session, framework = _hand_session(db, session_id)
        state = next((s for s in session.strand_states if s.strand_key == strand_key), None)
        strand = framework.strand(strand_key)
        if state is None or strand is None:
            raise Refusal("That strand is not part of this session.")
        if not 1 <= level <= len(framework.levels):
            raise Refusal("Choose a level from the list.")
        if state.status != "open":
            raise Refusal(f"Voting on {strand.name} is not open, so a slip cannot be added.")
        row = db.scalar(
            select(HandCount).where(
                HandCount.session_id == session_id,
                HandCount.strand_key == strand_key,
                HandCount.round == state.round,
                HandCount.level == level,
                HandCount.method == "paper",
            )
        )
        if row is None:
            row = HandCount(
                session_id=session_id,
                strand_key=strand_key,
                round=state.round,
                level=level,
                method="paper",
                count=0,
            )
            db.add(row)
        row.count += 1
        row.recorded_at = utcnow()
        return f"Paper slip added: {framework.level_name(level)} on {strand.name}."


def parse_hand_counts_csv(
    text: str, framework: Framework, strand_keys: list[str]
) -> dict[str, list[int]]:
    """Counts from a CSV with the columns strand, level and count: a strand by its key, number
    or name, a level by its number or name. Every problem is refused with its line number."""
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
    if not {"strand", "level", "count"} <= set(fields):
        raise Refusal("The CSV needs a header row with the columns strand, level and count.")
    levels = len(framework.levels)
    counts: dict[str, list[int]] = {}
    for line, row in enumerate(reader, start=2):
        if line > 1000:
            raise Refusal("The CSV has more than 1,000 rows.")
        raw_strand = (row.get(fields["strand"]) or "").strip()
        raw_level = (row.get(fields["level"]) or "").strip()
        raw_count = (row.get(fields["count"]) or "").strip()
        if not (raw_strand or raw_level or raw_count):
            continue
        strand = next(
            (
                s
                for s in framework.strands
                if raw_strand
                and raw_strand.lower() in (s.key, str(s.number), s.name.lower(), s.label.lower())
            ),
            None,
        )
        if strand is None or strand.key not in strand_keys:
            raise Refusal(f"Line {line}: {raw_strand!r} is not a strand of this session.")
        level = next(
            (
                lv.number
                for lv in framework.levels
                if raw_level.lower() in (str(lv.number), lv.key.lower(), lv.name.lower())
            ),
            None,
        )
        if level is None:
            raise Refusal(f"Line {line}: {raw_level!r} is not a level of the model.")
        if not (raw_count.isascii() and raw_count.isdigit() and len(raw_count) <= 5):
            raise Refusal(f"Line {line}: the count must be a whole number, not {raw_count!r}.")
        counts.setdefault(strand.key, [0] * levels)[level - 1] += int(raw_count)
    if not counts:
        raise Refusal("The CSV has no counts in it.")
    return counts


def recorded_by_hand(db: Session, session_id: int, levels: int) -> dict[str, dict[str, list[int]]]:
    """{method: {strand_key: [count per level]}} for each strand's current round."""
    rows = db.execute(
        select(HandCount.method, HandCount.strand_key, HandCount.level, HandCount.count)
        .join(
            StrandState,
            (StrandState.session_id == HandCount.session_id)
            & (StrandState.strand_key == HandCount.strand_key)
            & (StrandState.round == HandCount.round),
        )
        .where(HandCount.session_id == session_id)
    )
    found: dict[str, dict[str, list[int]]] = {}
    for method, key, level, n in rows:
        if 1 <= level <= levels:
            found.setdefault(method, {}).setdefault(key, [0] * levels)[level - 1] += n
    return found


def save_sectors(
    database: Database, assessment_id: int, sectors: list[str], core: list[str]
) -> None:
    """An assessment's own list of sectors for phones to choose from, and which of them are
    its core partners (checked for in the forum register)."""
    sectors = list(dict.fromkeys(" ".join(s.split())[:80] for s in sectors if s.strip()))
    core = list(dict.fromkeys(" ".join(s.split())[:80] for s in core if s.strip()))
    if not sectors:
        raise Refusal("List at least one sector, one per line.")
    if len(sectors) > 60:
        raise Refusal("List at most 60 sectors.")
    missing = [c for c in core if c not in sectors]
    if missing:
        raise Refusal(f"Core partner {missing[0]!r} is not in the list of sectors.")
    with database.write() as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None:
            raise Refusal("That assessment no longer exists.")
        assessment.sectors = sectors
        assessment.core_partners = core


def moderate_comment(
    database: Database, assessment_id: int, vote_id: int, hide: bool, reason: str
) -> None:
    """Hide a comment from every circulated output, with the reason (or show it again). The
    vote itself is untouched and still counts."""
    reason = " ".join(reason.split())[:500]
    if hide and not reason:
        raise Refusal("Give a reason for hiding the comment; it is kept with the assessment.")
    with database.write() as db:
        vote = db.get(Vote, vote_id)
        if vote is None or not vote.comment:
            raise Refusal("That comment no longer exists.")
        session = db.get(VotingSession, vote.session_id)
        if session is None or session.assessment_id != assessment_id:
            raise Refusal("That comment is not part of this assessment.")
        vote.comment_hidden_reason = reason if hide else None
        vote.comment_hidden_at = utcnow() if hide else None


def comments_for_moderation(db: Session, assessment_id: int) -> list[tuple[Vote, str]]:
    """Every current comment of the assessment with its session's name, oldest first."""
    return [
        (vote, name)
        for vote, name in db.execute(
            select(Vote, VotingSession.name)
            .join(VotingSession, VotingSession.id == Vote.session_id)
            .join(
                StrandState,
                (StrandState.session_id == Vote.session_id)
                & (StrandState.strand_key == Vote.strand_key)
                & (StrandState.round == Vote.round),
            )
            .where(
                VotingSession.assessment_id == assessment_id,
                Vote.comment.is_not(None),
                Vote.comment != "",
            )
            .order_by(Vote.session_id, Vote.strand_key, Vote.id)
        ).all()
    ]


# --------------------------------------------------------------------------------------------
# The action plan


def add_action(
    database: Database,
    assessment_id: int,
    strand_key: str,
    text: str,
    owner: str,
    due_on: date | None,
    status: str,
) -> None:
    text = text.strip()[:2000]
    if not text:
        raise Refusal("Describe the action.")
    if status not in ACTION_STATUSES:
        raise Refusal("Choose a status from the list.")
    with database.write() as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None:
            raise Refusal("That assessment no longer exists.")
        if framework_of(assessment).strand(strand_key) is None:
            raise Refusal("Choose a strand from the list.")
        db.add(
            Action(
                assessment_id=assessment_id,
                strand_key=strand_key,
                text=text,
                owner=" ".join(owner.split())[:120],
                due_on=due_on,
                status=status,
            )
        )


def set_action_status(database: Database, assessment_id: int, action_id: int, status: str) -> None:
    if status not in ACTION_STATUSES:
        raise Refusal("Choose a status from the list.")
    with database.write() as db:
        action = db.get(Action, action_id)
        if action is None or action.assessment_id != assessment_id:
            raise Refusal("That action is not part of this assessment.")
        action.status = status


def carry_over_actions(database: Database, assessment_id: int, from_id: int) -> int:
    """Copy an earlier assessment's open actions (planned or under way) of the same area into
    this one, each linked to the one it came from; returns how many. Carrying twice adds none."""
    with database.write() as db:
        target = db.get(Assessment, assessment_id)
        source = db.get(Assessment, from_id)
        if target is None or source is None or source.id == target.id:
            raise Refusal("Choose an earlier assessment of the same area.")
        if source.area != target.area or source.owner_id != target.owner_id:
            raise Refusal("Choose an earlier assessment of the same area.")
        strands = {s.key for s in framework_of(target).strands}
        done = set(
            db.scalars(
                select(Action.carried_from_id).where(
                    Action.assessment_id == assessment_id, Action.carried_from_id.is_not(None)
                )
            )
        )
        carried = 0
        for action in db.scalars(
            select(Action)
            .where(Action.assessment_id == from_id, Action.status.in_(OPEN_ACTION_STATUSES))
            .order_by(Action.id)
        ):
            if action.id in done or action.strand_key not in strands:
                continue
            db.add(
                Action(
                    assessment_id=assessment_id,
                    strand_key=action.strand_key,
                    text=action.text,
                    owner=action.owner,
                    due_on=action.due_on,
                    status=action.status,
                    carried_from_id=action.id,
                )
            )
            carried += 1
        return carried
