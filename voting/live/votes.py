"""The participant's side of the vote path: joining, profiles and casting votes.

A vote is one row per (session, strand, round, participant), written with an upsert inside a
transaction that first checks the strand is open; every change is also appended to the history.
The caller acknowledges only after `cast_vote` returns, that is, after the commit.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import Connection, and_, bindparam, select
from sqlalchemy import insert as generic_insert
from sqlalchemy.orm import Session

from voting.database import Database
from voting.models import (
    Assessment,
    Participant,
    StrandState,
    Vote,
    VoteHistory,
    VotingSession,
    utcnow,
)
from voting.tallies import in_current_round
from voting.validation import Refusal

TOKEN_BYTES = 24
NOT_IN_SESSION = "That strand is not part of this session."


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Joined:
    participant_id: int
    session_id: int
    token: str
    is_new: bool


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def find_session_by_code(db: Session, code: str) -> VotingSession | None:
    cleaned = normalise_code(code)
    if not cleaned:
        return None
    return db.scalar(select(VotingSession).where(VotingSession.join_code == cleaned))


class UnknownCode(Refusal):
    """A join code that finds no session: counted by the join-code rate limit."""


# A join runs these with bound values on a Core connection: with thousands of phones joining
# (or rejoining after a restart), the ORM's session and unit of work cost more CPU than the
# three statements took to run.
_SESSION_BY_CODE = select(VotingSession.id, VotingSession.status, VotingSession.closes_at).where(
    VotingSession.join_code == bindparam("code")
)
_PARTICIPANT_BY_TOKEN = select(Participant.id, Participant.session_id).where(
    Participant.token_hash == bindparam("token_hash")
)
_NEW_PARTICIPANT = generic_insert(Participant.__table__).values(
    session_id=bindparam("session_id"),
    token_hash=bindparam("token_hash"),
    profile_done=False,
    joined_at=bindparam("joined_at"),
)


def join(database: Database, code: str, token: str | None) -> Joined:
    """Rejoin the participant whose token this is, or make a new anonymous one."""
    cleaned = normalise_code(code)
    with database.transaction() as connection:
        session = (
            connection.execute(_SESSION_BY_CODE, {"code": cleaned}).first() if cleaned else None
        )
        if session is None:
            raise UnknownCode("There is no session with that code. Check the code on the screen.")
        session_id, status, closes_at = session
        if token:
            known = connection.execute(
                _PARTICIPANT_BY_TOKEN, {"token_hash": hash_token(token)}
            ).first()
            if known is not None and known.session_id == session_id:
                return Joined(known.id, session_id, token, is_new=False)
        if status == "ended" or (closes_at is not None and utcnow() >= closes_at):
            raise Refusal("This session has ended. Thank you for taking part.")
        fresh = secrets.token_urlsafe(TOKEN_BYTES)
        made = connection.execute(
            _NEW_PARTICIPANT,
            {"session_id": session_id, "token_hash": hash_token(fresh), "joined_at": utcnow()},
        )
        key = made.inserted_primary_key
        assert key is not None
        return Joined(key[0], session_id, fresh, is_new=True)


def save_profile(
    database: Database,
    participant_id: int,
    role: str | None,
    sector: str | None,
    locality: str | None,
) -> dict[str, Any]:
    with database.write() as db:
        participant = db.get(Participant, participant_id)
        if participant is None:
            raise Refusal("Your place in this session was not found. Reload the page to rejoin.")
        participant.role = role or None
        participant.sector = sector or None
        participant.locality = locality or None
        participant.profile_done = True
        return profile_of(participant)


def profile_of(participant: Participant) -> dict[str, Any]:
    return {
        "role": participant.role,
        "sector": participant.sector,
        "locality": participant.locality,
        "done": participant.profile_done,
    }


@dataclass(frozen=True)
class Receipt:
    strand_key: str
    level: int
    comment: str | None
    round: int
    changed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "strand": self.strand_key,
            "level": self.level,
            "comment": self.comment,
            "round": self.round,
        }


def voting_closed_reason(
    session_status: str, closes_at: datetime | None, strand_status: str | None
) -> str | None:
    """Why a vote on this strand would be refused now, or None when it is open
    (`strand_status` None: the strand is not part of the session)."""
    if strand_status is None:
        return NOT_IN_SESSION
    if session_status == "ended":
        return "This session has ended, so votes can no longer be changed."
    if closes_at is not None and utcnow() >= closes_at:
        return "Voting in this session closed at its closing time."
    if strand_status == "pending":
        return "Voting on this strand has not opened yet."
    if strand_status == "closed":
        return "Voting on this strand is closed. Your earlier vote, if any, still counts."
    return None


# Everything a vote needs to know, in one Core select of a few columns, built once and run with
# bound values: loading ORM entities (and building statements) per vote cost more CPU than
# SQLite took to run them. The shared lock is on the strand's row only: a facilitator closing
# the strand waits for votes in flight, so each vote is either counted before the close or
# refused after it (PostgreSQL; SQLite's write lock, taken up front, serialises them anyway).
_VOTE_CONTEXT = (
    select(
        VotingSession.status,
        VotingSession.closes_at,
        Assessment.level_count,
        StrandState.status,
        StrandState.round,
        Vote.level,
        Vote.comment,
        Vote.client_vote_id,
    )
    .select_from(StrandState)
    .join(VotingSession, VotingSession.id == StrandState.session_id)
    .join(Assessment, Assessment.id == VotingSession.assessment_id)
    .outerjoin(
        Vote, and_(in_current_round(Vote), Vote.participant_id == bindparam("participant_id"))
    )
    .where(
        StrandState.session_id == bindparam("session_id"),
        StrandState.strand_key == bindparam("strand_key"),
    )
    .with_for_update(read=True, of=StrandState.__table__)
)
_SESSION_EXISTS = select(VotingSession.id).where(VotingSession.id == bindparam("session_id"))


def cast_vote(
    database: Database,
    session_id: int,
    participant_id: int,
    strand_key: str,
    level: int,
    comment: str | None,
    client_vote_id: str | None,
) -> Receipt:
    """Record (or change) a vote; `comment=None` keeps the comment already given."""
    with database.transaction() as connection:
        found = connection.execute(
            _VOTE_CONTEXT,
            {"session_id": session_id, "strand_key": strand_key, "participant_id": participant_id},
        ).first()
        if found is None:
            _refuse_unknown_strand(connection, session_id)
        status, closes_at, level_count, strand_status, round_, old_level, old_comment, old_id = (
            found
        )
        if old_level is not None and client_vote_id and old_id == client_vote_id:
            # A resend of a vote already stored (the phone lost our acknowledgement): it counts,
            # even if voting has closed since.
            return Receipt(strand_key, old_level, old_comment, round_, False)
        reason = voting_closed_reason(status, closes_at, strand_status)
        if reason:
            raise Refusal(reason)
        if not 1 <= level <= level_count:
            raise Refusal(f"The level must be between 1 and {level_count}.")
        if comment is None:
            comment = old_comment
        now = utcnow()
        values = {
            "session_id": session_id,
            "strand_key": strand_key,
            "round": round_,
            "participant_id": participant_id,
            "level": level,
            "comment": comment,
            "client_vote_id": client_vote_id,
        }
        connection.execute(_upsert(connection.dialect.name), {**values, "updated_at": now})
        connection.execute(_HISTORY_INSERT, {**values, "recorded_at": now})
        return Receipt(strand_key, level, comment, round_, True)


def _refuse_unknown_strand(connection: Connection, session_id: int) -> NoReturn:
    """No strand row: say whether the session or only the strand is missing."""
    if connection.execute(_SESSION_EXISTS, {"session_id": session_id}).first() is None:
        raise Refusal("This session no longer exists.")
    raise Refusal(NOT_IN_SESSION)


_HISTORY_INSERT = generic_insert(VoteHistory.__table__)


@functools.cache
def _upsert(dialect: str) -> Any:
    """The vote upsert for a dialect, without values (they are bound at execution)."""
    key = ["session_id", "strand_key", "round", "participant_id"]
    changing = ["level", "comment", "client_vote_id", "updated_at"]
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        lite = sqlite_insert(Vote.__table__)
        return lite.on_conflict_do_update(
            index_elements=key, set_={c: lite.excluded[c] for c in changing}
        )
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        pg = postgresql_insert(Vote.__table__)
        return pg.on_conflict_do_update(
            index_elements=key, set_={c: pg.excluded[c] for c in changing}
        )
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        my = mysql_insert(Vote.__table__)
        return my.on_duplicate_key_update({c: my.inserted[c] for c in changing})
    raise RuntimeError(f"Votes need an upsert, which is not written for {dialect!r} yet")


def current_votes(db: Session, session_id: int, participant_id: int) -> dict[str, dict[str, Any]]:
    """This participant's votes in each strand's current round."""
    rows = db.execute(
        select(Vote.strand_key, Vote.level, Vote.comment)
        .join(StrandState, in_current_round(Vote))
        .where(Vote.session_id == session_id, Vote.participant_id == participant_id)
    ).all()
    return {key: {"level": level, "comment": comment} for key, level, comment in rows}
