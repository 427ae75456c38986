"""Backups: a consistent copy of the SQLite database, and assessments as lossless JSON files.

- `voting backup [PATH]` copies a SQLite database with sqlite3's online backup API (a consistent
  snapshot even while the server is writing), by default into `<instance>/backups/`. On
  PostgreSQL it prints the `pg_dump` command to run instead.
- `voting export-all [DIR]` writes each assessment as one JSON file in the backup format
  `maturity-voting/backup@1`: the assessment with its framework snapshot, and every row that
  belongs to it (desk and agreed ratings, sessions with their strand states, participants as
  anonymous numbers with their profiles, votes, vote history, kept totals). Participant tokens
  (their hashes) are never written, nor row ids, nor links to facilitator accounts.
- `voting import FILE` restores one such file as a new assessment (new ids; a session keeps its
  join code unless another session already has it). A file that is malformed, too large or
  inconsistent is refused with a message saying what is wrong, and nothing is written: the
  whole import is one transaction.

The format follows the schema rather than a hand-kept list of fields: every column of every
table under an assessment is exported, so a column added later is backed up without touching
this module, and an import refuses a field it does not know instead of dropping it silently.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CursorResult,
    Date,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from voting.assessments import JOIN_CODE_ALPHABET, JOIN_CODE_LENGTH, new_join_code
from voting.database import Database
from voting.frameworks import Framework, FrameworkError, parse
from voting.models import (
    FORUM_TYPES,
    PACINGS,
    SESSION_STATUSES,
    STRAND_STATUSES,
    Assessment,
    Base,
    Participant,
    VotingSession,
    utcnow,
)

BACKUP_FORMAT = "maturity-voting/backup@1"
# Said in the file itself, as every raw download does (docs/privacy.md).
CIRCULATION = (
    "Raw data, programme team only: a backup of every vote with what each participant said "
    "about themselves. Do not circulate."
)
MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_ROWS = 2_000_000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INT32 = 2**31 - 1
# A code the server would have made: anything else (shorter, or outside the alphabet) could be
# guessed, so the import replaces it.
_JOIN_CODE = re.compile(f"[{JOIN_CODE_ALPHABET}]{{{JOIN_CODE_LENGTH}}}")

ASSESSMENTS = Assessment.__table__
SESSIONS = VotingSession.__table__
PARTICIPANTS = Participant.__table__
# Never leaves the database: a token hash would let a backup reader rejoin as a participant.
SECRET_COLUMNS = {"participants": {"token_hash"}}
# Enumerated columns checked on import (the database itself would accept any text).
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("voting_sessions", "forum_type"): FORUM_TYPES,
    ("voting_sessions", "pacing"): PACINGS,
    ("voting_sessions", "status"): SESSION_STATUSES,
    ("strand_states", "status"): STRAND_STATUSES,
}


class BackupError(ValueError):
    """A backup file that cannot be imported, with the reason in plain words."""


# ---------------------------------------------------------------- the schema, walked


def _children(parent: Table) -> list[Table]:
    """Tables with a foreign key to `parent`, in dependency order."""
    return [
        t
        for t in Base.metadata.sorted_tables
        if any(fk.column.table is parent for fk in t.foreign_keys)
    ]


def _parent_column(table: Table, parent: Table) -> str:
    return next(fk.parent.name for fk in table.foreign_keys if fk.column.table is parent)


def _kept_columns(table: Table) -> list[str]:
    """The columns a backup carries: not the id, no foreign key (those are rebuilt from the
    nesting, or are links outside the assessment, like an owner account), no secret."""
    foreign = {fk.parent.name for fk in table.foreign_keys}
    secret = SECRET_COLUMNS.get(table.name, set())
    return [
        c.name
        for c in table.columns
        if not c.primary_key and c.name not in foreign and c.name not in secret
    ]


def _session_tables() -> list[Table]:
    return _children(SESSIONS)


def _assessment_tables() -> list[Table]:
    return [t for t in _children(ASSESSMENTS) if t is not SESSIONS]


# ---------------------------------------------------------------- values


def _out(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # naive UTC, to the microsecond
    if isinstance(value, date):
        return value.isoformat()
    return value


def _in(table: Table, name: str, value: Any, where: str) -> Any:
    """A value from a file, checked against its column's type; BackupError if it cannot be."""
    column = table.columns[name]
    kind = column.type

    def fail(expected: str) -> BackupError:
        shown = repr(value) if len(repr(value)) <= 60 else f"{type(value).__name__} (long)"
        return BackupError(f"{where}: {name}: expected {expected}, got {shown}")

    if value is None:
        if not column.nullable:
            raise fail("a value")
        return None
    if isinstance(kind, Boolean):
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if isinstance(kind, Integer):
        if isinstance(value, bool) or not isinstance(value, int) or not -_INT32 <= value <= _INT32:
            raise fail("a whole number")
        return value
    if isinstance(kind, DateTime):
        try:
            return datetime.fromisoformat(value).replace(tzinfo=None)
        except (TypeError, ValueError):
            raise fail("a date and time") from None
    if isinstance(kind, Date):
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            raise fail("a date") from None
    if isinstance(kind, String | Text):
        if not isinstance(value, str):
            raise fail("text")
        length = getattr(kind, "length", None)
        if length is not None and len(value) > length:
            raise fail(f"text of at most {length} characters")
        if _UNSTORABLE.search(value):
            raise fail("text without NUL or unpaired surrogates")
        return value
    if isinstance(kind, JSON):
        _check_json_text(value, f"{where}: {name}")
        return value
    raise BackupError(f"{where}: {name}: this kind of field cannot be imported")


def _check_json_text(value: Any, where: str) -> None:
    if isinstance(value, str) and _UNSTORABLE.search(value):
        raise BackupError(f"{where}: text with NUL or unpaired surrogates")
    if isinstance(value, list):
        for item in value:
            _check_json_text(item, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json_text(key, where)
            _check_json_text(item, where)


# ---------------------------------------------------------------- export


def _rows(db: Any, table: Table, column: str, parent_id: int) -> list[Any]:
    return list(
        db.execute(select(table).where(table.c[column] == parent_id).order_by(table.c.id)).all()
    )


def assessment_backup(db: Any, assessment_id: int) -> dict[str, Any]:
    """One assessment and everything under it, as a plain document (see the module doc)."""
    row = db.execute(select(ASSESSMENTS).where(ASSESSMENTS.c.id == assessment_id)).one()
    document: dict[str, Any] = {
        "format": BACKUP_FORMAT,
        "circulation": CIRCULATION,
        "exported_at": utcnow().isoformat(timespec="seconds") + "Z",
        "assessment": {c: _out(row._mapping[c]) for c in _kept_columns(ASSESSMENTS)},
    }
    for table in _assessment_tables():
        rows = _rows(db, table, _parent_column(table, ASSESSMENTS), assessment_id)
        columns = _kept_columns(table)
        document[table.name] = [{c: _out(r._mapping[c]) for c in columns} for r in rows]
    sessions = []
    for session in _rows(db, SESSIONS, _parent_column(SESSIONS, ASSESSMENTS), assessment_id):
        entry = {c: _out(session._mapping[c]) for c in _kept_columns(SESSIONS)}
        # Participants become 1, 2, 3… in the order they joined: anonymous, yet every vote
        # still says whose it was, so changes of mind survive a round trip.
        numbers: dict[int, int] = {}
        for table in _session_tables():
            rows = _rows(db, table, _parent_column(table, SESSIONS), session.id)
            listed = []
            for r in rows:
                item = {c: _out(r._mapping[c]) for c in _kept_columns(table)}
                if table is PARTICIPANTS:
                    numbers[r.id] = len(numbers) + 1
                    item = {"number": numbers[r.id], **item}
                elif _points_at_participants(table):
                    whose = r._mapping[_parent_column(table, PARTICIPANTS)]
                    item = {"participant": numbers[whose], **item}
                listed.append(item)
            entry[table.name] = listed
        sessions.append(entry)
    document["voting_sessions"] = sessions
    return document


def _points_at_participants(table: Table) -> bool:
    return any(fk.column.table is PARTICIPANTS for fk in table.foreign_keys)


def _file_name(document: dict[str, Any], assessment_id: int) -> str:
    a = document["assessment"]
    stem = re.sub(r"[^a-z0-9]+", "-", f"{a.get('area', '')}-{a.get('period', '')}".lower())
    return f"{assessment_id:04d}-{stem.strip('-') or 'assessment'}.json"


def export_all(database: Database, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with database.read() as db:
        ids = list(db.scalars(select(ASSESSMENTS.c.id).order_by(ASSESSMENTS.c.id)))
        for assessment_id in ids:
            document = assessment_backup(db, assessment_id)
            path = directory / _file_name(document, assessment_id)
            _write_atomically(path, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
            written.append(path)
    return written


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- import


@dataclass(frozen=True)
class Imported:
    assessment_id: int
    sessions: int
    new_codes: list[tuple[str, str]]  # (code in the file, code now) where it had to change


def read_backup(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BackupError(f"{path}: cannot be read: {exc.strerror}") from None
    if size > MAX_IMPORT_BYTES:
        raise BackupError(f"{path}: larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise BackupError(f"{path}: not UTF-8 text") from None
    except RecursionError:
        raise BackupError(f"{path}: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise BackupError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != BACKUP_FORMAT:
        raise BackupError(f"{path}: not a backup in the format {BACKUP_FORMAT!r}")
    return document


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BackupError(f"{where}: expected a mapping of named fields")
    return value


def _listing(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise BackupError(f"{where}: expected a list")
    return value


def _values(table: Table, item: Any, where: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row's values from the file: known fields only, each checked against its column."""
    fields = _mapping(item, where)
    allowed = set(_kept_columns(table))
    unknown = sorted(set(fields) - allowed - set(extra))
    if unknown:
        raise BackupError(f"{where}: unknown field {unknown[0]!r}")
    values = {name: _in(table, name, v, where) for name, v in fields.items() if name in allowed}
    for (table_name, column), choices in CHOICES.items():
        if table_name == table.name and column in values and values[column] not in choices:
            raise BackupError(f"{where}: {column}: expected one of {', '.join(choices)}")
    return values


def import_backup(database: Database, document: dict[str, Any]) -> Imported:
    """Restore one assessment from a backup document, all or nothing."""
    _refuse_unknown_sections(document)
    assessment = _values(ASSESSMENTS, document.get("assessment"), "assessment")
    framework = _framework_of(assessment)
    sessions = _listing(document.get("voting_sessions", []), "voting_sessions")
    try:
        with database.write() as db:
            restore = _Restore(
                db,
                strand_keys={s.key for s in framework.strands},
                levels=len(framework.levels),
                taken_codes=set(db.scalars(select(SESSIONS.c.join_code))),
            )
            assessment_id = _insert(db, ASSESSMENTS, assessment)
            _restore_assessment_rows(restore, document, assessment_id)
            for s, item in enumerate(sessions):
                _restore_session(restore, item, f"voting_sessions[{s}]", assessment_id)
    except IntegrityError as exc:
        raise BackupError(f"the file holds rows that contradict each other: {exc.orig}") from None
    except SQLAlchemyError as exc:
        raise BackupError(f"the database refused the file: {exc.__class__.__name__}") from None
    return Imported(assessment_id, len(sessions), restore.new_codes)


@dataclass
class _Restore:
    """One import in progress: its transaction, the framework's strands and levels, and what
    the rows written so far have used up."""

    db: Session
    strand_keys: set[str]
    levels: int
    taken_codes: set[str]  # join codes in the database, and those this import has given out
    rows: int = 0
    new_codes: list[tuple[str, str]] = field(default_factory=list)

    def count_row(self) -> None:
        self.rows += 1
        if self.rows > MAX_ROWS:
            raise BackupError(f"more than {MAX_ROWS} rows")

    def free_code(self, code: Any) -> str:
        """The file's join code if it is well formed and not taken here, else a fresh one (kept
        in `new_codes` so that the facilitator can be told)."""
        if not isinstance(code, str) or not _JOIN_CODE.fullmatch(code) or code in self.taken_codes:
            fresh = new_join_code()
            while fresh in self.taken_codes:
                fresh = new_join_code()
            self.new_codes.append((str(code), fresh))
            code = fresh
        self.taken_codes.add(code)
        return code


@dataclass
class _SessionRestore:
    """One session being restored: its new id, its strands, its participants' new ids."""

    id: int
    strand_keys: set[str]
    participants: dict[int, int] = field(default_factory=dict)  # number in the file -> new id


def _refuse_unknown_sections(document: dict[str, Any]) -> None:
    known = {"format", "circulation", "exported_at", "assessment", "voting_sessions"} | {
        t.name for t in _assessment_tables()
    }
    stray = sorted(set(document) - known)
    if stray:
        raise BackupError(f"unknown section {stray[0]!r}")


def _framework_of(assessment: dict[str, Any]) -> Framework:
    """The assessment's own framework snapshot, which must agree with its level count."""
    try:
        framework = parse(assessment.get("framework"), "assessment: framework")
    except FrameworkError as exc:
        raise BackupError(str(exc)) from None
    if assessment.get("level_count") != len(framework.levels):
        raise BackupError("assessment: level_count does not match the framework's levels")
    return framework


def _restore_assessment_rows(
    restore: _Restore, document: dict[str, Any], assessment_id: int
) -> None:
    """The desk and agreed ratings (every table under the assessment but its sessions)."""
    for table in _assessment_tables():
        parent = _parent_column(table, ASSESSMENTS)
        for i, item in enumerate(_listing(document.get(table.name, []), table.name)):
            place = f"{table.name}[{i}]"
            values = _values(table, item, place)
            _check_strand(values, restore.strand_keys, restore.levels, place)
            restore.count_row()
            _insert(restore.db, table, {**values, parent: assessment_id})


def _restore_session(restore: _Restore, item: Any, where: str, assessment_id: int) -> None:
    """One session and every row under it (strand states, participants, votes...)."""
    nested = tuple(t.name for t in _session_tables())
    values = _values(SESSIONS, item, where, extra=nested)
    strand_keys = values.get("strand_keys")
    if not isinstance(strand_keys, list) or set(strand_keys) - restore.strand_keys:
        raise BackupError(f"{where}: strand_keys: expected strands of the framework")
    values["join_code"] = restore.free_code(values.get("join_code"))
    session = _SessionRestore(
        _insert(restore.db, SESSIONS, {**values, "assessment_id": assessment_id}),
        strand_keys=set(strand_keys),
    )
    for table in _session_tables():
        children = _listing(item.get(table.name, []), f"{where}.{table.name}")
        for i, child in enumerate(children):
            restore.count_row()
            place = f"{where}.{table.name}[{i}]"
            if table is PARTICIPANTS:
                _restore_participant(restore, session, child, place)
            else:
                _restore_session_row(restore, session, table, child, place)


def _restore_participant(
    restore: _Restore, session: _SessionRestore, child: Any, place: str
) -> None:
    values = _values(PARTICIPANTS, child, place, extra=("number",))
    number = child.get("number")
    if not _is_int(number) or number in session.participants:
        raise BackupError(f"{place}: number: expected a number used once")
    links = {
        _parent_column(PARTICIPANTS, SESSIONS): session.id,
        # A fresh random hash: the participant cannot be rejoined, only counted.
        "token_hash": os.urandom(32).hex(),
    }
    session.participants[number] = _insert(restore.db, PARTICIPANTS, {**values, **links})


def _restore_session_row(
    restore: _Restore, session: _SessionRestore, table: Table, child: Any, place: str
) -> None:
    """A row of a session's table other than participants; a vote (or its history) names its
    participant by number, which becomes the participant's new id."""
    links: dict[str, Any] = {_parent_column(table, SESSIONS): session.id}
    if _points_at_participants(table):
        values = _values(table, child, place, extra=("participant",))
        number = child.get("participant")
        if number not in session.participants:
            raise BackupError(f"{place}: participant: no such participant")
        links[_parent_column(table, PARTICIPANTS)] = session.participants[number]
    else:
        values = _values(table, child, place)
    _check_strand(values, session.strand_keys, restore.levels, place)
    _insert(restore.db, table, {**values, **links})


def _insert(db: Session, table: Table, values: dict[str, Any]) -> int:
    """Insert one row and return its new id."""
    result = cast("CursorResult[Any]", db.execute(table.insert().values(**values)))
    key = result.inserted_primary_key
    if key is None:  # only a multi-row or textual insert has none
        raise RuntimeError(f"no id for the row inserted into {table.name}")
    return int(key[0])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_strand(values: dict[str, Any], strands: set[str], levels: int, where: str) -> None:
    if "strand_key" in values and values["strand_key"] not in strands:
        raise BackupError(f"{where}: strand_key: {values['strand_key']!r} is not a strand here")
    for name in ("level", "upper_level"):
        level = values.get(name)
        if level is not None and not 1 <= level <= levels:
            raise BackupError(f"{where}: {name}: expected 1 to {levels}")


# ---------------------------------------------------------------- the SQLite file


def sqlite_path(database: Database) -> Path | None:
    if not database.is_sqlite or database.url.database in (None, "", ":memory:"):
        return None
    return Path(database.url.database)


def backup_sqlite(source: Path, target: Path) -> Path:
    """Copy a live SQLite database with the online backup API: a consistent snapshot even while
    the server writes, which copying the file (and its WAL) by hand is not."""
    if target.is_dir():
        target = target / f"voting-{utcnow():%Y%m%d-%H%M%S}.sqlite3"
    if target.exists():
        raise BackupError(f"{target} already exists; choose another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        writer = sqlite3.connect(partial)
        try:
            reader.backup(writer)
        finally:
            writer.close()
        os.replace(partial, target)
    finally:
        reader.close()
        partial.unlink(missing_ok=True)
    return target


def pg_dump_command(database: Database, target: Path) -> str:
    url = database.url.set(drivername="postgresql")
    shown = url.render_as_string(hide_password=True)
    return f"pg_dump --format=custom --file={target} '{shown}'"
