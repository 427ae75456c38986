"""The real eventlet server in a subprocess, driven over real sockets: pages and the QR code
render, 100 phones voting at once give exactly 100 in the tally and the database, and a restart
keeps the session, its votes and its state."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import socketio
from sqlalchemy import func, select

from tests.helpers import csrf_from
from tests.servers import (
    RunningServer,
    create_workshop,
    free_port,
    phone_clients,
    running_server,
    screen_client,
)
from voting.database import Database
from voting.live.qrcodes import qr_svg
from voting.models import Vote, VoteHistory

pytestmark = pytest.mark.server
PHONES = 100


async def _vote_together(
    server: RunningServer, http: requests.Session, session_id: int, code: str
) -> dict[str, Any]:
    presenter_tallies: list[dict[str, Any]] = []
    console = await screen_client(server, http, "console", session_id)
    presenter = await screen_client(
        server, http, "presenter", session_id, handlers={"tally": presenter_tallies.append}
    )
    opened = await console.call("control", {"action": "open", "strand": "leadership"}, timeout=10)
    assert opened["ok"], opened

    tokens: list[str] = []
    phones = await phone_clients(
        server, code, PHONES, handlers={"joined": lambda data: tokens.append(data["token"])}
    )
    acks = await asyncio.gather(
        *(
            p.call("vote", {"strand": "leadership", "level": 1 + i % 4}, timeout=30)
            for i, p in enumerate(phones)
        )
    )
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if presenter_tallies and presenter_tallies[-1]["voted"]["leadership"] == PHONES:
            break
        await asyncio.sleep(0.05)
    await asyncio.gather(*(p.disconnect() for p in phones))
    await console.disconnect()
    await presenter.disconnect()
    return {"tallies": presenter_tallies, "tokens": tokens}


def _count(database_url: str, model: Any) -> int:
    database = Database(database_url)
    try:
        with database.read() as db:
            return db.scalar(select(func.count()).select_from(model)) or 0
    finally:
        database.dispose()


async def _rejoin(
    server: RunningServer, http: requests.Session, session_id: int, code: str, token: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    got: dict[str, Any] = {}
    console = await screen_client(
        server, http, "console", session_id, handlers={"state": lambda d: got.update(console=d)}
    )
    phone = socketio.AsyncClient()
    phone.on("me", lambda data: got.__setitem__("me", data))
    await phone.connect(
        server.url,
        transports=["websocket"],
        wait_timeout=10,
        auth={"role": "phone", "code": code, "token": token},
    )
    deadline = time.monotonic() + 10
    while ("console" not in got or "me" not in got) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await phone.disconnect()
    await console.disconnect()
    return got["console"], got["me"]


def test_the_real_server_counts_100_concurrent_votes_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    with running_server(
        database_url, tmp_path, port=port, VOTING_TALLY_INTERVAL="0.05", VOTING_PUBLIC_URL=public
    ) as server:
        assert "Join a session" in requests.get(f"{server.url}/", timeout=10).text
        http = server.facilitator()
        session_id, code = create_workshop(server, http)
        qr = requests.get(f"{server.url}/qr/{code}.svg", timeout=10)
        assert qr.status_code == 200 and qr.headers["Content-Type"].startswith("image/svg+xml")
        # The QR code is exactly the one for the join URL that phones must open.
        assert qr.content == qr_svg(f"{public}/s/{code}")
        assert requests.get(f"{public}/s/{code}", timeout=10).status_code == 200

        result = asyncio.run(_vote_together(server, http, session_id, code))
        final = result["tallies"][-1]
        assert final["voted"]["leadership"] == PHONES
        assert final["counts"] is None  # results were never shown on the big screen
        # Coalesced: far fewer broadcasts than votes, yet the last one is exact.
        assert len(result["tallies"]) < PHONES
        assert len(set(result["tokens"])) == PHONES
        assert "Traceback" not in server.log()

    assert _count(database_url, Vote) == PHONES
    assert _count(database_url, VoteHistory) == PHONES

    with running_server(database_url, tmp_path) as again:
        http = again.facilitator()
        console, me = asyncio.run(_rejoin(again, http, session_id, code, result["tokens"][0]))
        leadership = next(s for s in console["strands"] if s["key"] == "leadership")
        assert leadership["status"] == "open"
        assert leadership["voted"] == PHONES
        assert leadership["counts"] == [25, 25, 25, 25]
        assert console["joined"] == PHONES
        assert console["session"]["current"] == "leadership"
        assert me["votes"]["leadership"]["level"] in (1, 2, 3, 4)


@pytest.mark.parametrize("mode", ["gevent", "threading"])
def test_the_server_also_runs_under_gevent_and_threading(tmp_path: Path, mode: str) -> None:
    """The code is async-mode-agnostic: the same workshop works when eventlet is swapped out."""
    database_url = f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    with running_server(database_url, tmp_path, VOTING_ASYNC_MODE=mode) as server:
        assert f"running ({mode})" in server.log()
        http = server.facilitator()
        session_id, code = create_workshop(server, http)
        with socketio.SimpleClient() as console, socketio.SimpleClient() as p:
            console.connect(
                server.url,
                headers=server.cookie_header(http),
                auth={"role": "console", "session_id": session_id},
                transports=["websocket"],
            )
            assert console.receive(timeout=10)[0] == "state"
            opened = console.call("control", {"action": "open", "strand": "culture"}, timeout=10)
            assert opened["ok"], opened
            p.connect(server.url, auth={"role": "phone", "code": code}, transports=["websocket"])
            ack = p.call("vote", {"strand": "culture", "level": 3}, timeout=10)
            assert ack == {
                "ok": True,
                "vote": {"strand": "culture", "level": 3, "comment": None, "round": 1},
            }
            deadline = time.monotonic() + 10
            counts = None
            while time.monotonic() < deadline and counts != [0, 0, 1, 0]:
                name, *args = console.receive(timeout=10)
                if name == "tally":
                    counts = args[0]["counts"]["culture"]
            assert counts == [0, 0, 1, 0]
    assert _count(database_url, Vote) == 1


def test_large_requests_and_responses_pass_whole_through_the_servers_small_http_buffers(
    tmp_path: Path,
) -> None:
    """`voting serve` gives eventlet's HTTP handler 2 KB buffers (voting/server.py); a form body
    and a stylesheet many times that size still arrive byte for byte."""
    css = "static/vendor/govuk-frontend/govuk-frontend.min.css"
    stylesheet = Path(__file__).parent.parent / css
    localities = [f"Locality {i:02d} " + "x" * 60 for i in range(60)]
    with running_server(f"sqlite:///{tmp_path / 'voting.sqlite3'}", tmp_path) as server:
        served = requests.get(f"{server.url}/{css}", timeout=10)
        assert served.status_code == 200
        assert len(served.content) > 40 * 2048
        assert served.content == stylesheet.read_bytes()

        http = server.facilitator()
        form = http.get(f"{server.url}/facilitator/assessments/new", timeout=10)
        data = {
            "area": "Devon",
            "period": "2017",
            "framework": "early-help-2016",
            "localities": "\n".join(localities),
            "csrf_token": csrf_from(form.text),
        }
        assert len(urlencode(data)) > 2 * 2048
        made = http.post(f"{server.url}/facilitator/assessments/new", data=data, timeout=10)
        assert made.status_code == 200
        assert all(name in made.text for name in (localities[0], localities[-1]))
