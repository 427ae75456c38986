"""Serving: what `voting serve` (and so `make serve`) runs.

This is the only place that monkey-patches, and it does so before Flask or the database driver
is imported, as eventlet and gevent require.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import sys
import warnings
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from voting import openfiles

DEFAULT_ASYNC_MODE = "eventlet"
# eventlet's own default is 1024 simultaneous connections; a conference hall needs more.
MAX_CONNECTIONS = 10_000
# eventlet's HTTP handler keeps a write buffer (16 KB) and a read buffer (8 KB) for each
# connection as long as it stays open, yet a phone's WebSocket uses neither once upgraded;
# with these sizes a connected phone costs about 6 KB less (benchmarks/RESULTS.md). Larger
# reads and writes (uploads, exports) bypass the buffers, so they lose nothing.
HTTP_BUFFER_BYTES = 2048
# `--workers`: a worker that exits within this many seconds of starting, more than
# WORKER_QUICK_EXITS times in a row, cannot start (a port taken, a broken setting): give up.
WORKER_START_GRACE = 10.0
WORKER_QUICK_EXITS = 3
# Connections the kernel completes and queues before the server accepts them (eventlet's
# default is 50). A room scanning the QR code at once, or a flood from one laptop, would fill
# 50 in a moment, and every phone beyond it would wait a second or more for its SYN to be
# retried; the kernel caps this at net.core.somaxconn (4096 on current Linux).
LISTEN_BACKLOG = 4096


def _patch(mode: str) -> None:
    if mode == "eventlet":
        # Upstream eventlet is in maintenance mode and says so on import; gevent is the
        # drop-in alternative (VOTING_ASYNC_MODE=gevent).
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet

        eventlet.monkey_patch()
    elif mode == "gevent":
        from gevent import monkey

        monkey.patch_all()


def _purge_hourly(app: Any) -> None:
    """A long-running server applies retention periods without anyone running `voting purge`."""
    from voting.database import get_database
    from voting.live.events import socketio
    from voting.upkeep.retention import purge_due

    while True:
        socketio.sleep(3600)
        try:
            purge_due(get_database(app))
        except Exception:  # the next hour tries again; serving votes matters more
            logging.getLogger(__name__).exception("retention purge failed")


def serve_forever(host: str, port: int) -> int:
    mode = os.environ.get("VOTING_ASYNC_MODE") or DEFAULT_ASYNC_MODE
    _patch(mode)
    # Errors and warnings go to the console; request logs stay off, since they would record
    # participants' IP addresses, and whatever else is written passes through `scrub`.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from voting import create_app
    from voting.app import prepare
    from voting.database import get_database
    from voting.live.events import socketio
    from voting.upkeep.retention import purge_due

    files = openfiles.raise_soft_limit()
    # The port names this worker in its Engine.IO session ids unless VOTING_WORKER_ID does.
    app = create_app(
        {"ASYNC_MODE": mode, "WORKER_ID": os.environ.get("VOTING_WORKER_ID") or str(port)}
    )
    prepare(app)
    purge_due(get_database(app))
    socketio.start_background_task(_purge_hourly, app)
    _print_banner(app, host, port)
    _print_file_limit(*files)
    # From here on, nothing the process writes may carry a client's address (the banner above
    # is the only output that shows an address: this machine's own).
    hide_addresses_in_output()
    _tune_collector()
    options: dict[str, object] = {"host": host, "port": port, "log_output": False}
    if mode == "threading":
        options["allow_unsafe_werkzeug"] = True
    if mode == "eventlet":
        serve_eventlet(app, options)
    else:
        socketio.run(app, **options)
    return 0


def serve_eventlet(app: Any, options: dict[str, Any]) -> None:
    """What `socketio.run` does for eventlet, with the server's own limits: it listens through
    `SparingListener` (running out of open files turns the newest connection away instead of
    stopping the server), and accepts through `serve_guarded` (caps and timeouts)."""
    import eventlet

    host, port = options["host"], options["port"]
    family, _type, _proto, _name, address = eventlet.green.socket.getaddrinfo(host, port)[0]
    listener = openfiles.SparingListener(eventlet.listen(address, family, backlog=LISTEN_BACKLOG))
    serve_guarded(listener, app)


# ---------------------------------------------------------------- limits on every connection
#
# eventlet's HTTP server, as `eventlet.wsgi.server` runs it, waits for ever: for a request line,
# for headers, for a body that was announced but never comes; and when its pool is full it stops
# accepting, so one client holding many sockets shuts everyone out. Here its request handler is
# kept but given deadlines, and the accept loop is our own, with a cap per client address and a
# refusal (503) instead of a wait when the process is full. What eventlet cannot bound (a body
# trickled a byte at a time, each within the read timeout) is bounded by the cap per address.

RESPONSE_413 = (
    b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 31\r\n\r\nThat request is too big to take."
)
# A WebSocket is read only when the phone sends something: at least its answer to Engine.IO's
# ping every 20 s (voting/live/events.py), so a minute of silence means it is gone.
WEBSOCKET_TIMEOUT = 60.0


def guarded_http_protocol(app: Any) -> type:
    """eventlet's HTTP handler with smaller buffers (see HTTP_BUFFER_BYTES) and deadlines:
    IDLE_TIMEOUT until a request line has arrived, HEADER_TIMEOUT for its headers, and
    BODY_TIMEOUT for each read or write after that; a body announced larger than the server
    takes is answered 413 at once and the connection closed, without reading it (and an
    Engine.IO session it was meant for is ended)."""
    import eventlet
    import eventlet.wsgi

    config = app.config
    idle, headers = float(config["IDLE_TIMEOUT"]), float(config["HEADER_TIMEOUT"])
    body = float(config["BODY_TIMEOUT"])
    socketio_limit = int(config["MAX_HTTP_BUFFER_SIZE"])
    sessions = app.extensions.get("voting_transport")
    page_limit = int(config.get("MAX_CONTENT_LENGTH") or 2 * 1024 * 1024)
    quiet = logging.getLogger("voting.http")

    class GuardedHttpProtocol(eventlet.wsgi.HttpProtocol):
        rbufsize = HTTP_BUFFER_BYTES
        wbufsize = HTTP_BUFFER_BYTES

        def _read_request_line(self) -> Any:
            with eventlet.Timeout(idle, TimeoutError("idle connection")):
                return super()._read_request_line()

        def parse_request(self) -> Any:
            with eventlet.Timeout(headers, TimeoutError("headers too slow")):
                return super().parse_request()

        def handle_one_response(self) -> None:
            limit = socketio_limit if self.path.startswith("/socket.io") else page_limit
            if int(self.headers.get("content-length") or 0) > limit:
                self.close_connection = 1
                if sessions is not None and limit == socketio_limit:
                    sid = parse_qs(urlsplit(self.path).query).get("sid", [""])[0]
                    sessions.drop_oversized(sid)
                self.wfile.write(RESPONSE_413)
                self.wfile.flush()
                return
            upgrade = self.headers.get("upgrade", "").lower() == "websocket"
            self.connection.settimeout(WEBSOCKET_TIMEOUT if upgrade else body)
            super().handle_one_response()

        def log_message(self, format: str, *args: Any) -> None:
            # The standard handler writes the client's address and the request to stderr
            # ("127.0.0.77 - - [...] code 400, message Bad request"): neither is kept.
            quiet.debug("malformed request refused")

    return GuardedHttpProtocol


def serve_guarded(listener: Any, app: Any) -> None:
    """Accept connections for ever, each handled by a green thread, within these caps:
    MAX_CONNECTIONS in all and CONNECTIONS_PER_ADDRESS from one client address (not applied
    behind a proxy, where every connection comes from the proxy). A connection over a cap is
    answered 503 and closed at once, so the loop never waits and everyone else is served.
    Addresses are counted in memory and forgotten with their last connection."""
    import eventlet
    import eventlet.wsgi
    from eventlet import greenio

    config = app.config
    per_address = 0 if config.get("PROXY_COUNT") else int(config["CONNECTIONS_PER_ADDRESS"])
    server = eventlet.wsgi.Server(
        listener,
        listener.getsockname(),
        app,
        protocol=guarded_http_protocol(app),
        log_output=False,
        debug=False,  # never a traceback as a response body
        socket_timeout=float(config["BODY_TIMEOUT"]),
        keepalive=True,
    )
    pool = eventlet.GreenPool(MAX_CONNECTIONS)
    open_from: dict[str, int] = {}

    def finished(_thread: Any, connection: list[Any], host: str) -> None:
        connection[2] = eventlet.wsgi.STATE_CLOSE
        greenio.shutdown_safe(connection[1])
        connection[1].close()
        left = open_from.get(host, 1) - 1
        if left > 0:
            open_from[host] = left
        else:
            open_from.pop(host, None)

    while True:
        try:
            client, address = listener.accept()
        except OSError:
            continue  # the client left before it was accepted; SparingListener did the rest
        host = str(address[0])
        if pool.free() == 0 or (per_address and open_from.get(host, 0) >= per_address):
            _turn_away(client)
            continue
        open_from[host] = open_from.get(host, 0) + 1
        client.settimeout(server.socket_timeout)
        connection = [address, client, eventlet.wsgi.STATE_IDLE]
        pool.spawn(server.process_request, connection).link(finished, connection, host)


def _turn_away(client: Any) -> None:
    """503 and close, never waiting for the client (the accept loop must go on)."""
    plain = getattr(client, "fd", client)
    try:
        plain.setblocking(False)
        plain.send(openfiles.REFUSAL)
    except OSError:
        pass
    finally:
        client.close()


# ---------------------------------------------------------------- no address in any output

# IPv4 addresses, and IPv6 ones (at least two groups and two colons, so times such as 22:51:32
# are left alone).
_ADDRESS = re.compile(
    r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}"
    r"|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:\.\d{1,3}){0,3})(?![\w.:])"
)
ADDRESS_HIDDEN = "[address]"


def scrub(text: str) -> str:
    """`text` with every IP address replaced by [address]."""
    return _ADDRESS.sub(_hide_address, text)


def _hide_address(match: re.Match[str]) -> str:
    found = match.group(0)
    if ":" in found and found.count(":") < 2:
        return found
    if ":" in found and not any(c.isdigit() or c in "abcdefABCDEF" for c in found):
        return found  # "::" alone, or colons only
    if ":" in found and re.fullmatch(r"\d{1,2}(:\d{2}){2,}(\.\d+)?", found):
        return found  # a time of day
    return ADDRESS_HIDDEN


class _ScrubbingStream:
    """A text stream that drops addresses from everything written through it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(scrub(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class AddressFilter(logging.Filter):
    """On every handler: the formatted message, arguments and traceback without addresses."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def hide_addresses_in_output() -> None:
    """One filter for all the process writes: log records (the app's and every library's) and
    anything printed to stdout or stderr (eventlet's hub writes tracebacks there directly)."""
    address_filter = AddressFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(address_filter)
    sys.stdout = _ScrubbingStream(sys.stdout)
    sys.stderr = _ScrubbingStream(sys.stderr)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (
            sys.__stdout__,
            sys.__stderr__,
        ):
            handler.setStream(sys.stderr)


def _print_file_limit(soft: int, hard: int) -> None:
    message = openfiles.limit_message(soft, hard)
    if message:
        print(message + "\n", flush=True)


def _tune_collector() -> None:
    """Fewer, cheaper pauses of the cyclic garbage collector, which stop every socket of the
    process while they run (figures in benchmarks/RESULTS.md, 2,000 phones on one process).

    - What start-up made (modules, classes, the app) lives as long as the process: frozen, it
      is never traversed again; that took ~100 ms off each full pass.
    - A young pass every 10,000 new objects rather than 700: objects of votes in flight are
      then rarely promoted, so full passes (100 to 300 ms each with 2,000 sockets) almost stop
      (1 instead of 10 in a run), and the burst's acknowledgement p95 fell from 160 to 5 ms.
      A young pass then takes ~4 ms.
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def serve_workers(host: str, port: int, workers: int) -> int:
    """`voting serve --workers N`: N single-worker servers, one process each (an eventlet
    process uses one core), on consecutive ports, sharing the database and the message queue.
    A worker that exits (a crash, the kernel's OOM killer, a SIGKILL) is started again on its
    port while the others keep serving their phones; one that keeps exiting within seconds of
    starting (a port taken, a broken setting) stops them all, so that the supervisor sees it.
    Stops them all when told to stop. See deploy/ for the proxy that spreads phones over the
    ports."""
    import signal
    import subprocess
    import time

    if workers < 1 or port + workers - 1 > 65535:
        print(f"voting serve: cannot start {workers} workers from port {port}.", file=sys.stderr)
        return 2
    if not os.environ.get("VOTING_MESSAGE_QUEUE"):
        # Without a shared queue a worker's broadcasts reach only its own sockets: the
        # projector would miss the votes of phones on every other worker.
        print(
            "voting serve: --workers needs VOTING_MESSAGE_QUEUE (for example "
            "redis://127.0.0.1:6379/0) so that every worker hears the others' broadcasts.",
            file=sys.stderr,
        )
        return 2
    command = [sys.executable, "-m", "voting", "serve", "--host", host, "--port"]
    children = [subprocess.Popen([*command, str(port + i)]) for i in range(workers)]
    started = [time.monotonic()] * workers
    quick_exits = [0] * workers  # exits in a row, each soon after its start
    print(f"Started {workers} workers on ports {port} to {port + workers - 1}.", flush=True)
    stop = {"now": False}
    previous = {
        sig: signal.signal(sig, lambda *_: stop.update(now=True))
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    code = 0
    try:
        while not stop["now"]:
            for i, child in enumerate(children):
                if stop["now"] or child.poll() is None:
                    continue
                quick = time.monotonic() - started[i] < WORKER_START_GRACE
                quick_exits[i] = quick_exits[i] + 1 if quick else 0
                if quick_exits[i] > WORKER_QUICK_EXITS:
                    print(
                        f"voting serve: the worker on port {port + i} keeps exiting "
                        f"({child.returncode}) as it starts; stopping the others.",
                        file=sys.stderr,
                    )
                    code = child.returncode or 1
                    stop["now"] = True
                    continue
                print(
                    f"voting serve: the worker on port {port + i} exited ({child.returncode}); "
                    "starting it again. The other workers keep serving.",
                    file=sys.stderr,
                    flush=True,
                )
                children[i] = subprocess.Popen([*command, str(port + i)])
                started[i] = time.monotonic()
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _print_banner(app: object, host: str, port: int) -> None:
    from voting.live.qrcodes import lan_address

    config = app.config  # type: ignore[attr-defined]
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    lines = [
        "",
        f"Maturity voting is running ({config['ASYNC_MODE']}).",
        f"  Facilitator:  http://{shown}:{port}/facilitator/",
    ]
    lan = lan_address()
    if host in ("0.0.0.0", "::") and lan:
        lines.append(f"  On this network: http://{lan}:{port}/  (phones join here)")
    if config.get("PUBLIC_URL"):
        lines.append(f"  Public address: {config['PUBLIC_URL']}  (used in QR codes)")
    generated = config.get("GENERATED_PASSPHRASE")
    if generated:
        lines.append(f"  Log in with the passphrase: {generated}")
        lines.append("  (shown once; `.venv/bin/voting reset-passphrase` makes a new one)")
    elif config.get("FACILITATOR_PASSPHRASE"):
        lines.append("  Log in with the passphrase in VOTING_FACILITATOR_PASSPHRASE.")
    else:
        lines.append("  Log in with the passphrase printed when this database was first used.")
    lines.append("")
    print("\n".join(lines), flush=True)
    sys.stdout.flush()
