"""The transport ceiling: a bare python-socketio server under eventlet speaking the same events
as the app (phones connect with an auth object and send `vote` with an acknowledgement; the
presenter receives a coalesced `tally`), with no Flask, no database and no snapshots. The
benchmark runs the same clients against it and reports the app's figures as ratios to it.

    python benchmarks/echo_server.py PORT
"""

from __future__ import annotations

import sys
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import gzip  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import eventlet.wsgi  # noqa: E402
import socketio  # noqa: E402

TALLY_INTERVAL = 0.1  # the app's default VOTING_TALLY_INTERVAL

server = socketio.Server(async_mode="eventlet", ping_interval=20, ping_timeout=20)
voters: dict[str, set[str]] = {}  # strand -> sids that voted on it
pending = {"tally": False}


@server.on("connect")
def connect(sid: str, _environ: dict[str, Any], auth: Any = None) -> None:
    role = (auth or {}).get("role")
    server.enter_room(sid, role if role in ("presenter", "console") else "phones")


def _flush() -> None:
    server.sleep(TALLY_INTERVAL)
    pending["tally"] = False
    server.emit("tally", {"voted": {k: len(v) for k, v in voters.items()}}, to="presenter")


# About the size of a small session's state; the app's phone `state` is far larger.
SMALL_STATE = {
    "session": {"status": "running", "pacing": "live", "show_results": False},
    "strands": [{"key": f"strand-{i}", "status": "closed", "round": 1} for i in range(9)],
}


@server.on("control")
def control(_sid: str, data: Any) -> dict[str, Any]:
    """A console action: every phone gets the (small) state, as the app sends its snapshot."""
    state = {**SMALL_STATE, "current": str((data or {}).get("strand"))}
    server.emit("state", state, to="phones")
    return {"ok": True}


@server.on("vote")
def vote(sid: str, data: Any) -> dict[str, Any]:
    strand = str(data.get("strand"))
    voters.setdefault(strand, set()).add(sid)
    if not pending["tally"]:
        pending["tally"] = True
        server.start_background_task(_flush)
    return {"ok": True, "vote": {"strand": strand, "level": data.get("level")}}


# What a browser-like phone loads before it connects (benchmarks/phones.mjs): a join page
# referencing the app's own scripts and styles, served from memory, gzipped when accepted, as a
# plain static server would. The baseline for "join, page load included".
STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = [
    "vendor/govuk-frontend/govuk-frontend.min.css",
    "css/app.css",
    "favicon.svg",
    "vendor/socket.io.min.js",
    "js/live.js",
    "js/phone.js",
]
PAGE = (
    "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Echo</title>"
    + "".join(f'<link rel="stylesheet" href="/static/{a}">' for a in ASSETS[:2])
    + f'<link rel="icon" href="/static/{ASSETS[2]}"></head><body data-code="ECHO">'
    + "".join(f'<script src="/static/{a}"></script>' for a in ASSETS[3:])
    + "</body></html>"
).encode()
FILES = {"/s/": PAGE, **{f"/static/{a}": (STATIC / a).read_bytes() for a in ASSETS}}
GZIPPED = {path: gzip.compress(body) for path, body in FILES.items()}


def static_files(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ.get("PATH_INFO", "")
    key = "/s/" if path.startswith("/s/") else path
    if key not in FILES:
        start_response("404 Not Found", [("Content-Length", "0")])
        return []
    zipped = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
    body = GZIPPED[key] if zipped else FILES[key]
    headers = [("Content-Length", str(len(body)))]
    if zipped:
        headers.append(("Content-Encoding", "gzip"))
    start_response("200 OK", headers)
    return [body]


def without_compression(inner: Any) -> Any:
    """Declines WebSocket compression as the app does (voting/live/compression.py), so that
    both run the same transport."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return inner(environ, start_response)

    return app


if __name__ == "__main__":
    port = int(sys.argv[1])
    app = without_compression(socketio.WSGIApp(server, static_files))
    # eventlet's default backlog, as Flask-SocketIO uses for the app, and the app's idle limit
    # (VOTING_BODY_TIMEOUT, 10 s): without it the phones' idle page-load connections (up to 6
    # each, kept 300 s as Chromium keeps them) fill the pool near 1,400 phones and joins stall.
    listener = eventlet.listen(("127.0.0.1", port))
    eventlet.wsgi.server(listener, app, log_output=False, max_size=10_000, socket_timeout=10)
