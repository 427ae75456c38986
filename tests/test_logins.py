"""Server-side logins: a copied login cookie stops working, on every worker, once the login is
ended by logging out, by `voting reset-passphrase` or by `voting logout-all`; both for HTTP
(pages and the assessment download) and for a console already connected over Socket.IO.

Two real eventlet workers share PostgreSQL and Redis; the login is made on worker 1, the copy
is used on worker 2, and the commands run as separate processes, as an operator would."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import socketio

from tests.helpers import csrf_from
from tests.servers import RunningServer, create_workshop, running_server, screen_client
from tests.services import fresh_channel, fresh_schema, postgres_url, redis_url

pytestmark = [pytest.mark.server, pytest.mark.services]


def _voting(server: RunningServer, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "voting", *args],
        env=server.environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def _log_in(server: RunningServer, passphrase: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{server.url}/login", timeout=10)
    response = http.post(
        f"{server.url}/login",
        timeout=10,
        allow_redirects=False,
        data={"passphrase": passphrase, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 302, response.text
    return http


def _copy(http: requests.Session) -> requests.Session:
    """Another browser holding the same cookie (as a stolen or left-behind copy would)."""
    copy = requests.Session()
    copy.cookies.update(http.cookies)
    return copy


def _opens(server: RunningServer, http: requests.Session, path: str) -> bool:
    response = http.get(f"{server.url}{path}", timeout=10, allow_redirects=False)
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


async def _until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not check():
        await asyncio.sleep(0.1)
    return check()


@contextmanager
def _two_workers(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    with fresh_schema(postgres_url()) as url:
        env = {
            "VOTING_MESSAGE_QUEUE": redis_url(),
            "VOTING_MESSAGE_QUEUE_CHANNEL": fresh_channel(),
            # No passphrase in the environment, so that `reset-passphrase` may change it.
            "VOTING_FACILITATOR_PASSPHRASE": "",
        }
        with (
            running_server(url, tmp_path, **env) as one,
            running_server(url, tmp_path, **env) as two,
        ):
            yield one, two


async def _check_ending(
    one: RunningServer,
    two: RunningServer,
    passphrase: str,
    end: Callable[[requests.Session], str | None],
) -> dict[str, bool | str | None]:
    """Log in on worker 1, use a copy of the cookie on worker 2 (a page, the download and a
    console), end the login with `end`, and see what the copy can still do."""
    http = _log_in(one, passphrase)
    session_id, _code = create_workshop(one, http)
    found = re.search(r"/facilitator/assessments/(\d+)", http.get(f"{one.url}/facilitator/").text)
    assert found
    download = f"/facilitator/assessments/{found.group(1)}/assessment.json"
    copy = _copy(http)
    before = _opens(two, copy, "/facilitator/") and _opens(two, copy, download)
    console = await screen_client(two, copy, "console", session_id)
    opened = await console.call("control", {"action": "open", "strand": "culture"}, timeout=10)

    new_passphrase = end(http)

    closed = await _until(lambda: not console.connected, seconds=20)
    refused_again = False
    try:
        await screen_client(two, copy, "console", session_id)
    except socketio.exceptions.ConnectionError:
        refused_again = True
    return {
        "before": before and bool(opened["ok"]),
        "page": _opens(two, copy, "/facilitator/"),
        "download": _opens(two, copy, download),
        "page_on_one": _opens(one, copy, "/facilitator/"),
        "console_closed": closed,
        "console_refused": refused_again,
        "passphrase": new_passphrase,
    }


def test_a_copied_login_ends_with_logout_reset_passphrase_and_logout_all(
    tmp_path: Path,
) -> None:
    with _two_workers(tmp_path) as (one, two):
        passphrase = _voting(one, "reset-passphrase").strip().rsplit(" ", 1)[-1]

        def log_out(http: requests.Session) -> None:
            page = http.get(f"{one.url}/facilitator/", timeout=10)
            out = http.post(
                f"{one.url}/logout",
                data={"csrf_token": csrf_from(page.text)},
                allow_redirects=False,
                timeout=10,
            )
            assert out.status_code == 302

        def reset(_http: requests.Session) -> str:
            printed = _voting(one, "reset-passphrase")
            assert "has ended" in printed
            return printed.strip().rsplit(" ", 1)[-1]

        def logout_all(_http: requests.Session) -> None:
            assert "1 login(s) ended" in _voting(one, "logout-all")

        outcomes = {}
        outcomes["logout"] = asyncio.run(_check_ending(one, two, passphrase, log_out))
        outcomes["reset"] = asyncio.run(_check_ending(one, two, passphrase, reset))
        passphrase = str(outcomes["reset"]["passphrase"])
        outcomes["logout-all"] = asyncio.run(_check_ending(one, two, passphrase, logout_all))
        logs = one.log() + two.log()

    for how, outcome in outcomes.items():
        assert outcome["before"], (how, outcome)
        assert not outcome["page"], f"a copied cookie still opens pages after {how}"
        assert not outcome["download"], f"a copied cookie still downloads after {how}"
        assert not outcome["page_on_one"], f"a copied cookie still opens pages after {how}"
        assert outcome["console_closed"], f"a connected console outlived {how}"
        assert outcome["console_refused"], f"a copied cookie reopens a console after {how}"
    assert "Traceback" not in logs, logs
