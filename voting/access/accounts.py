"""Facilitator accounts and who owns what.

The main account is the passphrase set at start-up (or generated); it owns assessments whose
owner is None. Named accounts (`voting add-facilitator NAME`) own their own. Every facilitator
page and screen checks ownership on the server: another account's assessment is a 404, as if it
did not exist, so one deployment can serve several areas without any seeing another's data.
"""

from __future__ import annotations

import re

from flask import session
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from voting.database import Database
from voting.models import Assessment, Facilitator, VotingSession

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,59}")
ACCOUNT_KEY = "account_id"


class AccountError(ValueError):
    pass


def create_account(database: Database, name: str, passphrase: str) -> int:
    if not NAME_PATTERN.fullmatch(name):
        raise AccountError(
            "An account name is 2 to 60 lowercase letters, digits, dots, hyphens or underscores."
        )
    try:
        with database.write() as db:
            account = Facilitator(name=name, passphrase_hash=generate_password_hash(passphrase))
            db.add(account)
            db.flush()
            return account.id
    except IntegrityError as exc:
        raise AccountError(f"There is already an account called {name!r}.") from exc


def verify(database: Database, name: str, passphrase: str) -> int | None:
    """The account's id when the passphrase is right; None otherwise (also for no such name)."""
    with database.read() as db:
        account = db.scalar(select(Facilitator).where(Facilitator.name == name))
    if account is None:
        # Same work either way, so that timing does not tell which names exist.
        check_password_hash(generate_password_hash("x"), passphrase)
        return None
    return account.id if check_password_hash(account.passphrase_hash, passphrase) else None


def current_account() -> int | None:
    """The logged-in facilitator's account (None: the main account)."""
    value = session.get(ACCOUNT_KEY)
    return value if isinstance(value, int) else None


def owns(assessment: Assessment | None) -> bool:
    return assessment is not None and assessment.owner_id == current_account()


def owns_session(database: Database, session_id: int) -> bool:
    with database.read() as db:
        owner = db.execute(
            select(Assessment.owner_id)
            .join(VotingSession, VotingSession.assessment_id == Assessment.id)
            .where(VotingSession.id == session_id)
        ).first()
    return owner is not None and owner[0] == current_account()


def owned_assessments() -> Select[Assessment]:
    """A select of the current account's assessments, newest first."""
    return (
        select(Assessment)
        .where(
            Assessment.owner_id.is_(None)
            if current_account() is None
            else Assessment.owner_id == current_account()
        )
        .order_by(Assessment.id.desc())
    )
