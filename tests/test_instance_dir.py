"""Where instance data goes: `sessions/` under the folder a command is run from, or
VOTING_INSTANCE_DIR, which moves the SQLite database and its backups together. (The installed
wheel's server is checked the same way in tests/test_install.py.)"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import pytest

from tests.helpers import PASSPHRASE
from voting.cli import main


def _accounts(database: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return [name for (name,) in db.execute("SELECT name FROM facilitators ORDER BY name")]


@pytest.mark.parametrize("moved", [False, True], ids=["default", "VOTING_INSTANCE_DIR"])
def test_the_database_and_its_backups_live_in_one_instance_folder(
    moved: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("VOTING_")]:
        monkeypatch.delenv(name)
    started_in = tmp_path / "started-here"
    started_in.mkdir()
    monkeypatch.chdir(started_in)
    monkeypatch.setenv("VOTING_FACILITATOR_PASSPHRASE", PASSPHRASE)
    instance = tmp_path / "elsewhere" if moved else started_in / "sessions"
    if moved:
        monkeypatch.setenv("VOTING_INSTANCE_DIR", str(instance))

    assert main(["add-facilitator", "hertfordshire"]) == 0
    assert main(["backup"]) == 0
    assert main(["export-all"]) == 0
    printed = capsys.readouterr().out

    database = instance / "voting.sqlite3"
    assert _accounts(database) == ["hertfordshire"]
    (copy,) = (instance / "backups").glob("voting-*.sqlite3")
    assert f"Database copied to {copy}" in printed
    assert _accounts(copy) == ["hertfordshire"]  # a copy of that database, not of another
    assert f"written to {instance / 'backups' / 'export-'}" in printed
    # Nothing anywhere else: the folder the commands ran in holds at most the default instance.
    assert [p.name for p in started_in.iterdir()] == ([] if moved else ["sessions"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["started-here", *(["elsewhere"] if moved else [])]
    )
