"""The console's actions on a running session: start, open and close voting, step through the
strands, show results, reveal the desk rating, show the join screen, end.

Every action checks its input, refuses with a message when it does not apply, and otherwise
commits before returning; the caller then broadcasts the new state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from voting.assessments import framework_of
from voting.database import Database
from voting.frameworks import Framework
from voting.live.votes import NOT_IN_SESSION
from voting.models import DeskRating, StrandState, VotingSession, utcnow
from voting.validation import Refusal, as_payload, bool_field, text_field

Handler = Callable[["Console"], str]
_HANDLERS: dict[str, Handler] = {}


def _action(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for the console action `name`."""

    def register(handler: Handler) -> Handler:
        _HANDLERS[name] = handler
        return handler

    return register


@dataclass
class Console:
    """What every console action works on: the open transaction, the session and its strands'
    states, its framework, and the action's payload."""

    db: Session
    session: VotingSession
    states: dict[str, StrandState]
    framework: Framework
    payload: dict[str, Any]

    def strand(self) -> StrandState:
        """The strand the action names, which must be one of this session's."""
        key = text_field(self.payload, "strand", "a strand", max_length=40)
        if key not in self.states:
            raise Refusal(NOT_IN_SESSION)
        return self.states[key]

    def name(self, key: str) -> str:
        strand = self.framework.strand(key)
        return strand.name if strand else key

    def make_current(self, key: str) -> None:
        """In a live session only the strand on screen can be open: moving on closes the rest.
        Moving to another strand hides results shown for the last one and the join screen, so
        the next strand starts with its results hidden (see `snapshots.results_visible`)."""
        if self.session.pacing == "live" and self.session.current_strand != key:
            self.session.show_results = False
            self.session.show_join = False
        self.session.current_strand = key
        if self.session.pacing == "live":
            for other_key, state in self.states.items():
                if other_key != key and state.status == "open":
                    state.status = "closed"

    def desk_rating(self, state: StrandState) -> DeskRating | None:
        return self.db.scalar(
            select(DeskRating).where(
                DeskRating.assessment_id == self.session.assessment_id,
                DeskRating.strand_key == state.strand_key,
            )
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
        console = Console(db, session, states, framework_of(session.assessment), payload)
        return _HANDLERS[action](console)


@_action("start")
def _start(console: Console) -> str:
    session = console.session
    if session.status == "running":
        raise Refusal("The session is already running.")
    if session.status == "ended":
        raise Refusal("This session has ended. Reopen a strand to resume it.")
    session.status = "running"
    session.show_join = False
    if session.pacing == "self_paced":
        for state in console.states.values():
            state.status = "open"
        return "Session started: every strand is open for voting."
    if session.current_strand is None:
        session.current_strand = session.strand_keys[0]
    return "Session started. Open voting on a strand when the room is ready."


def _start_voting(console: Console, state: StrandState, new_round: bool = False) -> None:
    """Open a strand (in a new round, for a re-vote): the session runs again, the strand goes
    on screen, and its desk rating is hidden, since one on show while people vote anchors them."""
    session = console.session
    if session.closes_at is not None and utcnow() >= session.closes_at:
        raise Refusal("This session's closing time has passed, so voting cannot reopen.")
    if new_round:
        state.round += 1
    session.status = "running"
    console.make_current(state.strand_key)
    state.status = "open"
    state.revealed = False
    # A new round's (or a reopened strand's) counts are hidden again until closed or shown.
    if session.pacing == "live":
        session.show_results = False
    session.show_join = False


@_action("open")
def _open(console: Console) -> str:
    state = console.strand()
    name = console.name(state.strand_key)
    if state.status == "open":
        raise Refusal(f"Voting on {name} is already open.")
    reopening = state.status == "closed"
    _start_voting(console, state)
    verb = "reopened" if reopening else "open"
    return f"Voting {verb} on {name}."


@_action("close")
def _close(console: Console) -> str:
    state = console.strand()
    name = console.name(state.strand_key)
    if state.status != "open":
        raise Refusal(f"Voting on {name} is not open.")
    state.status = "closed"
    return f"Voting closed on {name}."


@_action("revote")
def _revote(console: Console) -> str:
    """A new round after discussion: earlier rounds' votes are kept, phones start afresh."""
    state = console.strand()
    name = console.name(state.strand_key)
    if state.status == "open":
        raise Refusal(f"Voting on {name} is open; close it before starting a new round.")
    if state.status == "pending":
        raise Refusal(f"Voting on {name} has not run yet; open it for its first round.")
    _start_voting(console, state, new_round=True)
    return f"Round {state.round} of voting open on {name}; round {state.round - 1} is kept."


@_action("goto")
def _goto(console: Console) -> str:
    state = console.strand()
    console.make_current(state.strand_key)
    return f"Now showing {console.name(state.strand_key)}."


def _step(console: Console, step: int) -> str:
    keys = console.session.strand_keys
    current = console.session.current_strand
    index = keys.index(current) if current in keys else -1
    target = index + step
    if not 0 <= target < len(keys):
        raise Refusal(
            "This is already the last strand." if step > 0 else "This is the first strand."
        )
    console.make_current(keys[target])
    return f"Now showing {console.name(keys[target])}."


@_action("next")
def _next(console: Console) -> str:
    return _step(console, 1)


@_action("previous")
def _previous(console: Console) -> str:
    return _step(console, -1)


@_action("results")
def _results(console: Console) -> str:
    session = console.session
    session.show_results = bool_field(console.payload, "show", "show")
    if not session.show_results:
        return "Results of open voting hidden."
    if session.pacing == "live" and session.current_strand:
        name = console.name(session.current_strand)
        return f"Results of {name} shown on the projector and phones."
    return "Results shown on the projector and phones."


@_action("reveal")
def _reveal(console: Console) -> str:
    state = console.strand()
    reveal = bool_field(console.payload, "reveal", "reveal")
    name = console.name(state.strand_key)
    if reveal:
        if state.status == "open":
            raise Refusal(
                f"Close voting on {name} before revealing the desk rating, so that it "
                "cannot anchor the room's votes."
            )
        rating = console.desk_rating(state)
        if rating is None or rating.level is None:
            raise Refusal(f"No desk rating is recorded for {name} yet.")
    state.revealed = reveal
    return f"Desk rating for {name} {'revealed' if reveal else 'hidden'}."


@_action("evidence")
def _evidence(console: Console) -> str:
    """Put the desk team's evidence summary for a strand on the projector, or take it down. The
    rating itself stays hidden: the slide is there to inform the vote, not to anchor it."""
    state = console.strand()
    show = bool_field(console.payload, "show", "show")
    name = console.name(state.strand_key)
    if show:
        rating = console.desk_rating(state)
        if rating is None or not (rating.evidence or "").strip():
            raise Refusal(f"No key evidence is recorded for {name} yet.")
    state.evidence_shown = show
    return f"Evidence for {name} {'shown' if show else 'hidden'}."


@_action("join")
def _join(console: Console) -> str:
    """The projector's full join screen (QR code, address, code, joined count), on demand."""
    session = console.session
    if session.status == "ended":
        raise Refusal("The session has ended, so nobody can join it now.")
    session.show_join = bool_field(console.payload, "show", "show")
    return "Join screen shown on the projector." if session.show_join else "Join screen hidden."


@_action("end")
def _end(console: Console) -> str:
    session = console.session
    if session.status == "ended":
        raise Refusal("The session has already ended.")
    for state in console.states.values():
        if state.status == "open":
            state.status = "closed"
    session.status = "ended"
    session.show_join = False
    return "Session ended. Votes are kept; export them from the assessment page."


# Every action the console can send, in the order the handlers are defined above.
ACTIONS = tuple(_HANDLERS)
