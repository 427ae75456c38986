"""Who may do what: facilitator login, generated passphrases, CSRF, and sockets that try to act
beyond their role."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.apps import CommandRunner, close_app, ready_app
from tests.helpers import PASSPHRASE, control, last, log_in, phone, received, screen
from voting.database import get_database
from voting.live.control import ACTIONS
from voting.live.events import socketio
from voting.models import AppSetting, StrandState, VotingSession


def test_facilitator_pages_need_a_login(client: FlaskClient) -> None:
    for url in (
        "/facilitator/",
        "/facilitator/assessments/new",
        "/facilitator/sessions/1",
        "/facilitator/sessions/1/present",
        "/facilitator/assessments/1/votes.csv",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_a_wrong_passphrase_is_refused_and_a_right_one_admits(client: FlaskClient) -> None:
    wrong = log_in(client, "not it")
    assert wrong.status_code == 401 and "not right" in wrong.get_data(True)
    assert client.get("/facilitator/").status_code == 302
    assert log_in(client).status_code == 302
    assert client.get("/facilitator/").status_code == 200
    page = client.get("/facilitator/").get_data(True)
    from tests.helpers import csrf_from

    client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert client.get("/facilitator/").status_code == 302


def test_login_never_redirects_off_site(client: FlaskClient) -> None:
    from tests.helpers import csrf_from

    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "passphrase": PASSPHRASE,
            "next": "//evil.example/x",
            "csrf_token": csrf_from(page.get_data(True)),
        },
    )
    assert response.headers["Location"] == "/facilitator/"


def test_forms_without_the_csrf_token_are_refused(client: FlaskClient, app: Flask) -> None:
    assert client.post("/login", data={"passphrase": PASSPHRASE}).status_code == 400
    log_in(client)
    response = client.post(
        "/facilitator/assessments/new",
        data={"area": "X", "period": "1", "framework": "early-help-2016"},
    )
    assert response.status_code == 400 and "expired" in response.get_data(True)


def test_a_passphrase_is_generated_once_and_kept_hashed(settings: dict[str, Any]) -> None:
    first = ready_app({**settings, "FACILITATOR_PASSPHRASE": None})
    generated = first.config["GENERATED_PASSPHRASE"]
    assert len(generated) == 19
    with get_database(first).read() as db:
        stored = db.get(AppSetting, "facilitator_passphrase_hash")
        assert stored is not None and generated not in stored.value
    client = first.test_client()
    assert log_in(client, generated).status_code == 302
    close_app(first)

    second = ready_app({**settings, "FACILITATOR_PASSPHRASE": None})
    assert "GENERATED_PASSPHRASE" not in second.config  # printed once only
    assert log_in(second.test_client(), generated).status_code == 302
    assert log_in(second.test_client(), PASSPHRASE).status_code == 401
    result = CommandRunner(second).invoke(["reset-passphrase"])
    new = result.output.strip().rsplit(" ", 1)[-1]
    assert log_in(second.test_client(), new).status_code == 302
    assert log_in(second.test_client(), generated).status_code == 401
    close_app(second)


def test_screens_need_a_facilitator_login(
    app: Flask, client: FlaskClient, live_session: VotingSession
) -> None:
    for role in ("console", "presenter"):
        anonymous = socketio.test_client(
            app, flask_test_client=client, auth={"role": role, "session_id": live_session.id}
        )
        assert not anonymous.is_connected()
    nobody = socketio.test_client(app, auth={"role": "root"})
    assert not nobody.is_connected()
    no_auth = socketio.test_client(app)
    assert not no_auth.is_connected()


def test_a_phone_cannot_send_facilitator_events(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    p = phone(app, live_session.join_code)
    for action in ACTIONS:  # every action the console has, so a new one is covered too
        ack = p.emit(
            "control",
            {"action": action, "strand": "culture", "show": True, "reveal": True},
            callback=True,
        )
        assert ack == {"ok": False, "error": "This screen is not allowed to do that."}
    with get_database(app).read() as db:
        session = db.get(VotingSession, live_session.id)
        assert session is not None and session.status == "draft" and not session.show_results
        changed = select(func.count()).select_from(StrandState)
        changed = changed.where(
            (StrandState.status != "pending")
            | (StrandState.round != 1)
            | StrandState.revealed
            | StrandState.evidence_shown
        )
        assert db.scalar(changed) == 0
    # And a console cannot vote: votes come from phones only.
    console = screen(app, facilitator, "console", live_session.id)
    control(console, action="open", strand="culture")
    ack = console.emit("vote", {"strand": "culture", "level": 1}, callback=True)
    assert ack["ok"] is False
    presenter = screen(app, facilitator, "presenter", live_session.id)
    assert presenter.emit("control", {"action": "end"}, callback=True)["ok"] is False
    assert last(received(presenter), "state")["session"]["status"] == "running"


def test_logging_out_closes_that_logins_screens(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession
) -> None:
    from tests.helpers import csrf_from

    console = screen(app, facilitator, "console", live_session.id)
    presenter = screen(app, facilitator, "presenter", live_session.id)
    other_login = app.test_client()
    log_in(other_login)
    other = screen(app, other_login, "console", live_session.id)
    page = facilitator.get("/facilitator/").get_data(True)
    facilitator.post("/logout", data={"csrf_token": csrf_from(page)})
    assert not console.is_connected() and not presenter.is_connected()
    assert other.is_connected()
    assert control(other, action="start")["ok"]


def test_the_login_cookie_is_httponly_samesite_and_secure_behind_https(
    settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from voting.config import Config

    for public_url, secure in (
        ("http://192.168.1.20:5000", False),
        ("https://vote.example.gov.uk", True),
    ):
        config = {**settings, "PUBLIC_URL": public_url}
        # As the Config class decides it from VOTING_PUBLIC_URL.
        config["SESSION_COOKIE_SECURE"] = public_url.startswith("https://")
        app = ready_app(config)
        try:
            client = app.test_client()
            response = log_in(client)
            cookie = next(
                v
                for k, v in response.headers.items()
                if k == "Set-Cookie" and v.startswith("session=")
            )
            attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
            assert "httponly" in attributes
            assert "samesite=lax" in cookie.lower().replace(" ", "")
            assert ("secure" in attributes) is secure
        finally:
            close_app(app)
    # And the default Config derives Secure from the public URL itself.
    monkeypatch.setenv("VOTING_PUBLIC_URL", "https://vote.example.gov.uk")
    assert Config().SESSION_COOKIE_SECURE is True
    monkeypatch.setenv("VOTING_PUBLIC_URL", "http://192.168.1.20:5000")
    assert Config().SESSION_COOKIE_SECURE is False


def test_a_test_apps_login_sweep_ends_with_it_and_logs_nothing(
    app: Flask,
    facilitator: FlaskClient,
    live_session: VotingSession,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The sweep that closes screens whose login ended runs while the app has screens; the
    fixtures forget an app's screens at teardown (close_app in tests/apps.py), so the sweep
    ends then rather than querying a database the next test drops or cannot reach."""
    import time

    from voting.live import events

    monkeypatch.setattr(events, "LOGIN_SWEEP_SECONDS", 0.05)
    console = screen(app, facilitator, "console", live_session.id)
    assert console.is_connected()
    assert app in events._sweeping
    time.sleep(0.3)  # a few sweeps, against the live database: nothing to close
    assert app in events._sweeping
    assert events.forget_app(app) == 1
    deadline = time.monotonic() + 5
    while app in events._sweeping and time.monotonic() < deadline:
        time.sleep(0.02)
    assert app not in events._sweeping
    assert "login sweep failed" not in caplog.text
