"""The open-file limit, which caps how many phones one server process can hold.

Every connected phone keeps one socket, and a socket is an open file. A Linux shell's usual
soft limit (`ulimit -n`) is 1024, so `make serve` would stop accepting at about 1,000 phones;
worse, eventlet's accept loop treats "too many open files" (EMFILE) as fatal, so the server
exited and dropped everyone. `voting serve` therefore raises the soft limit to the hard limit
(any process may), says how many phones the limit allows when that is still not many, and
listens through `SparingListener`, which turns a connection it has no descriptor for away and
keeps serving everyone else.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import resource
import time
from typing import Any

log = logging.getLogger(__name__)

# Descriptors a server needs besides its phones' sockets: the database pool (up to 15), the
# listening socket, the event hub, logs, Redis, facilitators' screens and downloads, and a
# phone's second connection while it upgrades from long-polling to WebSocket.
RESERVED = 32
# Below this many phones the start-up message says how to raise the limit.
ENOUGH_PHONES = 10_000
OUT_OF_FILES = (errno.EMFILE, errno.ENFILE)
# A connection turned away gets this before it is closed, so a browser sees why.
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def raise_soft_limit() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE as far as the hard limit allows.
    Returns the (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        # A container may forbid it; the start-up message then says what the limit allows.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def phones_allowed(soft: int) -> int:
    return max(0, soft - RESERVED)


def limit_message(soft: int, hard: int) -> str | None:
    """What to tell the person starting the server when the limit allows few phones."""
    phones = phones_allowed(soft)
    if phones >= ENOUGH_PHONES:
        return None
    return (
        f"  Open-file limit: {soft} (the most this shell allows is {hard}), so this server can "
        f"hold about {phones:,} phones at once;\n"
        "  more are turned away (and retry) until others leave. For more phones, raise the "
        "hard limit\n"
        "  before starting, e.g. `ulimit -Hn 16384; ulimit -n 16384` as root, or "
        "LimitNOFILE= in systemd."
    )


class SparingListener:
    """The listening socket, keeping one descriptor in reserve.

    When accept() fails for want of descriptors the connection stays queued, and the listening
    socket stays readable, so an accept loop would spin or (eventlet's) raise and stop. Here the
    reserve is released for a moment to accept that connection, answer 503 and close it, and
    the loop carries on; everything already connected is untouched. The refusal uses the plain
    socket under eventlet's and never waits: a green accept would wait for the next
    connection and refuse it even if descriptors had been freed meanwhile.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._spare: int | None = os.open(os.devnull, os.O_RDONLY)
        self.refused = 0
        self._last_warning = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def accept(self) -> Any:
        while True:
            try:
                return self._sock.accept()
            except OSError as error:
                if error.errno not in OUT_OF_FILES:
                    raise
                self._refuse_one()

    def _refuse_one(self) -> None:
        plain = getattr(self._sock, "fd", self._sock)
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
        try:
            connection, _address = plain.accept()
        except OSError as error:
            # Linux says EMFILE before looking at the queue, so it may be empty
            # (BlockingIOError), or another part of the process took the freed descriptor: either
            # way, look again shortly rather than spin.
            if not isinstance(error, BlockingIOError) and error.errno not in OUT_OF_FILES:
                raise
            time.sleep(0.05)
        else:
            try:
                connection.setblocking(False)
                connection.send(REFUSAL)
            except OSError:
                pass
            finally:
                connection.close()
            self.refused += 1
        finally:
            try:
                self._spare = os.open(os.devnull, os.O_RDONLY)
            except OSError:
                self._spare = None
        self._warn()

    def _warn(self) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 10:
            self._last_warning = now
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            log.warning(
                "Out of open files (limit %d): turned away %d connection(s) so far; "
                "everyone already connected is still served.",
                soft,
                self.refused,
            )
