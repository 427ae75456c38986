"""The console's actions on a running session: start, open and close voting, step through the
strands, show results, reveal the desk rating, end.

Every action checks its input, refuses with a message when it does not apply, and otherwise
commits before returning; the caller then broadcasts the new state.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from voting.assessments import framework_of
from voting.database import Database
from voting.frameworks import Framework
from voting.live.votes import NOT_IN_SESSION
from voting.models import DeskRating, StrandState, VotingSession, utcnow
from voting.validation import Refusal, as_payload, bool_field, text_field

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
    "evidence",
    "end",
)


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


def _evidence(
    db: Session,
    session: VotingSession,
    states: dict[str, StrandState],
    framework: Framework,
    payload: dict[str, Any],
) -> str:
    """Put the desk team's evidence summary for a strand on the projector, or take it down. The
    rating itself stays hidden: the slide is there to inform the vote, not to anchor it."""
    state = _strand_arg(payload, session, states)
    show = bool_field(payload, "show", "show")
    name = _name(framework, state.strand_key)
    if show:
        rating = db.scalar(
            select(DeskRating).where(
                DeskRating.assessment_id == session.assessment_id,
                DeskRating.strand_key == state.strand_key,
            )
        )
        if rating is None or not (rating.evidence or "").strip():
            raise Refusal(f"No key evidence is recorded for {name} yet.")
    state.evidence_shown = show
    return f"Evidence for {name} {'shown' if show else 'hidden'}."


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
    "evidence": _evidence,
    "end": _end,
}
