"""A TCP proxy that passes every byte through unchanged and records the WebSocket opening
handshakes on the way: what each client offered (`Sec-WebSocket-Extensions` of the upgrade
request) and what the server answered (of its `101 Switching Protocols`). Used to compare real
Chromium with the benchmark's browser-like client on the real server."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from dataclasses import dataclass, field

HEAD_LIMIT = 1 << 20  # bytes of each direction kept per connection: the heads come first
EXTENSIONS = re.compile(rb"^sec-websocket-extensions:[ \t]*(.*?)\r?$", re.I | re.M)


@dataclass
class Handshake:
    offered: str | None
    answered: str | None


@dataclass
class _Link:
    upstream: bytearray = field(default_factory=bytearray)
    downstream: bytearray = field(default_factory=bytearray)


def _header(head: bytes) -> str | None:
    found = EXTENSIONS.findall(head)
    return ", ".join(value.decode("latin-1").strip() for value in found) if found else None


def _heads(stream: bytes, start: bytes) -> list[bytes]:
    """Every HTTP head in `stream` whose first line starts with `start` (a keep-alive
    connection may carry other requests before its upgrade)."""
    heads = []
    for match in re.finditer(re.escape(start), stream):
        end = stream.find(b"\r\n\r\n", match.start())
        if end != -1:
            heads.append(stream[match.start() : end + 2])
    return heads


class HandshakeRecorder:
    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.links: list[_Link] = []
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target, timeout=10)
            server.settimeout(None)
            link = _Link()
            with self.lock:
                self.links.append(link)
                self.sockets += [client, server]
            for a, b, kept in ((client, server, link.upstream), (server, client, link.downstream)):
                threading.Thread(target=self._pump, args=(a, b, kept), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, kept: bytearray) -> None:
        try:
            while data := source.recv(65536):
                if len(kept) < HEAD_LIMIT:
                    kept.extend(data[: HEAD_LIMIT - len(kept)])
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def handshakes(self) -> list[Handshake]:
        """One per WebSocket upgrade the server accepted, in connection order."""
        found = []
        with self.lock:
            links = list(self.links)
        for link in links:
            requests = [
                h
                for h in _heads(bytes(link.upstream), b"GET ")
                if b"upgrade: websocket" in h.lower()
            ]
            answers = _heads(bytes(link.downstream), b"HTTP/1.1 101")
            for request, answer in zip(requests, answers, strict=False):
                found.append(Handshake(_header(request), _header(answer)))
        return found

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            s.close()
