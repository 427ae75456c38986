"""Several facilitator accounts on one deployment: each sees and runs only its own assessments;
another account's pages, downloads and screens answer as if they did not exist."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.apps import CommandRunner
from tests.helpers import PASSPHRASE, csrf_from, post_form
from voting.live.events import socketio


def add_account(app: Flask, name: str) -> str:
    result = CommandRunner(app).invoke(["add-facilitator", name])
    assert result.exit_code == 0, result.output
    return result.output.strip().rsplit(" ", 1)[-1]


def log_in_as(app: Flask, name: str, passphrase: str) -> tuple[FlaskClient, Any]:
    client = app.test_client()
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "account": name,
            "passphrase": passphrase,
            "csrf_token": csrf_from(page.get_data(True)),
        },
    )
    return client, response


def make_assessment(client: FlaskClient, area: str) -> int:
    made = post_form(
        client,
        "/facilitator/assessments/new",
        {"area": area, "period": "2017", "framework": "early-help-2016"},
    )
    assert made.status_code == 302, made.get_data(True)
    return int(made.headers["Location"].rsplit("/", 1)[-1])


def make_session_via_form(client: FlaskClient, assessment_id: int) -> int:
    made = post_form(
        client,
        f"/facilitator/assessments/{assessment_id}/sessions/new",
        {"name": "Forum", "forum_type": "mixed", "pacing": "live", "strands": ["culture"]},
    )
    assert made.status_code == 302, made.get_data(True)
    return int(made.headers["Location"].rsplit("/", 1)[-1])


def test_each_account_sees_only_its_own_assessments(app: Flask) -> None:
    herts_pass = add_account(app, "herts")
    devon_pass = add_account(app, "devon")
    herts, ok = log_in_as(app, "herts", herts_pass)
    assert ok.status_code == 302
    devon, ok = log_in_as(app, "devon", devon_pass)
    assert ok.status_code == 302
    main, ok = log_in_as(app, "", PASSPHRASE)
    assert ok.status_code == 302

    herts_id = make_assessment(herts, "Hertfordshire")
    herts_session = make_session_via_form(herts, herts_id)
    devon_id = make_assessment(devon, "Devon")

    herts_link = f'href="/facilitator/assessments/{herts_id}"'
    devon_link = f'href="/facilitator/assessments/{devon_id}"'
    assert herts_link in herts.get("/facilitator/").get_data(True)
    assert herts_link not in devon.get("/facilitator/").get_data(True)
    assert devon_link in devon.get("/facilitator/").get_data(True)
    assert herts_link not in main.get("/facilitator/").get_data(True)
    assert devon_link not in herts.get("/facilitator/").get_data(True)

    private = [
        f"/facilitator/assessments/{herts_id}",
        f"/facilitator/assessments/{herts_id}/desk",
        f"/facilitator/assessments/{herts_id}/sessions/new",
        f"/facilitator/assessments/{herts_id}/results",
        f"/facilitator/assessments/{herts_id}/report",
        f"/facilitator/assessments/{herts_id}/agreed",
        f"/facilitator/assessments/{herts_id}/votes.csv",
        f"/facilitator/assessments/{herts_id}/summary.csv",
        f"/facilitator/assessments/{herts_id}/assessment.json",
        f"/facilitator/assessments/{herts_id}/raw.json",
        f"/facilitator/assessments/{herts_id}/assessment.xlsx",
        f"/facilitator/assessments/{herts_id}/charts/culture.svg",
        f"/facilitator/assessments/{herts_id}/delete",
        f"/facilitator/sessions/{herts_session}",
        f"/facilitator/sessions/{herts_session}/present",
        f"/facilitator/sessions/{herts_session}/results",
        f"/facilitator/sessions/{herts_session}/votes.csv",
        f"/facilitator/sessions/{herts_session}/delete",
    ]
    for url in private:
        assert herts.get(url).status_code == 200, url
        for other in (devon, main):
            assert other.get(url).status_code == 404, url
    # Nor can another account change or delete it.
    page = devon.get(f"/facilitator/assessments/{devon_id}").get_data(True)
    token = csrf_from(page)
    for url in (
        f"/facilitator/assessments/{herts_id}/delete",
        f"/facilitator/sessions/{herts_session}/delete",
        f"/facilitator/assessments/{herts_id}/retention",
        f"/facilitator/assessments/{herts_id}/desk",
        f"/facilitator/assessments/{herts_id}/agreed",
    ):
        assert devon.post(url, data={"csrf_token": token}).status_code == 404, url
    assert herts.get(f"/facilitator/assessments/{herts_id}").status_code == 200

    for role in ("console", "presenter"):
        intruder = socketio.test_client(
            app, flask_test_client=devon, auth={"role": role, "session_id": herts_session}
        )
        assert not intruder.is_connected()
        owner = socketio.test_client(
            app, flask_test_client=herts, auth={"role": role, "session_id": herts_session}
        )
        assert owner.is_connected()


def test_account_logins_refuse_wrong_passphrases_and_unknown_names(app: Flask) -> None:
    passphrase = add_account(app, "herts")
    for name, phrase in (("herts", "wrong"), ("nobody", passphrase), ("herts", PASSPHRASE)):
        client, response = log_in_as(app, name, phrase)
        assert response.status_code == 401
        assert client.get("/facilitator/").status_code == 302


def test_account_names_are_checked_and_unique(app: Flask) -> None:
    add_account(app, "herts")
    again = CommandRunner(app).invoke(["add-facilitator", "herts"])
    assert again.exit_code != 0 and "already an account" in again.output
    bad = CommandRunner(app).invoke(["add-facilitator", "Bad Name!"])
    assert bad.exit_code != 0 and "lowercase" in bad.output


def test_the_voting_command_adds_an_account(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "VOTING_DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite3'}",
        "VOTING_FACILITATOR_PASSPHRASE": PASSPHRASE,
    }
    made = subprocess.run(
        [sys.executable, "-m", "voting", "add-facilitator", "devon"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Account devon created. Its passphrase (shown once): ")
    again = subprocess.run(
        [sys.executable, "-m", "voting", "add-facilitator", "devon"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert again.returncode == 1 and "already an account" in again.stdout
