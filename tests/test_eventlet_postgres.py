"""psycopg 3 under eventlet: a query waiting in PostgreSQL lets the worker's other green threads
run. Proved without timings: one green thread waits for an advisory lock that only another
green thread of the same process can release. With a blocking wait the process freezes and the
lock wait times out; with the green wait the lock is released and taken."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import pytest

from tests.services import postgres_url

pytestmark = pytest.mark.services

SCRIPT = textwrap.dedent(
    """
    import sys
    import warnings

    warnings.filterwarnings("ignore", message=r"\\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()

    from psycopg import errors, waiting
    from sqlalchemy import text

    from voting.database import Database

    url, key, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    # Picks psycopg's wait function; deadlines beyond the lock_timeout this script sets.
    database = Database(url, timeout=10)
    if mode == "blocking":
        waiting.wait = waiting.wait_c  # what psycopg would use without voting.database
    print("wait function:", waiting.wait.__name__)
    steps = []
    holder = database.engine.connect()
    holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
    holder.commit()


    def release():
        eventlet.sleep(0.2)
        steps.append("releasing")
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        holder.commit()


    releaser = eventlet.spawn(release)
    with database.engine.connect() as waiter:
        waiter.execute(text("SET lock_timeout = '2s'"))
        try:
            waiter.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            steps.append("acquired")
            waiter.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        except Exception as exc:
            cause = getattr(exc, "orig", exc)
            steps.append("timed out" if isinstance(cause, errors.LockNotAvailable) else repr(exc))
        waiter.rollback()
    releaser.wait()
    holder.close()
    database.dispose()
    print("steps:", ",".join(steps))
    """
)


def _run(mode: str) -> str:
    key = uuid.uuid4().int % 2**62  # a lock nobody else on this PostgreSQL is using
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, postgres_url(), str(key), mode],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_postgres_wait_lets_other_green_threads_run() -> None:
    out = _run("green")
    assert "wait function: wait_select" in out
    assert "steps: releasing,acquired" in out


def test_without_the_green_wait_the_worker_freezes() -> None:
    """The control: the same script with psycopg's C wait deadlocks until lock_timeout, so the
    test above would catch a regression (or a psycopg that changes its default)."""
    out = _run("blocking")
    assert "steps: timed out,releasing" in out
