"""The production entry point: `voting serve` (what `make serve` runs).

This is the only place that monkey-patches, and it does so before Flask or the database driver
is imported, as eventlet and gevent require.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

DEFAULT_ASYNC_MODE = "eventlet"
# eventlet's own default is 1024 simultaneous connections; a conference hall needs more.
MAX_CONNECTIONS = 10_000


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voting", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the server (the default)")
    serve.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    commands.add_parser("reset-passphrase", help="make and print a new facilitator passphrase")
    args = parser.parse_args(argv)
    if args.command == "reset-passphrase":
        return reset_passphrase()
    host = getattr(args, "host", os.environ.get("HOST", "0.0.0.0"))
    port = getattr(args, "port", int(os.environ.get("PORT", "5000")))
    return serve_forever(host, port)


def reset_passphrase() -> int:
    from voting import create_app
    from voting.auth import new_passphrase, set_passphrase

    app = create_app()
    if app.config.get("FACILITATOR_PASSPHRASE"):
        print("VOTING_FACILITATOR_PASSPHRASE is set; change that variable instead.")
        return 1
    passphrase = new_passphrase()
    set_passphrase(app, passphrase)
    print(f"New facilitator passphrase: {passphrase}")
    return 0


def serve_forever(host: str, port: int) -> int:
    mode = os.environ.get("VOTING_ASYNC_MODE") or DEFAULT_ASYNC_MODE
    _patch(mode)
    # Errors and warnings go to the console; request logs stay off, since they would record
    # participants' IP addresses.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from voting import create_app
    from voting.events import socketio

    app = create_app({"ASYNC_MODE": mode})
    _print_banner(app, host, port)
    options: dict[str, object] = {"host": host, "port": port, "log_output": False}
    if mode == "eventlet":
        options["max_size"] = MAX_CONNECTIONS
    if mode == "threading":
        options["allow_unsafe_werkzeug"] = True
    socketio.run(app, **options)  # type: ignore[arg-type]
    return 0


def _print_banner(app: object, host: str, port: int) -> None:
    from voting.qrcodes import lan_address

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


if __name__ == "__main__":
    raise SystemExit(main())
