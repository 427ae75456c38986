"""Setting up an assessment: its framework (parsed once and cached), desk and agreed ratings,
and its sessions with their join codes.

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

from voting.database import Database
from voting.frameworks import Framework, parse
from voting.models import (
    FORUM_TYPES,
    PACINGS,
    AgreedRating,
    Assessment,
    DeskRating,
    StrandRating,
    StrandState,
    VotingSession,
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


def create_session(database: Database, assessment_id: int, spec: SessionSpec) -> int:
    if spec.forum_type not in FORUM_TYPES or spec.pacing not in PACINGS:
        raise Refusal("Choose a forum type and a pacing from the lists.")
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
            join_code=code,
            current_strand=ordered[0] if spec.pacing == "live" else None,
        )
        db.add(session)
        db.flush()
        db.add_all(StrandState(session_id=session.id, strand_key=k) for k in ordered)
        return session.id
