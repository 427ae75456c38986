"""Smaller defences from the hostile-room review (issue #15): pages with desk evidence are never
kept by the browser, a wrong method is a 405, a strand name cannot become a reference in the
workbook's charts, and an imported join code that the server would never make is replaced."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.helpers import control, make_session, phone, screen, vote
from voting.assessments import JOIN_CODE_ALPHABET, JOIN_CODE_LENGTH
from voting.database import get_database
from voting.models import Assessment, VotingSession
from voting.upkeep import backups

HOSTILE_NAME = "@SUM(1+1)*cmd|' /C calc'!A0"


def test_put_on_the_login_page_is_405(client: FlaskClient) -> None:
    assert client.put("/login", data={"passphrase": "x"}).status_code == 405
    assert client.delete("/logout").status_code == 405


def test_facilitator_pages_and_downloads_are_never_stored(
    client: FlaskClient, facilitator: FlaskClient, assessment_id: int
) -> None:
    base = f"/facilitator/assessments/{assessment_id}"
    for path in (
        "/facilitator/",
        base,
        f"{base}/results",
        f"{base}/assessment.json",
        f"{base}/assessment.xlsx",
        f"{base}/votes.csv",
    ):
        response = facilitator.get(path)
        assert response.status_code == 200, path
        assert response.headers.get("Cache-Control") == "no-store", path
    assert client.get("/login").headers.get("Cache-Control") == "no-store"
    # Phones' pages and assets keep their caching.
    assert client.get("/").headers.get("Cache-Control") != "no-store"


def test_a_strand_name_never_becomes_a_reference_in_the_workbook_charts(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    with app.app_context(), get_database().write() as db:
        assessment = db.get(Assessment, assessment_id)
        assert assessment is not None
        framework = dict(assessment.framework)
        framework["strands"] = [
            {**s, "name": HOSTILE_NAME} if s["key"] == "culture" else s
            for s in framework["strands"]
        ]
        assessment.framework = framework
    session = make_session(app, assessment_id, strand_keys=["culture"])
    console = screen(app, facilitator, "console", session.id)
    assert control(console, action="open", strand="culture")["ok"]
    for _ in range(5):  # enough for a group to be shown (VOTING_MIN_GROUP_SIZE)
        assert vote(phone(app, session.join_code), "culture", 2)["ok"]

    book = facilitator.get(f"/facilitator/assessments/{assessment_id}/assessment.xlsx")
    with zipfile.ZipFile(io.BytesIO(book.get_data())) as parts:
        charts = [parts.read(n).decode() for n in parts.namelist() if "charts/chart" in n]
    assert len(charts) == 1
    # The series name refers to the strand's own cell on the Charts sheet; the title is text.
    assert "<c:f>Charts!$A$" in charts[0]
    assert "calc'!A0</c:f>" not in charts[0]
    assert "!A0" not in charts[0].replace("!\u2060A0", "")


def test_import_replaces_a_join_code_the_server_would_not_make(
    app: Flask, facilitator: FlaskClient, assessment_id: int, tmp_path: Path
) -> None:
    make_session(app, assessment_id)
    with app.app_context():
        (path,) = backups.export_all(get_database(), tmp_path)
        document = backups.read_backup(path)
        # Deleting the original frees its code, so only its shape can make the import change it.
        for session in document["voting_sessions"]:
            session["join_code"] = "ABCD"
        imported = backups.import_backup(get_database(), document)
        assert [old for old, _new in imported.new_codes] == ["ABCD"]
        with get_database().read() as db:
            codes = db.scalars(
                select(VotingSession.join_code).where(
                    VotingSession.assessment_id == imported.assessment_id
                )
            ).all()
    assert len(codes) == 1
    assert len(codes[0]) == JOIN_CODE_LENGTH and set(codes[0]) <= set(JOIN_CODE_ALPHABET)
