"""The facilitator's side: assessments, desk ratings, sessions and running a session.

Every action checks its input, refuses with a message when it does not apply, and otherwise
commits before returning; the caller then broadcasts the new state.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from voting.database import Database
from voting.frameworks import Framework, parse
from voting.models import (
    FORUM_TYPES,
    PACINGS,
    AgreedRating,
    Assessment,
    DeskRating,
    StrandState,
    VotingSession,
    utcnow,
)
from voting.validation import Refusal, as_payload, bool_field, text_field
from voting.votes import NOT_IN_SESSION

# No 0/O, 1/I/L: the code is read off a screen at the back of a hall.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6
ACTIONS = (
    "start",
    "open",
    "close",
    "revote",
    "goto",
    "next",
    "previous",
    "results",
    "reveal",
    "end",
)


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
    model: type[DeskRating] | type[AgreedRating],
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
                row = model(assessment_id=assessment_id, strand_key=entry.strand_key)
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


def desk_label(framework: Framework, rating: DeskRating | AgreedRating | None) -> str:
    if rating is None or rating.level is None:
        return ""
    label = framework.level_name(rating.level)
    if rating.upper_level:
        label += "/" + framework.level_name(rating.upper_level)
    return label


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


def apply_action(database: Database, session_id: int, data: Any) -> str:
    """Carry out one console action; returns a line for the console to show."""
    payload = as_payload(data)
    action = text_field(payload, "action", "an action", max_length=20, choices=ACTIONS)
    with database.write() as db:
        session = db.get(VotingSession, session_id)
        if session is None:
            raise Refusal("This session no longer exists.")
        states = {s.strand_key: s for s in session.strand_states}
        framework = framework_of(session.assessment)
        handler = _HANDLERS[action]
        return handler(db, session, states, framework, payload)


def _strand_arg(
    payload: dict[str, Any], session: VotingSession, states: dict[str, StrandState]
) -> StrandState:
    key = text_field(payload, "strand", "a strand", max_length=40)
    if key not in states:
        raise Refusal(NOT_IN_SESSION)
    return states[key]


def _name(framework: Framework, key: str) -> str:
    strand = framework.strand(key)
    return strand.name if strand else key


def _make_current(session: VotingSession, states: dict[str, StrandState], key: str) -> None:
    """In a live session only the strand on screen can be open: moving on closes the rest."""
    session.current_strand = key
    if session.pacing == "live":
        for other_key, state in states.items():
            if other_key != key and state.status == "open":
                state.status = "closed"


def _start(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    if session.status == "running":
        raise Refusal("The session is already running.")
    if session.status == "ended":
        raise Refusal("This session has ended. Reopen a strand to resume it.")
    session.status = "running"
    if session.pacing == "self_paced":
        for state in states.values():
            state.status = "open"
        return "Session started: every strand is open for voting."
    if session.current_strand is None:
        session.current_strand = session.strand_keys[0]
    return "Session started. Open voting on a strand when the room is ready."


def _start_voting(
    session: VotingSession,
    states: dict[str, StrandState],
    state: StrandState,
    new_round: bool = False,
) -> None:
    """Open a strand (in a new round, for a re-vote): the session runs again, the strand goes
    on screen, and its desk rating is hidden, since one on show while people vote anchors them."""
    if session.closes_at is not None and utcnow() >= session.closes_at:
        raise Refusal("This session's closing time has passed, so voting cannot reopen.")
    if new_round:
        state.round += 1
    session.status = "running"
    _make_current(session, states, state.strand_key)
    state.status = "open"
    state.revealed = False


def _open(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    state = _strand_arg(payload, session, states)
    if state.status == "open":
        raise Refusal(f"Voting on {_name(framework, state.strand_key)} is already open.")
    reopening = state.status == "closed"
    _start_voting(session, states, state)
    verb = "reopened" if reopening else "open"
    return f"Voting {verb} on {_name(framework, state.strand_key)}."


def _close(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    state = _strand_arg(payload, session, states)
    if state.status != "open":
        raise Refusal(f"Voting on {_name(framework, state.strand_key)} is not open.")
    state.status = "closed"
    return f"Voting closed on {_name(framework, state.strand_key)}."


def _revote(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    """A new round after discussion: earlier rounds' votes are kept, phones start afresh."""
    state = _strand_arg(payload, session, states)
    name = _name(framework, state.strand_key)
    if state.status == "open":
        raise Refusal(f"Voting on {name} is open; close it before starting a new round.")
    if state.status == "pending":
        raise Refusal(f"Voting on {name} has not run yet; open it for its first round.")
    _start_voting(session, states, state, new_round=True)
    return f"Round {state.round} of voting open on {name}; round {state.round - 1} is kept."


def _goto(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    state = _strand_arg(payload, session, states)
    _make_current(session, states, state.strand_key)
    return f"Now showing {_name(framework, state.strand_key)}."


def _step(
    session: VotingSession, states: dict[str, StrandState], framework: Framework, step: int
) -> str:
    keys = session.strand_keys
    index = keys.index(session.current_strand) if session.current_strand in keys else -1
    target = index + step
    if not 0 <= target < len(keys):
        raise Refusal(
            "This is already the last strand." if step > 0 else "This is the first strand."
        )
    _make_current(session, states, keys[target])
    return f"Now showing {_name(framework, keys[target])}."


def _next(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    return _step(session, states, framework, 1)


def _previous(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    return _step(session, states, framework, -1)


def _results(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    session.show_results = bool_field(payload, "show", "show")
    return "Live results shown." if session.show_results else "Live results hidden."


def _reveal(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    state = _strand_arg(payload, session, states)
    reveal = bool_field(payload, "reveal", "reveal")
    name = _name(framework, state.strand_key)
    if reveal:
        if state.status == "open":
            raise Refusal(
                f"Close voting on {name} before revealing the desk rating, so that it "
                "cannot anchor the room's votes."
            )
        rating = db.scalar(
            select(DeskRating).where(
                DeskRating.assessment_id == session.assessment_id,
                DeskRating.strand_key == state.strand_key,
            )
        )
        if rating is None or rating.level is None:
            raise Refusal(f"No desk rating is recorded for {name} yet.")
    state.revealed = reveal
    return f"Desk rating for {name} {'revealed' if reveal else 'hidden'}."


def _end(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    if session.status == "ended":
        raise Refusal("The session has already ended.")
    for state in states.values():
        if state.status == "open":
            state.status = "closed"
    session.status = "ended"
    return "Session ended. Votes are kept; export them from the assessment page."


_HANDLERS = {
    "start": _start,
    "open": _open,
    "close": _close,
    "revote": _revote,
    "goto": _goto,
    "next": _next,
    "previous": _previous,
    "results": _results,
    "reveal": _reveal,
    "end": _end,
}
