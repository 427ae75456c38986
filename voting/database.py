"""Engine, short-lived sessions and schema creation.

Every unit of work opens its own session with `read()` or `write()` and closes it at once: no
transaction stays open across a Socket.IO emit, which under eventlet would hold SQLite's write
lock while other green threads wait.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from flask import Flask, current_app
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from voting.models import Base

_IMMEDIATE = "voting_begin_immediate"
MIGRATIONS = Path(__file__).parent / "migrations"
FIRST_REVISION = "0001"


# Seconds the database may take to connect, to run one statement or to grant a lock, unless the
# app's DATABASE_TIMEOUT says otherwise: past it the vote is refused with "cannot reach its
# database" instead of waiting on a database that has stalled. A vote on a stalled PostgreSQL
# link meets two of them (the pool's liveness check, then a new connection), so it is answered
# within about 4 s, well inside a phone's 15 s.
DEFAULT_TIMEOUT = 2.0
_NO_DEADLINE = "voting_no_deadline"


class Database:
    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = make_url(url)
        self.timeout = timeout
        self.engine = _create_engine(url, timeout)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success; on SQLite it takes the write lock up front,
        so that a read-then-write can never fail half-way with 'database is locked'."""
        with self._sessions() as session:
            session.connection(execution_options={_IMMEDIATE: True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Like `write`, but a Core connection without an ORM session: for the vote path, where
        managing a session cost more CPU than SQLite took to run the statements."""
        with self.engine.connect() as connection:
            connection.execution_options(**{_IMMEDIATE: True})
            with connection.begin():
                yield connection

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to `revision` with Alembic, keeping every row."""
        self._migrate(lambda config: command.upgrade(config, revision))

    def downgrade(self, revision: str) -> None:
        self._migrate(lambda config: command.downgrade(config, revision))

    def revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def _migrate(self, run: Callable[[AlembicConfig], None]) -> None:
        with self.engine.connect() as connection:
            # A migration may rebuild a large table: no deadline on it.
            connection.info[_NO_DEADLINE] = True
            raw = connection.connection.dbapi_connection
            if hasattr(raw, "deadline"):
                setattr(raw, "deadline", None)  # noqa: B010
            if self.is_sqlite:
                # SQLite rebuilds a table to alter it; with foreign keys on, dropping the old
                # copy would cascade-delete child rows. The pragma only works outside a
                # transaction, hence on the raw connection before anything begins.
                raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                with connection.begin():
                    if self.url.get_backend_name() == "postgresql":
                        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
                        connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
                        # Workers starting together take turns; the second finds nothing to do.
                        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(730515)")
                    _stamp_pre_migration_database(connection)
                    run(alembic_config(connection))
            finally:
                if self.is_sqlite:
                    raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
                connection.info.pop(_NO_DEADLINE, None)
                if hasattr(raw, "deadline"):
                    setattr(raw, "deadline", self.timeout)  # noqa: B010

    def drop_schema(self) -> None:
        Base.metadata.drop_all(self.engine)
        with self.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: str, timeout: float) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True)
        if parsed.get_driver_name() == "psycopg":
            _psycopg_cooperates_with_eventlet()
            _postgres_deadlines(engine, timeout)
        return engine
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        # How long a writer waits for SQLite's lock (the busy timeout): twice the deadline, as
        # the lock may be held by a backup or a command beside the server.
        connect_args={"check_same_thread": False, "timeout": 2 * timeout},
        poolclass=StaticPool if in_memory else None,
    )
    _configure_sqlite(engine, wal=not in_memory)
    _sqlite_statement_deadline(engine, timeout)
    return engine


@functools.cache
def _deadline_connection_class() -> Any:
    import psycopg
    from psycopg.connection import _WAIT_INTERVAL

    class DeadlineConnection(psycopg.Connection[Any]):
        """A psycopg connection that waits for PostgreSQL at most `deadline` seconds at a
        time. A paused link (packets neither answered nor refused) would otherwise hold the
        vote, and the green thread, for as long as TCP keeps trying: many minutes. Past the
        deadline the connection is closed, so the pool drops it and makes a new one once the
        database answers again, and the caller gets an OperationalError."""

        deadline: float | None = DEFAULT_TIMEOUT

        def wait(
            self, gen: Any, interval: float = _WAIT_INTERVAL, timeout: float | None = None
        ) -> Any:
            limit = self.deadline
            if limit is not None and (timeout is None or timeout > limit):
                timeout = limit
            try:
                return super().wait(gen, interval=interval, timeout=timeout)
            except psycopg.errors._WaitTimeout:
                self.pgconn.finish()
                raise psycopg.OperationalError(
                    f"the database did not answer within {timeout:g} s"
                ) from None

    return DeadlineConnection


def _postgres_deadlines(engine: Engine, timeout: float) -> None:
    """Connect, statement and lock timeouts on PostgreSQL, and a deadline on every wait for it
    (`DeadlineConnection`): the server's own timeouts cannot help when the link has stalled."""
    milliseconds = int(timeout * 1000)

    @event.listens_for(engine, "do_connect")
    def connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        # libpq counts the connect timeout in whole seconds, at least 2.
        cparams.setdefault("connect_timeout", max(2, math.ceil(timeout)))
        options = cparams.get("options") or ""
        cparams["options"] = (
            f"{options} -c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"
        ).strip()
        connection = _deadline_connection_class().connect(*cargs, **cparams)
        connection.deadline = timeout
        return connection


def _sqlite_statement_deadline(engine: Engine, timeout: float) -> None:
    """SQLite runs in this process, so a statement cannot stall on a link, but one can run
    long: SQLite's progress handler interrupts any statement still running after `timeout`."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        clock = record.info.setdefault("voting_statement_until", [math.inf])
        dbapi_connection.set_progress_handler(lambda: time.monotonic() > clock[0], 20_000)

    @event.listens_for(engine, "before_cursor_execute")
    def start(connection: Connection, *_args: Any) -> None:
        clock = connection.info.get("voting_statement_until")
        if clock is not None:
            no_deadline = connection.info.get(_NO_DEADLINE)
            clock[0] = math.inf if no_deadline else time.monotonic() + timeout


def _psycopg_cooperates_with_eventlet() -> None:
    """Make psycopg 3 wait for PostgreSQL through eventlet's hub, not in C.

    psycopg's default wait (`wait_c`, since 3.1.5) calls poll() in C, which eventlet's monkey
    patching cannot reach: every query would freeze the whole worker until PostgreSQL
    answered, and a query waiting on a row lock held by another green thread of the same
    worker would never finish. psycopg switches by itself for gevent, not for eventlet
    (psycopg/psycopg#527, #688). `wait_select` looks up `select.select` at each call, which
    eventlet has replaced with its green, hub-based version (no 1024-descriptor limit).
    """
    import sys

    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None or not patcher.is_monkey_patched("select"):
        return
    from psycopg import waiting

    waiting.wait = waiting.wait_select


def _configure_sqlite(engine: Engine, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash; only power loss can drop the
            # last commits, which a workshop laptop on mains power can accept.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE)
        # Straight to the driver: through SQLAlchemy's execution (events, result handling) this
        # one word cost a vote as much CPU as its upsert. It runs no statement the deadline
        # (_sqlite_statement_deadline) would need to stop; waiting for the lock is the busy
        # timeout's to bound.
        driver = connection.connection.driver_connection
        driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN").close()


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _stamp_pre_migration_database(connection: Connection) -> None:
    """A database made before migrations existed (by `create_all`) holds the first schema:
    record it as such, so the upgrade starts from there instead of creating tables again."""
    names = inspect(connection).get_table_names()
    if "assessments" in names and "alembic_version" not in names:
        command.stamp(alembic_config(connection), FIRST_REVISION)


def get_database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["voting_db"]


def init_app(app: Flask) -> None:
    database = Database(
        app.config["DATABASE_URL"], float(app.config.get("DATABASE_TIMEOUT", DEFAULT_TIMEOUT))
    )
    app.extensions["voting_db"] = database
