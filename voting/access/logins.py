"""Facilitator logins kept on the server, so that they can be ended.

The signed cookie alone cannot be revoked: a copy stays valid for as long as its signature. So
each login is also a row (`models.Login`) keyed by the SHA-256 of a random token that only the
cookie holds, and a request or a Socket.IO event counts as the facilitator's only while that
row exists and has been used within the idle timeout (`VOTING_LOGIN_IDLE_MINUTES`). Logging out
deletes the row; `voting reset-passphrase` deletes the main account's, `voting logout-all`
every one, and removing a named account takes its own with it. The database is shared by every
worker, so an ended login ends on all of them at once; screens already connected are closed by
each worker's sweep (voting/live/events.py).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import delete, select, true, update

from voting.database import Database
from voting.models import Login, utcnow

# A login in use is marked as seen at most this often: one write a minute per login, not one
# per request.
TOUCH_EVERY = timedelta(seconds=60)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(database: Database, account_id: int | None) -> str:
    """A new login for the account (None: the main one); returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    with database.write() as db:
        db.add(Login(id=_key(token), account_id=account_id))
    return token


def is_live(database: Database, token: str, idle: timedelta) -> bool:
    """Whether the login is still on: not ended, and used within `idle`. Marks it as used."""
    return bool(live_among(database, [token], idle))


def live_among(database: Database, tokens: Iterable[str], idle: timedelta) -> set[str]:
    """The tokens among `tokens` whose logins are still on; those are marked as used (at most
    once a minute each), and the idle ones among them are deleted."""
    keys = {_key(t): t for t in tokens if t}
    if not keys:
        return set()
    now = utcnow()
    with database.read() as db:
        rows = db.execute(select(Login.id, Login.last_seen_at).where(Login.id.in_(keys))).all()
    live = {key for key, seen in rows if seen > now - idle}
    stale = [key for key, seen in rows if key in live and seen <= now - TOUCH_EVERY]
    idled = [key for key, _seen in rows if key not in live]
    if stale or idled:
        with database.write() as db:
            if stale:
                db.execute(update(Login).where(Login.id.in_(stale)).values(last_seen_at=now))
            if idled:
                db.execute(delete(Login).where(Login.id.in_(idled)))
    return {keys[key] for key in live}


def end(database: Database, token: str) -> None:
    with database.write() as db:
        db.execute(delete(Login).where(Login.id == _key(token)))


def end_all(database: Database, main_account_only: bool = False) -> int:
    """End every login (`voting logout-all`), or only the main account's (a new passphrase).
    Returns how many were ended."""
    which = Login.account_id.is_(None) if main_account_only else true()
    with database.write() as db:
        ended = len(db.scalars(select(Login.id).where(which)).all())
        db.execute(delete(Login).where(which))
    return ended
