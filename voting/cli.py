"""The `voting` command: every command of the product, in one place.

Nothing heavy is imported at the top: `voting serve` must monkey-patch eventlet or gevent before
Flask or the database driver loads (voting/server.py).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voting import __version__

if TYPE_CHECKING:
    from flask import Flask

Command = Callable[[argparse.Namespace], int]


def main(argv: list[str] | None = None, settings: dict[str, Any] | None = None) -> int:
    """Run one command. `settings` override the environment's (tests use it to point the
    commands at their own database)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.settings = settings
    run: Command = getattr(args, "run", serve)
    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voting",
        description="Live voting for early help maturity-model workshops.",
        epilog="Settings come from VOTING_* environment variables (see the README). "
        "`voting COMMAND --help` says more about each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    serving = commands.add_parser(
        "serve", help="run the server (the default)", description=serve.__doc__
    )
    serving.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
    serving.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    serving.add_argument(
        "--workers",
        type=int,
        default=1,
        help="start N single-process servers on ports PORT to PORT+N-1 (needs "
        "VOTING_MESSAGE_QUEUE when N > 1; put a proxy with sticky sessions in front)",
    )
    serving.set_defaults(run=serve)

    _command(commands, "migrate", migrate, "bring the database schema up to date")
    backup = _command(
        commands, "backup", run_backup, "copy the SQLite database (PostgreSQL: pg_dump)"
    )
    backup.add_argument("path", nargs="?", help="file or folder (default: sessions/backups/)")
    export = _command(commands, "export-all", export_all, "write each assessment as JSON")
    export.add_argument("directory", nargs="?", help="folder (default: sessions/backups/…)")
    restore = _command(commands, "import", import_file, "restore an assessment from JSON")
    restore.add_argument("file", help="a file written by `voting export-all`")
    _command(
        commands,
        "purge",
        purge,
        "delete raw votes past each assessment's retention period (totals kept)",
    )
    add = _command(commands, "add-facilitator", add_facilitator, "create a facilitator account")
    add.add_argument("name", help="the account name, e.g. hertfordshire")
    _command(
        commands,
        "reset-passphrase",
        reset_passphrase,
        "make and print a new passphrase for the main facilitator account",
    )
    _command(commands, "logout-all", logout_all, "end every facilitator login on every worker")
    return parser


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Command,
    summary: str,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=run.__doc__ or summary)
    parser.set_defaults(run=run)
    return parser


@contextmanager
def _ready_app(args: argparse.Namespace) -> Iterator[Flask]:
    """The app with its database migrated, for a command run beside (or instead of) the
    server; its connections are closed after. Never purges: only `serve` and `purge` delete
    what retention says is due."""
    from voting import create_app
    from voting.app import prepare
    from voting.database import get_database

    app = create_app(getattr(args, "settings", None))
    try:
        prepare(app)
        yield app
    finally:
        get_database(app).dispose()


def serve(args: argparse.Namespace) -> int:
    """Run the server: eventlet (or VOTING_ASYNC_MODE) on HOST:PORT, one process, or N with
    --workers. Migrates the database and applies retention periods as it starts."""
    from voting import server

    host = getattr(args, "host", os.environ.get("HOST", "0.0.0.0"))
    port = getattr(args, "port", int(os.environ.get("PORT", "5000")))
    workers = getattr(args, "workers", 1)
    if workers != 1:
        return server.serve_workers(host, port, workers)
    return server.serve_forever(host, port)


def migrate(args: argparse.Namespace) -> int:
    """Bring the database schema up to date; existing data is kept. `voting serve` does this
    too as it starts."""
    from voting.database import get_database

    with _ready_app(args) as app:
        url = get_database(app).url.render_as_string(hide_password=True)
    print(f"Database ready: {url}")
    return 0


def run_backup(args: argparse.Namespace) -> int:
    """Copy the SQLite database while the server runs (a consistent copy), by default into
    sessions/backups/. On PostgreSQL, print the pg_dump command to run instead."""
    from voting.database import get_database
    from voting.models import utcnow
    from voting.upkeep.backups import BackupError, backup_sqlite, pg_dump_command, sqlite_path

    stamp = f"{utcnow():%Y%m%d-%H%M%S}"
    with _ready_app(args) as app:
        database = get_database(app)
        folder = Path(app.config["INSTANCE_DIR"]) / "backups"
        source = sqlite_path(database)
        if source is None:
            target = Path(args.path or folder / f"voting-{stamp}.dump")
            print("PostgreSQL is backed up with its own tool; run:")
            print(f"  {pg_dump_command(database, target)}")
            print("(give the password through PGPASSWORD or ~/.pgpass, not on the command line)")
            return 0
        target = Path(args.path) if args.path else folder / f"voting-{stamp}.sqlite3"
        try:
            print(f"Database copied to {backup_sqlite(source, target)}")
        except BackupError as exc:
            print(f"Refused: {exc}. Nothing was changed.")
            return 1
    return 0


def export_all(args: argparse.Namespace) -> int:
    """Write every assessment as one JSON file (participants as numbers, never tokens)."""
    from voting.database import get_database
    from voting.models import utcnow
    from voting.upkeep import backups

    stamp = f"{utcnow():%Y%m%d-%H%M%S}"
    with _ready_app(args) as app:
        default = Path(app.config["INSTANCE_DIR"]) / "backups" / f"export-{stamp}"
        directory = Path(args.directory) if args.directory else default
        try:
            paths = backups.export_all(get_database(app), directory)
        except backups.BackupError as exc:
            print(f"Refused: {exc}. Nothing was changed.")
            return 1
    print(f"{len(paths)} assessment(s) written to {directory}")
    return 0


def import_file(args: argparse.Namespace) -> int:
    """Restore one file written by `voting export-all` as a new assessment. A malformed or
    inconsistent file is refused with the reason, and nothing is changed."""
    from voting.database import get_database
    from voting.upkeep.backups import BackupError, import_backup, read_backup

    with _ready_app(args) as app:
        try:
            imported = import_backup(get_database(app), read_backup(Path(args.file)))
        except BackupError as exc:
            print(f"Refused: {exc}. Nothing was changed.")
            return 1
    print(f"Imported as assessment {imported.assessment_id} with {imported.sessions} session(s).")
    for old, new in imported.new_codes:
        print(
            f"  Join code {old} was taken or is not one this server would make;"
            f" that session's code is now {new}."
        )
    return 0


def purge(args: argparse.Namespace) -> int:
    """Apply every assessment's retention period now: delete raw votes, comments and profiles
    of sessions past it, keeping the counts per level. The server also does this hourly."""
    from voting.database import get_database
    from voting.upkeep.retention import purge_due

    with _ready_app(args) as app:
        purged = purge_due(get_database(app))
    print(f"Raw votes deleted from {len(purged)} session(s) under their retention period.")
    return 0


def add_facilitator(args: argparse.Namespace) -> int:
    """Create another facilitator account, which sees only its own assessments, and print its
    passphrase once."""
    from voting.access.accounts import AccountError, create_account
    from voting.access.auth import new_passphrase
    from voting.database import get_database

    name = args.name.strip().lower()
    passphrase = new_passphrase()
    with _ready_app(args) as app:
        try:
            create_account(get_database(app), name, passphrase)
        except AccountError as exc:
            print(exc)
            return 1
    print(f"Account {name} created. Its passphrase (shown once): {passphrase}")
    return 0


def logout_all(args: argparse.Namespace) -> int:
    """End every facilitator login, of every account, on every worker: open pages ask for
    the passphrase again and connected consoles and projectors close within seconds."""
    from voting.access.logins import end_all
    from voting.database import get_database

    with _ready_app(args) as app:
        ended = end_all(get_database(app))
    print(f"{ended} login(s) ended.")
    return 0


def reset_passphrase(args: argparse.Namespace) -> int:
    """Make and print a new passphrase for the main facilitator account; the old one stops
    working."""
    from voting.access.auth import new_passphrase, set_passphrase

    with _ready_app(args) as app:
        if app.config.get("FACILITATOR_PASSPHRASE"):
            print("VOTING_FACILITATOR_PASSPHRASE is set; change that variable instead.")
            return 1
        passphrase = new_passphrase()
        set_passphrase(app, passphrase)
    print("Every login made with the old passphrase has ended.")
    print(f"New facilitator passphrase: {passphrase}")
    return 0
