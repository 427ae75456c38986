"""Backups (voting/backups.py): `voting backup` copies the SQLite database consistently,
`voting export-all` writes each assessment losslessly, `voting import` restores one; a round
trip loses nothing, tokens never leave the database, and a hostile file changes nothing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.apps import close_app, ready_app
from tests.helpers import PASSPHRASE, control, dump, make_session, phone, screen, vote
from tests.servers import (
    RunningServer,
    create_workshop,
    phone_clients,
    running_server,
    screen_client,
)
from voting.cli import main
from voting.database import get_database
from voting.models import Participant, VotingSession
from voting.upkeep import backups


@pytest.fixture
def workshop(app: Flask, facilitator: FlaskClient, assessment_id: int) -> int:
    """An assessment with everything a backup must carry: desk ratings (one split), two
    sessions (live and self-paced), revealed and closed strands, profiles, comments, changes of
    mind (history), a second round."""
    live = make_session(app, assessment_id)
    closes = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=2)
    self_paced = make_session(
        app,
        assessment_id,
        name="Online round",
        pacing="self_paced",
        closes_at=closes,
        collect_profile=False,
        strand_keys=["leadership"],
    )
    console = screen(app, facilitator, "console", live.id)
    assert control(console, action="open", strand="culture")["ok"]
    phones = [phone(app, live.join_code) for _ in range(4)]
    assert phones[0].emit("profile", {"role": "strategic", "sector": "Police"}, callback=True)["ok"]
    assert phones[1].emit("profile", {"locality": "Dacorum"}, callback=True)["ok"]
    for i, p in enumerate(phones):
        assert vote(p, "culture", 1 + i % 4, client_vote_id=f"c{i}")["ok"]
    assert vote(phones[0], "culture", 4, comment="Changed my mind \u202e", client_vote_id="c0b")[
        "ok"
    ]
    assert control(console, action="close", strand="culture")["ok"]
    assert control(console, action="reveal", strand="culture", reveal=True)["ok"]
    revote = control(console, action="revote", strand="culture")
    if revote["ok"]:  # a second round, where the schema has rounds
        assert vote(phones[2], "culture", 2)["ok"]
    assert control(console, action="open", strand="leadership")["ok"]
    assert vote(phones[3], "leadership", 3, comment="Board meets monthly.")["ok"]
    online = screen(app, facilitator, "console", self_paced.id)
    assert control(online, action="start")["ok"]
    assert vote(phone(app, self_paced.join_code), "leadership", 2)["ok"]
    return assessment_id


def _export(app: Flask, directory: Path) -> list[dict[str, Any]]:
    paths = backups.export_all(get_database(app), directory)
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def _without(document: dict[str, Any], *fields: str) -> dict[str, Any]:
    """The document with the named fields removed wherever they occur."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in fields}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(document)


def test_export_import_export_loses_nothing(app: Flask, workshop: int, tmp_path: Path) -> None:
    (first,) = _export(app, tmp_path / "first")
    sessions = first["voting_sessions"]
    assert len(sessions) == 2
    assert [p["number"] for p in sessions[0]["participants"]] == [1, 2, 3, 4]
    assert any(v["comment"] == "Changed my mind \u202e" for v in sessions[0]["votes"])
    assert len(sessions[0]["vote_history"]) > len(
        [v for v in sessions[0]["votes"] if v["strand_key"] == "culture"]
    )

    # Into an empty database: the same document comes back, ids aside (there are none).
    empty = ready_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
            "FACILITATOR_PASSPHRASE": PASSPHRASE,
            "SECRET_KEY": "x",
            "INSTANCE_DIR": str(tmp_path),
        }
    )
    try:
        document = backups.read_backup(next((tmp_path / "first").iterdir()))
        imported = backups.import_backup(get_database(empty), document)
        assert imported.new_codes == []
        (second,) = _export(empty, tmp_path / "second")
    finally:
        close_app(empty)
    assert _without(second, "exported_at") == _without(first, "exported_at")
    assert first["circulation"].startswith("Raw data, programme team only")

    # Into the same database: every join code is taken, so each session gets a new one.
    again = backups.import_backup(get_database(app), document)
    assert len(again.new_codes) == 2
    with get_database(app).read() as db:
        third = backups.assessment_backup(db, again.assessment_id)
        codes = set(db.scalars(select(VotingSession.join_code)))
    assert len(codes) == 4
    assert _without(third, "exported_at", "join_code") == _without(
        first, "exported_at", "join_code"
    )


def test_no_token_or_token_hash_ever_leaves_the_database(
    app: Flask, workshop: int, tmp_path: Path
) -> None:
    (path,) = backups.export_all(get_database(app), tmp_path)
    text = path.read_text(encoding="utf-8")
    with get_database(app).read() as db:
        hashes = list(db.scalars(select(Participant.token_hash)))
    assert hashes and not any(h in text for h in hashes)
    assert "token" not in text


def _hostile(document: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(what, file content, words the refusal must contain)."""
    live = document["voting_sessions"][0]

    def changed(edit: Any) -> dict[str, Any]:
        copy = json.loads(json.dumps(document))
        edit(copy)
        return copy

    def session(copy: dict[str, Any]) -> dict[str, Any]:
        return copy["voting_sessions"][0]

    def set_in(path: list[Any], value: Any) -> Any:
        def edit(copy: dict[str, Any]) -> None:
            target: Any = copy
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value

        return edit

    vote0 = ["voting_sessions", 0, "votes", 0]
    return [
        ("not JSON", b"{not json", "not valid JSON"),
        ("not UTF-8", b"\xff\xfe{}", "not UTF-8"),
        ("nested too deeply", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        ("another format", {"format": "maturity-voting/assessment@1"}, "not a backup"),
        ("a list", [1, 2], "not a backup"),
        ("unknown section", changed(set_in(["extra"], [])), "unknown section"),
        ("unknown field", changed(set_in([*vote0, "owner"], 1)), "unknown field 'owner'"),
        (
            "a token hash",
            changed(set_in(["voting_sessions", 0, "participants", 0, "token_hash"], "ab")),
            "unknown field 'token_hash'",
        ),
        ("wrong type", changed(set_in([*vote0, "level"], "4")), "expected a whole number"),
        ("level out of range", changed(set_in([*vote0, "level"], 9)), "expected 1 to 4"),
        ("huge number", changed(set_in([*vote0, "level"], 10**30)), "expected a whole number"),
        ("text too long", changed(set_in(["assessment", "area"], "x" * 121)), "at most 120"),
        ("NUL", changed(set_in(["assessment", "period"], "20\x0017")), "without NUL"),
        ("surrogate", changed(set_in([*vote0, "comment"], "\ud800")), "without NUL"),
        ("bad date", changed(set_in(["voting_sessions", 0, "held_on"], "2017-02-30")), "a date"),
        ("unknown strand", changed(set_in([*vote0, "strand_key"], "nope")), "not a strand"),
        (
            "bad status",
            changed(set_in(["voting_sessions", 0, "status"], "exploded")),
            "expected one of",
        ),
        (
            "no such participant",
            changed(set_in([*vote0, "participant"], 99)),
            "no such participant",
        ),
        (
            "numbers twice",
            changed(
                lambda c: session(c)["participants"].append(dict(session(c)["participants"][0]))
            ),
            "used once",
        ),
        (
            "duplicate vote",
            changed(lambda c: session(c)["votes"].append(dict(live["votes"][0]))),
            "contradict",
        ),
        (
            "broken framework",
            changed(set_in(["assessment", "framework", "levels"], [])),
            "framework",
        ),
        ("level count", changed(set_in(["assessment", "level_count"], 5)), "level_count"),
        ("sessions not a list", changed(set_in(["voting_sessions"], {"a": 1})), "expected a list"),
    ]


def test_hostile_or_malformed_files_are_refused_and_change_nothing(
    app: Flask, workshop: int, tmp_path: Path
) -> None:
    with get_database(app).read() as db:
        document = backups.assessment_backup(db, workshop)
    before = dump(app)
    for what, content, words in _hostile(document):
        path = tmp_path / "hostile.json"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(json.dumps(content), encoding="utf-8")
        with pytest.raises(backups.BackupError) as refused:
            backups.import_backup(get_database(app), backups.read_backup(path))
        assert words in str(refused.value), (what, str(refused.value))
        assert dump(app) == before, what


def test_a_file_over_the_size_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backups, "MAX_IMPORT_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"format": backups.BACKUP_FORMAT, "pad": "x" * 2000}))
    with pytest.raises(backups.BackupError, match="larger than"):
        backups.read_backup(path)


def test_a_file_with_more_rows_than_the_limit_is_refused_and_changes_nothing(
    app: Flask, workshop: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with get_database(app).read() as db:
        document = backups.assessment_backup(db, workshop)
    rows = sum(len(document[t.name]) for t in backups._assessment_tables()) + sum(
        len(session[t.name])
        for session in document["voting_sessions"]
        for t in backups._session_tables()
    )
    before = dump(app)
    monkeypatch.setattr(backups, "MAX_ROWS", rows - 1)
    with pytest.raises(backups.BackupError, match=f"more than {rows - 1} rows"):
        backups.import_backup(get_database(app), document)
    assert dump(app) == before
    monkeypatch.setattr(backups, "MAX_ROWS", rows)  # exactly at the limit is allowed
    assert backups.import_backup(get_database(app), document).sessions == 2


# ---------------------------------------------------------------- the command line


@pytest.fixture
def environment(settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`voting …` reads its configuration from VOTING_* like the server does."""
    for name in ("DATABASE_URL", "INSTANCE_DIR", "FACILITATOR_PASSPHRASE", "SECRET_KEY"):
        monkeypatch.setenv(f"VOTING_{name}", str(settings[name]))
    return settings


def test_voting_backup_copies_the_sqlite_database_consistently(
    app: Flask, workshop: int, environment: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    if not get_database(app).is_sqlite:
        assert main(["backup"]) == 0
        printed = capsys.readouterr().out
        assert "pg_dump --format=custom" in printed and "postgresql://" in printed
        assert "+psycopg" not in printed
        return
    assert main(["backup"]) == 0
    printed = capsys.readouterr().out
    (copy,) = (Path(environment["INSTANCE_DIR"]) / "backups").iterdir()
    assert str(copy) in printed
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        copied = db.execute("SELECT count(*) FROM vote_history").fetchone()[0]
    with sqlite3.connect(get_database(app).url.database) as db:
        assert copied == db.execute("SELECT count(*) FROM vote_history").fetchone()[0]
    # Never over an existing file.
    assert main(["backup", str(copy)]) == 1
    assert "already exists" in capsys.readouterr().out


def test_voting_export_all_and_import_from_the_command_line(
    app: Flask,
    workshop: int,
    environment: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["export-all", str(tmp_path / "out")]) == 0
    assert "1 assessment(s) written" in capsys.readouterr().out
    (path,) = (tmp_path / "out").iterdir()
    assert main(["import", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "Imported as assessment" in printed and "was taken" in printed
    before = dump(app)
    (tmp_path / "bad.json").write_text("[]")
    assert main(["import", str(tmp_path / "bad.json")]) == 1
    assert "Refused:" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "missing.json")]) == 1
    assert dump(app) == before


# ---------------------------------------------------------------- a backup while phones vote

VOTERS = 20


async def _vote_through_backups(
    server: RunningServer, http: requests.Session, session_id: int, code: str, copies: list[Path]
) -> list[list[int]]:
    """Phones change their votes without pause while `voting backup` runs once per copy; returns
    the levels each phone had acknowledged, in order."""
    console = await screen_client(server, http, "console", session_id)
    opened = await console.call("control", {"action": "open", "strand": "leadership"}, timeout=10)
    assert opened["ok"], opened
    phones = await phone_clients(server, code, VOTERS)
    stop = asyncio.Event()

    async def keep_voting(i: int, p: socketio.AsyncClient) -> list[int]:
        levels: list[int] = []
        while not stop.is_set() or not levels:
            level = 1 + (i + len(levels)) % 4
            ack = await p.call("vote", {"strand": "leadership", "level": level}, timeout=30)
            assert ack["ok"], ack
            levels.append(level)
            await asyncio.sleep(0.15)  # within a phone's event rate limit (10 a second)
        return levels

    voting = [asyncio.create_task(keep_voting(i, p)) for i, p in enumerate(phones)]
    await asyncio.sleep(0.5)
    for copy in copies:
        backup = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voting", "backup", str(copy), env=server.environment,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await backup.communicate()
        assert backup.returncode == 0, output.decode()
    await asyncio.sleep(0.3)
    stop.set()
    levels = await asyncio.gather(*voting)
    for p in [*phones, console]:
        await p.disconnect()
    return levels


def _history_agrees_with_votes(path: Path) -> int:
    """In a consistent copy every vote is its latest history row (they commit together).
    Returns the copy's number of history rows."""
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        disagreeing = db.execute(
            """SELECT count(*) FROM votes v WHERE v.level != (
                   SELECT h.level FROM vote_history h
                   WHERE h.session_id = v.session_id AND h.strand_key = v.strand_key
                     AND h.round = v.round AND h.participant_id = v.participant_id
                   ORDER BY h.id DESC LIMIT 1)"""
        ).fetchone()[0]
        assert disagreeing == 0
        return db.execute("SELECT count(*) FROM vote_history").fetchone()[0]


@pytest.mark.server
def test_backups_taken_while_phones_vote_are_consistent_and_hold_up_no_vote(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    copies = [tmp_path / f"copy-{n}.sqlite3" for n in range(3)]
    with running_server(database_url, tmp_path) as server:
        http = server.facilitator()
        session_id, code = create_workshop(server, http)
        levels = asyncio.run(_vote_through_backups(server, http, session_id, code, copies))
        assert "Traceback" not in server.log()
    acknowledged = sum(len(each) for each in levels)
    in_copies = [_history_agrees_with_votes(copy) for copy in copies]
    # Taken in order while the phones voted: each copy holds more than the one before, and
    # every vote acknowledged is in the database itself, once, with each phone's last level.
    assert 0 < in_copies[0] <= in_copies[1] <= in_copies[2] < acknowledged
    assert _history_agrees_with_votes(tmp_path / "voting.sqlite3") == acknowledged
    with sqlite3.connect(tmp_path / "voting.sqlite3") as db:
        stored = sorted(level for (level,) in db.execute("SELECT level FROM votes"))
    assert stored == sorted(each[-1] for each in levels)
