"""Limits beneath the Socket.IO events, on the Engine.IO sessions that carry them.

- An Engine.IO session must send its Socket.IO CONNECT within CONNECT_TIMEOUT seconds, or it is
  closed: otherwise a client could answer pings for ever and hold a connection and its memory
  without ever joining. After a CONNECT that was refused it has RETRY_GRACE to try again.
- One message, binary attachments included, may total MAX_HTTP_BUFFER_SIZE bytes and carry at
  most MAX_ATTACHMENTS attachments: python-socketio would otherwise collect as many attachments
  as a packet announces (a million, say), each under the per-frame limit, and hold them all.
  Beyond either cap the connection is closed. No screen of this app ever sends binary; a small
  attachment reaches the event, which refuses it as it refuses any value of the wrong type.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

MAX_ATTACHMENTS = 10
# After a refused CONNECT, how long the session may wait to try again: our phone retries a join
# refused with `retry` after up to 45 s (static/js/phone.js), on the same Engine.IO session.
RETRY_GRACE = 60.0
# How often the sessions that have not sent their CONNECT are looked at.
SWEEP_SECONDS = 1.0


class TransportGuard:
    def __init__(self, server: Any, connect_timeout: float, max_message_bytes: int) -> None:
        self.server = server  # python-socketio's Server
        self.eio = server.eio
        self.connect_timeout = connect_timeout
        self.max_message_bytes = max_message_bytes
        self._awaiting: dict[str, float] = {}  # eio sid -> when it must have connected
        self._message_bytes: dict[str, int] = {}  # eio sid -> bytes of the message so far
        self._sweeping = False
        self._on_connect = self.eio.handlers["connect"]
        self._on_message = self.eio.handlers["message"]
        self._on_disconnect = self.eio.handlers["disconnect"]
        self.eio.on("connect", self.on_connect)
        self.eio.on("message", self.on_message)
        self.eio.on("disconnect", self.on_disconnect)

    def on_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        outcome = self._on_connect(eio_sid, environ)
        if self.connect_timeout > 0:
            self._awaiting[eio_sid] = time.monotonic() + self.connect_timeout
            if not self._sweeping:
                self._sweeping = True
                self.eio.start_background_task(self._sweep_forever)
        return outcome

    def on_message(self, eio_sid: str, data: Any) -> Any:
        pending = self.server._binary_packet.get(eio_sid)
        size = len(data) if isinstance(data, bytes | str) else 0
        total = self._message_bytes.get(eio_sid, 0) + size if pending is not None else size
        if total > self.max_message_bytes:
            self._drop(eio_sid, "a message larger than the server takes")
            return None
        outcome = self._on_message(eio_sid, data)
        if pending is None and isinstance(data, str) and data.startswith("0"):
            self._after_connect_packet(eio_sid)
        started = self.server._binary_packet.get(eio_sid)
        if started is None:
            self._message_bytes.pop(eio_sid, None)
        elif started.attachment_count > MAX_ATTACHMENTS:
            self._drop(eio_sid, "a message with too many attachments")
        else:
            self._message_bytes[eio_sid] = total
        return outcome

    def _after_connect_packet(self, eio_sid: str) -> None:
        if eio_sid not in self._awaiting:
            return
        if self.server.manager.sid_from_eio_sid(eio_sid, "/") is not None:
            del self._awaiting[eio_sid]
        else:  # refused: the client may try again later on this session
            self._awaiting[eio_sid] = time.monotonic() + max(self.connect_timeout, RETRY_GRACE)

    def on_disconnect(self, eio_sid: str, *args: Any) -> Any:
        self._awaiting.pop(eio_sid, None)
        self._message_bytes.pop(eio_sid, None)
        return self._on_disconnect(eio_sid, *args)

    def _sweep_forever(self) -> None:
        while True:
            self.eio.sleep(SWEEP_SECONDS)
            try:
                self.sweep()
            except Exception:  # never let the sweeper die; it is all that closes them
                log.exception("closing unconnected sessions failed")

    def sweep(self) -> int:
        """Close the sessions past their deadline without a Socket.IO connection."""
        now = time.monotonic()
        closed = 0
        for eio_sid, deadline in list(self._awaiting.items()):
            if self.server.manager.sid_from_eio_sid(eio_sid, "/") is not None:
                del self._awaiting[eio_sid]  # connected: nothing more to wait for
            elif deadline <= now:
                self._drop(eio_sid, "no Socket.IO CONNECT in time")
                closed += 1
        return closed

    def drop_oversized(self, eio_sid: str) -> None:
        """The HTTP server refused a long-polling POST too large to read (413): the session it
        was for ends too, as Engine.IO would end it, but without waiting on the client."""
        if eio_sid in self.eio.sockets:
            self._drop(eio_sid, "a long-polling POST larger than the server takes")

    def _drop(self, eio_sid: str, why: str) -> None:
        """Close the Engine.IO session at once, never waiting on a client that may not read."""
        log.info("connection closed: %s", why)
        self._awaiting.pop(eio_sid, None)
        self._message_bytes.pop(eio_sid, None)
        self.server._binary_packet.pop(eio_sid, None)
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None:
            socket.close(wait=False, abort=True)
            self.eio.sockets.pop(eio_sid, None)


def guard(server: Any, config: Any) -> TransportGuard:
    return TransportGuard(
        server, float(config["CONNECT_TIMEOUT"]), int(config["MAX_HTTP_BUFFER_SIZE"])
    )


def route_by_worker(eio: Any, worker_id: str | None) -> None:
    """Engine.IO session ids that start with `<worker_id>-`: a client's polling requests and its
    WebSocket upgrade carry the id (`?sid=`), so a proxy in front of several workers can send
    them to the worker that holds the session without any stickiness by client address, which a
    venue's Wi-Fi (one public address for the whole room) would defeat. The client treats the
    id as opaque; the random part is Engine.IO's own."""
    if not worker_id:
        return
    generate = eio.generate_id
    eio.generate_id = lambda: f"{worker_id}-{generate()}"
