"""Schema migrations with Alembic: an empty database reaches the models' schema exactly, and a
database holding data in the first released schema upgrades, downgrades and upgrades again with
every row intact (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import json
from datetime import datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from voting.database import FIRST_REVISION, Database, alembic_config
from voting.models import Base

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_an_empty_database_upgrades_to_exactly_the_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        database.upgrade()
        assert database.revision() == HEAD
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
    finally:
        database.drop_schema()
        database.dispose()


def _seed_first_schema(database: Database) -> None:
    """Rows as the first release wrote them (plain SQL: the models may have moved on)."""
    framework = {"id": "m", "levels": [{"key": "a", "name": "A"}, {"key": "b", "name": "B"}]}
    now = datetime(2017, 6, 14, 10, 0)
    with database.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO assessments (id, area, period, framework_id, framework, level_count,"
                " localities, created_at) VALUES (1, 'Devon', '2017', 'm', :fw, 2, '[]', :now)"
            ),
            {"fw": json.dumps(framework), "now": now},
        )
        c.execute(
            text(
                "INSERT INTO desk_ratings (id, assessment_id, strand_key, level, upper_level,"
                " evidence, sources, updated_at) VALUES (1, 1, 'culture', 1, 2, 'e', 's', :now)"
            ),
            {"now": now},
        )
        c.execute(
            text(
                "INSERT INTO voting_sessions (id, assessment_id, name, forum_type, locality,"
                " strand_keys, pacing, collect_profile, join_code, status, show_results,"
                " created_at)"
                " VALUES (1, 1, 'Forum', 'mixed', '', '[\"culture\"]', 'live', false, 'ABCDEF',"
                " 'running', false, :now)"
            ),
            {"now": now},
        )
        c.execute(
            text(
                "INSERT INTO strand_states (id, session_id, strand_key, status, round, revealed)"
                " VALUES (1, 1, 'culture', 'open', 1, false)"
            )
        )
        for pid in (1, 2, 3):
            c.execute(
                text(
                    "INSERT INTO participants (id, session_id, token_hash, profile_done, joined_at)"
                    " VALUES (:id, 1, :hash, false, :now)"
                ),
                {"id": pid, "hash": f"{pid:064d}", "now": now},
            )
            c.execute(
                text(
                    "INSERT INTO votes (id, session_id, strand_key, round, participant_id, level,"
                    " updated_at) VALUES (:id, 1, 'culture', 1, :id, :level, :now)"
                ),
                {"id": pid, "level": 1 + pid % 2, "now": now},
            )
            c.execute(
                text(
                    "INSERT INTO vote_history (id, session_id, strand_key, round, participant_id,"
                    " level, recorded_at) VALUES (:id, 1, 'culture', 1, :id, :level, :now)"
                ),
                {"id": pid, "level": 1 + pid % 2, "now": now},
            )


def _fingerprint(database: Database) -> dict[str, object]:
    with database.engine.connect() as c:
        return {
            "votes": c.execute(
                text("SELECT participant_id, level FROM votes ORDER BY participant_id")
            ).all(),
            "history": c.execute(text("SELECT COUNT(*) FROM vote_history")).scalar(),
            "session": c.execute(text("SELECT name, join_code, status FROM voting_sessions")).all(),
            "desk": c.execute(text("SELECT level, upper_level, evidence FROM desk_ratings")).all(),
            "framework": c.execute(text("SELECT framework FROM assessments")).scalar(),
        }


def test_the_first_released_schema_upgrades_and_downgrades_with_its_data(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        database.upgrade(FIRST_REVISION)
        _seed_first_schema(database)
        before = _fingerprint(database)
        assert len(before["votes"]) == 3  # type: ignore[arg-type]

        database.upgrade()
        assert database.revision() == HEAD
        assert _fingerprint(database) == before

        database.downgrade(FIRST_REVISION)
        assert _fingerprint(database) == before
        database.upgrade()
        assert _fingerprint(database) == before
    finally:
        database.drop_schema()
        database.dispose()


def test_a_database_made_before_migrations_is_adopted(tmp_path: object) -> None:
    """A database created with create_all (before Alembic) is stamped, not recreated."""
    from pathlib import Path

    url = f"sqlite:///{Path(str(tmp_path)) / 'old.sqlite3'}"
    database = Database(url)
    try:
        # What create_all made before migrations existed: the first schema, unrecorded.
        database.upgrade(FIRST_REVISION)
        with database.engine.begin() as c:
            c.execute(text("DROP TABLE alembic_version"))
            c.execute(text("INSERT INTO app_settings (key, value) VALUES ('kept', 'yes')"))
        database.upgrade()
        assert database.revision() == HEAD
        with database.engine.connect() as c:
            assert (
                c.execute(text("SELECT value FROM app_settings WHERE key='kept'")).scalar() == "yes"
            )
    finally:
        database.dispose()
