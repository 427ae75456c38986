"""Serving: what `voting serve` (and so `make serve`) runs.

This is the only place that monkey-patches, and it does so before Flask or the database driver
is imported, as eventlet and gevent require.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import warnings
from typing import Any

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
    # participants' IP addresses.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from voting import create_app
    from voting.app import prepare
    from voting.database import get_database
    from voting.live.events import socketio
    from voting.upkeep.retention import purge_due

    files = openfiles.raise_soft_limit()
    app = create_app({"ASYNC_MODE": mode})
    prepare(app)
    purge_due(get_database(app))
    socketio.start_background_task(_purge_hourly, app)
    _print_banner(app, host, port)
    _print_file_limit(*files)
    _tune_collector()
    options: dict[str, object] = {"host": host, "port": port, "log_output": False}
    if mode == "eventlet":
        options["max_size"] = MAX_CONNECTIONS
        options["protocol"] = lean_http_protocol()
    if mode == "threading":
        options["allow_unsafe_werkzeug"] = True
    if mode == "eventlet":
        serve_eventlet(app, options)
    else:
        socketio.run(app, **options)
    return 0


def serve_eventlet(app: Any, options: dict[str, Any]) -> None:
    """What `socketio.run` does for eventlet, but listening through `SparingListener`, so that
    running out of open files turns the newest connection away instead of stopping the server."""
    import eventlet
    import eventlet.wsgi

    options = dict(options)
    host, port = options.pop("host"), options.pop("port")
    family, _type, _proto, _name, address = eventlet.green.socket.getaddrinfo(host, port)[0]
    listener = openfiles.SparingListener(eventlet.listen(address, family))
    eventlet.wsgi.server(listener, app, **options)


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


def lean_http_protocol() -> type:
    """eventlet's HTTP handler with smaller per-connection buffers (see HTTP_BUFFER_BYTES)."""
    import eventlet.wsgi

    class LeanHttpProtocol(eventlet.wsgi.HttpProtocol):
        rbufsize = HTTP_BUFFER_BYTES
        wbufsize = HTTP_BUFFER_BYTES

    return LeanHttpProtocol


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
