"""Every Socket.IO handler, the rooms, and the coalesced live tally.

Rooms per session: `phones:<id>`, `presenter:<id>` and `console:<id>`, so each screen receives only
what it may see (see `snapshots`), plus `participant:<id>` so that a participant's own tabs agree.
Every (re)connecting screen is sent a full snapshot; after that, state changes are broadcast as
snapshots and votes as small tally updates.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room
from sqlalchemy.exc import OperationalError

from voting.access import auth, logins
from voting.access.ratelimit import TOO_MANY_ATTEMPTS, TOO_MANY_MESSAGES, limits
from voting.database import get_database
from voting.labels import ROLE_CHOICES, sector_choices
from voting.live import snapshots, transport, votes
from voting.live.control import apply_action
from voting.tallies import live_tally
from voting.validation import Refusal, as_payload, int_field, text_field, whole_number

log = logging.getLogger(__name__)

socketio = SocketIO()

ROLES = ("phone", "presenter", "console")
CLIENT_VOTE_ID_LENGTH = 64
SERVER_FAULT = "Something went wrong on the server; nothing was changed. Please try again."
SERVER_BUSY = "The server is busy just now. Your phone will try again by itself in a moment."
DATABASE_UNAVAILABLE = (
    "The server cannot reach its database just now, so your vote was not saved. "
    "Please try again in a moment."
)


@dataclass(frozen=True)
class Connection:
    role: str
    session_id: int
    participant_id: int | None = None
    login_id: str | None = None  # the facilitator login a console or presenter belongs to
    address: str | None = None  # a phone's client address, salted and hashed (the phone cap)
    app: Flask | None = None  # the app it connected to, for the login sweep


# Per process: a socket's sid belongs to the worker it connected to.
_connections: dict[str, Connection] = {}
# How often each worker checks that the logins of its connected consoles and presenters are
# still on (ended by `voting logout-all` or `reset-passphrase` in another process, or idle).
LOGIN_SWEEP_SECONDS = 5.0
_sweeping: set[Flask] = set()
# Joined phones per client address (salted hashes, in memory only) on this worker.
_phones_from: dict[str, int] = {}
# Sockets per participant on this worker (a phone with two tabs open has two).
_tabs: dict[int, int] = {}
# When each connection was last sent its snapshot by `sync`, and which have one coming; and per
# client address (salted hash), the earliest time its next `sync` snapshot may be made.
_synced_at: dict[str, float] = {}
_sync_due: set[str] = set()
_sync_slot: dict[str, float] = {}
# Snapshots for `sync` that all the phones of one client address may cost, per second: many
# phones from one address cannot multiply the work (an honest phone never sends `sync`).
SYNCS_PER_ADDRESS_PER_SECOND = 5.0
TOO_MANY_PHONES = (
    "Too many phones have joined from this network; ask the facilitator, who can raise "
    "VOTING_PHONES_PER_ADDRESS."
)


def _sid() -> str:
    """The Socket.IO id of the connection whose event is being handled (Flask-SocketIO sets
    `request.sid`, which Flask's Request type does not declare)."""
    return str(request.sid)  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"],
        message_queue=app.config.get("MESSAGE_QUEUE"),
        channel=app.config.get("MESSAGE_QUEUE_CHANNEL", "flask-socketio"),
        max_http_buffer_size=app.config["MAX_HTTP_BUFFER_SIZE"],
        # Same origin only (the default), stated so nobody widens it by accident.
        cors_allowed_origins=app.config.get("CORS_ALLOWED_ORIGINS"),
        ping_interval=20,
        ping_timeout=20,
    )
    # A CONNECT within CONNECT_TIMEOUT, and a cap on one message's attachments.
    app.extensions["voting_transport"] = transport.guard(socketio.server, app.config)
    transport.route_by_worker(socketio.server.eio, app.config.get("WORKER_ID"))
    queue = app.config.get("MESSAGE_QUEUE") or ""
    bus = (
        TallyBus(queue, app.config.get("MESSAGE_QUEUE_CHANNEL", "flask-socketio"))
        if queue.startswith(("redis://", "rediss://"))
        else None
    )
    app.extensions["voting_tallies"] = TallyCoalescer(app, app.config["TALLY_INTERVAL"], bus)
    auth.login_ended.connect(_on_login_ended)


def room(kind: str, session_id: int) -> str:
    return f"{kind}:{session_id}"


# ---------------------------------------------------------------- broadcasting


class TallyBus:
    """Tells every worker that a session's counts changed, that a facilitator login ended or
    that a session was deleted: a small Redis pub/sub channel beside Socket.IO's own
    (VOTING_MESSAGE_QUEUE), carrying session ids, `logout:<login id>` and `deleted:<id>`."""

    def __init__(self, url: str, channel: str) -> None:
        import redis  # only multi-worker deployments need it (the `redis` extra)

        self.url = url
        self.channel = f"{channel}:tallies"
        self._publisher = redis.Redis.from_url(url)

    def publish(self, session_id: int) -> None:
        self._publisher.publish(self.channel, str(session_id))

    def publish_logout(self, login_id: str) -> None:
        self._publisher.publish(self.channel, f"logout:{login_id}")

    def publish_deleted(self, session_id: int) -> None:
        self._publisher.publish(self.channel, f"deleted:{session_id}")

    def listen(
        self,
        deliver: Callable[[int], None],
        logout: Callable[[str], None],
        deleted: Callable[[int], None],
    ) -> None:
        """Deliver every session id and ended login heard, for as long as the worker runs (a
        background task). A lost connection is retried with backoff; signals sent meanwhile are
        lost, so a screen may show a stale tally until the next vote or its next snapshot."""
        import redis

        delay = 1.0
        while True:
            try:
                pubsub = redis.Redis.from_url(self.url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                delay = 1.0
                for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message["data"].decode("utf-8", "replace")
                    if data.startswith("logout:"):
                        logout(data.removeprefix("logout:"))
                    elif data.startswith("deleted:"):
                        deleted(int(data.removeprefix("deleted:")))
                    else:
                        deliver(int(data))
            except Exception:
                log.exception("tally signals from %s lost; retrying in %.0f s", self.url, delay)
            socketio.sleep(delay)
            delay = min(delay * 2, 30.0)


class TallyCoalescer:
    """Live tallies: at most one count per session per interval on each worker, and the last
    tally a screen receives is always counted after the last vote it was told about.

    Two stages, each run at most once per interval per session on a worker, at once if the
    last run was longer ago than that (so a lone vote shows at once), else when the interval
    is up:

    1. `mark` (after a commit on this worker) leads to a *signal*: through `TallyBus` to
       every worker when VOTING_MESSAGE_QUEUE is Redis; on a single worker, straight to 2.
    2. Each worker that hears a signal *recounts*: one SQL count, emitted to its own sockets.

    Why the receiving worker counts, rather than one worker counting and broadcasting the
    result through the queue: two workers' counts could then reach a screen out of order (a
    count taken earlier but published later) and leave a stale total on the projector. Here a
    worker's recounts of a session run one at a time, each counting after the signals it
    answers arrived, and its emits leave in that order.

    A stage clears its queued mark only right before its work, so a vote (or signal) arriving
    meanwhile is either covered by that work or queues the next run: none is missed.
    """

    def __init__(self, app: Flask, interval: float, bus: TallyBus | None = None) -> None:
        self.app = app
        self.interval = interval
        self.bus = bus
        self._queued: dict[str, set[int]] = {"signal": set(), "recount": set()}
        self._last: dict[tuple[str, int], float] = {}
        self._locks: dict[tuple[str, int], threading.Lock] = {}
        self._lock = threading.Lock()
        self._listening = False

    def start_listening(self) -> None:
        """Hear other workers' signals (idempotent; called when a socket connects, so that a
        process that never serves a socket never opens a Redis subscription)."""
        if self.bus is None or self._listening:
            return
        with self._lock:
            if self._listening:
                return
            self._listening = True
        socketio.start_background_task(
            self.bus.listen, self.recount, _logout_heard, _deletion_heard
        )

    def mark(self, session_id: int) -> None:
        if self.interval <= 0:  # tests: every vote counted and sent before its ack
            self._signal(session_id)
            return
        self._queue("signal", session_id, self._signal)

    def recount(self, session_id: int) -> None:
        """A signal arrived (from any worker, this one included)."""
        self._queue("recount", session_id, self._recount)

    def _queue(self, stage: str, session_id: int, work: Callable[[int], None]) -> None:
        with self._lock:
            if session_id in self._queued[stage]:
                return  # the queued run has not started: it will cover this too
            self._queued[stage].add(session_id)
        socketio.start_background_task(self._run, stage, session_id, work)

    def _run(self, stage: str, session_id: int, work: Callable[[int], None]) -> None:
        key = (stage, session_id)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one run of a stage per session at a time, in order
            wait = self._last.get(key, float("-inf")) + self.interval - time.monotonic()
            if wait > 0:
                socketio.sleep(wait)
            with self._lock:
                self._queued[stage].discard(session_id)
            self._last[key] = time.monotonic()
            try:
                with self.app.app_context():
                    work(session_id)
            except Exception:  # a failed broadcast must not kill the worker; the next vote retries
                log.exception("tally %s for session %s failed", stage, session_id)

    def _signal(self, session_id: int) -> None:
        if self.bus is None:
            self._recount(session_id)
            return
        try:
            self.bus.publish(session_id)
        except Exception:  # Redis is down: at least this worker's screens see the vote
            log.exception("tally signal for session %s not sent", session_id)
            self._recount(session_id)

    def _recount(self, session_id: int) -> None:
        publish_tally(session_id, local_only=self.bus is not None)


def publish_tally(session_id: int, local_only: bool = False) -> None:
    """Emit the session's tally to its screens; `local_only` keeps it to this worker's sockets
    (every worker counts for its own, see `TallyCoalescer`)."""
    with get_database().read() as db:
        tally = live_tally(db, session_id)
    if tally is None:
        return
    payloads = {a: snapshots.tally_update(tally, a) for a in ("console", "presenter", "phones")}
    for audience, payload in payloads.items():
        if payload is not None:
            socketio.emit("tally", payload, to=room(audience, session_id), ignore_queue=local_only)


def publish_state(session_id: int) -> None:
    """Send every screen of the session its full snapshot (after a facilitator action)."""
    with get_database().read() as db:
        loaded = snapshots.load(db, session_id)
        if loaded is None:
            return
        console = snapshots.console_state(loaded)
        presenter = snapshots.presenter_state(loaded)
        # Phones already hold the framework's text from their snapshot: they get the rest.
        phones = snapshots.phone_changes(loaded)
    socketio.emit("state", console, to=room("console", session_id))
    socketio.emit("state", presenter, to=room("presenter", session_id))
    socketio.emit("state", phones, to=room("phones", session_id))


def _send_snapshot(connection: Connection, new_participant: bool = False) -> None:
    """To the requesting socket, which is always on this worker: `ignore_queue` spares every
    other worker from decoding a snapshot that none of their sockets will receive."""
    for event, payload in _snapshot_messages(connection, new_participant):
        emit(event, payload, ignore_queue=True)


def _snapshot_messages(
    connection: Connection, new_participant: bool = False
) -> list[tuple[str, Any]]:
    """The events that make up a screen's snapshot. `new_participant`: the phone's participant
    was made just now, so it has nothing of its own to look up."""
    with get_database().read() as db:
        loaded = snapshots.load(db, connection.session_id, count_joined=connection.role != "phone")
        if loaded is None:
            raise Refusal("This session no longer exists.")
        if connection.role == "console":
            return [("state", snapshots.console_state(loaded))]
        if connection.role == "presenter":
            return [("state", snapshots.presenter_state(loaded))]
        assert connection.participant_id is not None
        personal = (
            snapshots.new_phone_personal()
            if new_participant
            else snapshots.phone_personal(db, connection.session_id, connection.participant_id)
        )
        return [("state", snapshots.phone_state(loaded)), ("me", personal)]


# ---------------------------------------------------------------- connecting


@socketio.on("connect")
def on_connect(auth_data: Any = None) -> None:
    try:
        payload = as_payload(auth_data, "The connection request")
        role = text_field(payload, "role", "a role", max_length=20, choices=ROLES)
        connection, extra = (
            _connect_phone(payload) if role == "phone" else _connect_screen(role, payload)
        )
        _remember(_sid(), connection)
        current_app.extensions["voting_tallies"].start_listening()
        if connection.login_id is not None:
            _start_login_sweep(current_app._get_current_object())  # type: ignore[attr-defined]
        join_room(room({"phone": "phones"}.get(role, role), connection.session_id))
        if connection.participant_id is not None:
            join_room(f"participant:{connection.participant_id}")
        if extra:
            emit("joined", extra, ignore_queue=True)
            if extra["new"]:
                # The joined count on the console and projector moves with each new phone.
                _after_commit(current_app.extensions["voting_tallies"].mark, connection.session_id)
        _send_snapshot(connection, new_participant=bool(extra and extra["new"]))
    except Refusal as refusal:
        _forget(_sid())
        raise ConnectionRefusedError(refusal.message) from None
    except Exception:
        # A join the server could not finish (database pool exhausted by a reconnect storm,
        # database unreachable): refuse it with `retry`, and the phone tries again after a
        # randomised pause (static/js/phone.js). Left unanswered, it would wait forever.
        _forget(_sid())
        log.warning("connect failed; the client is told to retry", exc_info=True)
        raise ConnectionRefusedError(SERVER_BUSY, {"retry": True}) from None


def _connect_phone(payload: dict[str, Any]) -> tuple[Connection, dict[str, Any] | None]:
    code = text_field(payload, "code", "the session code", max_length=20)
    token = text_field(payload, "token", "the participant token", max_length=100, required=False)
    # Unknown codes count against the address, so codes cannot be found by trying them.
    guesses, address = limits().join, limits().address_key()
    if guesses.blocked(address):
        raise Refusal(TOO_MANY_ATTEMPTS)
    # Checked before any work: phones beyond the cap cost the server nothing but this refusal.
    cap = int(current_app.config["PHONES_PER_ADDRESS"])
    if cap and _phones_from.get(address, 0) >= cap:
        raise Refusal(TOO_MANY_PHONES)
    try:
        joined = votes.join(get_database(), code, token or None)
    except votes.UnknownCode:
        guesses.take(address)
        raise
    connection = Connection("phone", joined.session_id, joined.participant_id, address=address)
    # The token goes back to the phone that made it, and only then, so it can rejoin later.
    return connection, {"token": joined.token, "new": joined.is_new}


def _connect_screen(role: str, payload: dict[str, Any]) -> tuple[Connection, None]:
    if not auth.is_facilitator():
        raise Refusal("Log in as the facilitator to open this screen.")
    session_id = int_field(payload, "session_id", "the session id", low=1, high=2**31 - 1)
    if not auth.may_run_session(session_id):
        raise Refusal("This session does not exist.")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return Connection(role, session_id, login_id=auth.login_id(), app=app), None


def disconnect_login(login_id: str) -> int:
    """Close the consoles and presenters opened under a login that has just ended (a socket
    keeps the copy of the login it connected with, so logging out must reach it): this
    worker's at once, other workers' through `TallyBus`. Returns how many this worker closed."""
    closed = _disconnect_local_login(login_id)
    _tell_other_workers(lambda bus: bus.publish_logout(login_id), "logout")
    return closed


def _tell_other_workers(publish: Callable[[TallyBus], None], what: str) -> None:
    """Signal the other workers through the tally bus, when there is one (several workers)."""
    bus = current_app.extensions["voting_tallies"].bus
    if bus is None:
        return
    try:
        publish(bus)
    except Exception:  # Redis is down: other workers' screens stay until they reconnect
        log.exception("%s not signalled to other workers", what)


def _logout_heard(login_id: str) -> None:
    # Off the listener, which must keep reading signals.
    socketio.start_background_task(_disconnect_local_login, login_id)


def _on_login_ended(_app: Flask, login_id: str) -> None:
    disconnect_login(login_id)


def close_deleted_session(session_id: int) -> int:
    """Disconnect every phone and screen of a deleted session, on every worker (as a logout
    does); when they reconnect they are told the session no longer exists. Returns how many
    this worker closed."""
    closed = _disconnect_local_session(session_id)
    _tell_other_workers(lambda bus: bus.publish_deleted(session_id), "deletion")
    return closed


def _deletion_heard(session_id: int) -> None:
    socketio.start_background_task(_disconnect_local_session, session_id)


def _disconnect_local_session(session_id: int) -> int:
    sids = [sid for sid, c in list(_connections.items()) if c.session_id == session_id]
    for sid in sids:
        _forget(sid)
        socketio.server.disconnect(sid, namespace="/")
    return len(sids)


def _disconnect_local_login(login_id: str) -> int:
    sids = [sid for sid, c in list(_connections.items()) if c.login_id == login_id]
    for sid in sids:
        _forget(sid)
        socketio.server.disconnect(sid, namespace="/")
    return len(sids)


def _start_login_sweep(app: Flask) -> None:
    """When a console or presenter connects and no sweep runs: one per worker while any of
    its screens is connected."""
    if app in _sweeping:
        return
    _sweeping.add(app)
    socketio.start_background_task(_sweep_logins, app)


def _sweep_logins(app: Flask) -> None:
    try:
        while any(c.app is app for c in list(_connections.values())):
            socketio.sleep(LOGIN_SWEEP_SECONDS)
            try:
                with app.app_context():
                    close_ended_logins(app)
            except Exception:  # the database is away: try again at the next sweep
                log.warning("login sweep failed", exc_info=True)
    finally:
        _sweeping.discard(app)


def forget_app(app: Flask) -> int:
    """Forget this worker's connections to an app that is going away (a test's app at its
    teardown, before its database is dropped): its login sweep then has nothing to check and
    ends when it next wakes, instead of querying a database that is gone. A server's app lives
    as long as its process, so only tests call this. Returns how many were forgotten."""
    sids = [sid for sid, c in list(_connections.items()) if c.app is app]
    for sid in sids:
        _forget(sid)
    return len(sids)


def close_ended_logins(app: Flask) -> int:
    """Close this worker's consoles and presenters whose login has ended; returns how many."""
    tokens = {c.login_id for c in list(_connections.values()) if c.login_id and c.app is app}
    if not tokens:
        return 0
    live = logins.live_among(get_database(app), tokens, auth.login_idle_timeout(app))
    return sum(_disconnect_local_login(token) for token in tokens - live)


def _after_commit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Broadcasts after a commit: a failure is logged, never reported as 'nothing changed',
    because the change is already stored (screens catch up on their next snapshot)."""
    try:
        fn(*args, **kwargs)
    except Exception:
        log.exception("broadcast after commit failed")


@socketio.on("disconnect")
def on_disconnect(*_args: Any) -> None:
    _forget(_sid())


def _remember(sid: str, connection: Connection) -> None:
    _connections[sid] = connection
    if connection.participant_id is not None:
        _tabs[connection.participant_id] = _tabs.get(connection.participant_id, 0) + 1
    if connection.address is not None:
        _phones_from[connection.address] = _phones_from.get(connection.address, 0) + 1


def _forget(sid: str) -> None:
    connection = _connections.pop(sid, None)
    _synced_at.pop(sid, None)
    _sync_due.discard(sid)
    if connection is None:
        return
    if connection.participant_id is not None:
        _count_down(_tabs, connection.participant_id)
    if connection.address is not None and _count_down(_phones_from, connection.address):
        _sync_slot.pop(connection.address, None)


def _count_down(counts: dict[Any, int], key: Any) -> bool:
    """One fewer for `key`; True when none is left (the key is then dropped)."""
    left = counts.get(key, 1) - 1
    if left > 0:
        counts[key] = left
        return False
    counts.pop(key, None)
    return True


# ---------------------------------------------------------------- events


def _handler(*roles: str) -> Callable[[Callable[..., dict[str, Any] | None]], Callable[..., Any]]:
    """Run an event for the given roles only; every outcome is an acknowledgement
    `{"ok": true, …}` or `{"ok": false, "error": "…"}`, and no fault escapes to the server."""

    def wrap(fn: Callable[..., dict[str, Any] | None]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(data: Any = None, *_extra: Any) -> dict[str, Any]:
            connection = _connections.get(_sid())
            # One phone (all its tabs) or one screen cannot flood the session.
            key = _sid()
            if connection is not None and connection.participant_id is not None:
                key = f"participant:{connection.participant_id}"
            if not limits().events.allow(key):
                return {"ok": False, "error": TOO_MANY_MESSAGES}
            if connection is None or connection.role not in roles:
                return {"ok": False, "error": "This screen is not allowed to do that."}
            if connection.role != "phone" and not auth.is_facilitator():
                return {"ok": False, "error": "Your facilitator login has ended. Log in again."}
            try:
                result = fn(connection, data)
            except Refusal as refusal:
                return {"ok": False, "error": refusal.message}
            except OperationalError:
                # The database cannot be reached (down, restarting, disk full): say so, and let
                # the phone try again; the pool reconnects once the database is back.
                log.warning("event %s: database unavailable", fn.__name__, exc_info=True)
                return {"ok": False, "error": DATABASE_UNAVAILABLE}
            except Exception:
                log.exception("event %s failed", fn.__name__)
                return {"ok": False, "error": SERVER_FAULT}
            return {"ok": True, **(result or {})}

        return inner

    return wrap


@socketio.on("vote")
@_handler("phone")
def on_vote(connection: Connection, data: Any) -> dict[str, Any]:
    payload = as_payload(data, "A vote")
    strand = text_field(payload, "strand", "a strand", max_length=40)
    level = whole_number(payload, "level", "the level")
    comment = None
    if "comment" in payload:
        comment = text_field(
            payload,
            "comment",
            "the comment",
            required=False,
            max_length=current_app.config["MAX_COMMENT_LENGTH"],
        )
    client_vote_id = (
        text_field(
            payload,
            "client_vote_id",
            "the vote id",
            required=False,
            max_length=CLIENT_VOTE_ID_LENGTH,
        )
        or None
    )
    assert connection.participant_id is not None
    receipt = votes.cast_vote(
        get_database(),
        connection.session_id,
        connection.participant_id,
        strand,
        level,
        comment,
        client_vote_id,
    )
    if receipt.changed:
        _after_commit(current_app.extensions["voting_tallies"].mark, connection.session_id)
        if _may_have_other_tabs(connection.participant_id):
            # The participant's other tabs learn of it too; the sender has its acknowledgement.
            _after_commit(
                socketio.emit,
                "my_vote",
                receipt.as_dict(),
                to=f"participant:{connection.participant_id}",
                skip_sid=_sid(),
            )
    return {"vote": receipt.as_dict()}


def _may_have_other_tabs(participant_id: int) -> bool:
    """Whether a vote should be echoed to the participant's other sockets: a single worker
    knows (nearly every phone has one tab, and the echo cost each vote an emit); with a message
    queue, another worker may hold one."""
    return bool(current_app.config.get("MESSAGE_QUEUE")) or _tabs.get(participant_id, 0) > 1


@socketio.on("profile")
@_handler("phone")
def on_profile(connection: Connection, data: Any) -> dict[str, Any]:
    payload = as_payload(data, "A profile")
    with get_database().read() as db:
        loaded = snapshots.load(db, connection.session_id)
        if loaded is None:
            raise Refusal("This session no longer exists.")
        if not loaded.session.collect_profile:
            raise Refusal("This session does not ask about you.")
        localities = list(loaded.session.assessment.localities or [])
        sectors = sector_choices(loaded.session.assessment.sectors)
    role = text_field(
        payload,
        "role",
        "your role level",
        max_length=20,
        required=False,
        choices=ROLE_CHOICES,
    )
    sector = text_field(
        payload,
        "sector",
        "your sector",
        max_length=80,
        required=False,
        choices=sectors,
    )
    locality = text_field(
        payload, "locality", "your locality", max_length=80, required=False, choices=localities
    )
    assert connection.participant_id is not None
    profile = votes.save_profile(get_database(), connection.participant_id, role, sector, locality)
    return {"profile": profile}


@socketio.on("control")
@_handler("console")
def on_control(connection: Connection, data: Any) -> dict[str, Any]:
    message = apply_action(get_database(), connection.session_id, data)
    _after_commit(publish_state, connection.session_id)
    return {"message": message}


@socketio.on("sync")
@_handler("phone", "presenter", "console")
def on_sync(connection: Connection, data: Any) -> None:
    """A screen that suspects it missed something asks for its snapshot again. A snapshot is
    the costliest thing a screen can ask for, so each connection gets at most one per
    SYNC_INTERVAL, and all the phones of one client address together at most
    SYNCS_PER_ADDRESS_PER_SECOND: a `sync` sooner than that is answered at once, and the
    snapshot follows when its turn comes (one, however many were asked for meanwhile)."""
    sid, interval = _sid(), float(current_app.config["SYNC_INTERVAL"])
    if sid in _sync_due:
        return  # a snapshot is already on its way
    now = time.monotonic()
    when = max(now, _synced_at.get(sid, float("-inf")) + interval)
    if connection.address is not None:
        when = max(when, _sync_slot.get(connection.address, now))
        _sync_slot[connection.address] = when + 1 / SYNCS_PER_ADDRESS_PER_SECOND
    if when <= now:
        _synced_at[sid] = now
        _send_snapshot(connection)
    else:
        _sync_due.add(sid)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        socketio.start_background_task(_sync_later, app, sid, when - now)


def _sync_later(app: Flask, sid: str, wait: float) -> None:
    socketio.sleep(wait)
    if sid not in _sync_due:
        return  # disconnected meanwhile
    _sync_due.discard(sid)
    connection = _connections.get(sid)
    if connection is None:
        return
    _synced_at[sid] = time.monotonic()
    try:
        with app.app_context():
            for event, payload in _snapshot_messages(connection):
                socketio.emit(event, payload, to=sid, ignore_queue=True)
    except Exception:  # the screen asks again, or gets the next broadcast
        log.warning("a deferred snapshot was not sent", exc_info=True)
