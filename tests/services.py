"""PostgreSQL and Redis for the multi-process tests: find them or skip (fail under
VOTING_REQUIRE_SERVICES=1), and give each test its own PostgreSQL schema and Redis channel.

A private schema rather than dropping the shared tables: other test runs on the same machine
may be using the `test` database at the same time, and dropping their tables under them (or
they ours) makes both fail at random.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import create_engine

from tests.helpers import PG_HINT, require_service

REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
REDIS_HINT = (
    "Multi-worker tests need PostgreSQL and Redis, e.g. "
    "VOTING_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test "
    f"VOTING_TEST_REDIS_URL={REDIS_DEFAULT} make test"
)


def postgres_url() -> str:
    url = os.environ.get("VOTING_TEST_DATABASE_URL")
    if not url:
        require_service(PG_HINT)
    assert url is not None
    return url


def redis_url() -> str:
    url = os.environ.get("VOTING_TEST_REDIS_URL") or REDIS_DEFAULT
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        require_service(f"Redis at {url} is not reachable ({exc}). {REDIS_HINT}")
    return url


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A new, empty PostgreSQL schema; yields a URL whose connections use only it."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    except Exception as exc:
        require_service(f"PostgreSQL at {url} is not reachable: {exc}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options={quote(f'-csearch_path={name}')}"
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        engine.dispose()


def fresh_channel() -> str:
    """A Redis channel of this test's own, so parallel runs never hear each other."""
    return f"voting-test-{uuid.uuid4().hex[:12]}"


class Forwarder:
    """127.0.0.1:<port> -> the database, with two switches: cut closes every connection and
    refuses new ones, restore lets them through again; pause stops every byte both ways (and
    holds new connections) without closing anything, as a stalled link or a frozen database
    would, and resume lets what was held go on."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.passing = threading.Event()
        self.passing.set()
        self.flowing = threading.Event()
        self.flowing.set()
        self.links: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.passing.is_set():
                client.close()
                continue
            threading.Thread(target=self._link, args=(client,), daemon=True).start()

    def _link(self, client: socket.socket) -> None:
        self.flowing.wait()  # a paused link holds a new connection too
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)  # an idle link stays open, as a real one does
        with self.lock:
            self.links += [client, server]
        for a, b in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self.flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.passing.clear()
        with self.lock:
            links, self.links = self.links, []
        for link in links:
            with contextlib.suppress(OSError):
                link.shutdown(socket.SHUT_RDWR)
            link.close()

    def restore(self) -> None:
        self.passing.set()

    def pause(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.resume()
        self.cut()
        self.listener.close()
