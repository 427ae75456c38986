"""Scale-out: two real eventlet workers sharing Redis (VOTING_MESSAGE_QUEUE) and one PostgreSQL
database. Phones split across both vote, some move to the other worker with their token and
change their vote there; the presenter on worker 1 and the console on worker 2 end on the exact
counts, and the database holds one vote per phone (none lost, none counted twice). Logging out
on one worker closes the login's screens on both."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from sqlalchemy import func, select

from tests.helpers import PASSPHRASE, csrf_from
from tests.servers import (
    RunningServer,
    _wait_until_up,
    consecutive_free_ports,
    create_workshop,
    running_server,
)
from tests.services import fresh_channel, fresh_schema, postgres_url, redis_url
from voting.database import Database
from voting.models import Participant, Vote, VoteHistory

pytestmark = pytest.mark.server
PHONES = 60
STRAND = "leadership"


async def _connect(client: socketio.AsyncClient, server: RunningServer, **kwargs: Any) -> None:
    await client.connect(server.url, transports=["websocket"], wait_timeout=10, **kwargs)


async def _until(check: Callable[[], bool], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def _workshop(one: RunningServer, two: RunningServer) -> dict[str, Any]:
    http = one.facilitator()
    session_id, code = create_workshop(one, http)
    seen: dict[str, list[Any]] = {"presenter": [], "console": [], "presenter_state": []}
    presenter = socketio.AsyncClient()
    presenter.on("tally", seen["presenter"].append)
    presenter.on("state", seen["presenter_state"].append)
    console = socketio.AsyncClient()
    console.on("tally", seen["console"].append)
    # The login cookie signed by worker 1 opens a console on worker 2: same secret key.
    await _connect(
        presenter,
        one,
        headers=one.cookie_header(http),
        auth={"role": "presenter", "session_id": session_id},
    )
    await _connect(
        console,
        two,
        headers=two.cookie_header(http),
        auth={"role": "console", "session_id": session_id},
    )
    for action in ({"action": "open", "strand": STRAND}, {"action": "results", "show": True}):
        ack = await console.call("control", action, timeout=10)
        assert ack["ok"], ack
    # A facilitator action on worker 2 reaches the projector on worker 1 through Redis.
    assert await _until(
        lambda: any(s["session"]["show_results"] for s in seen["presenter_state"])
    ), seen["presenter_state"][-1:]

    workers = [one, two]
    phones = [socketio.AsyncClient() for _ in range(PHONES)]
    tokens: dict[int, str] = {}
    for i, p in enumerate(phones):
        p.on("joined", lambda data, i=i: tokens.__setitem__(i, data["token"]))
    await asyncio.gather(
        *(
            _connect(p, workers[i % 2], auth={"role": "phone", "code": code})
            for i, p in enumerate(phones)
        )
    )
    assert await _until(lambda: len(tokens) == PHONES)
    final = {i: 1 + i % 4 for i in range(PHONES)}
    acks = await asyncio.gather(
        *(
            p.call(
                "vote", {"strand": STRAND, "level": final[i], "client_vote_id": f"a{i}"}, timeout=30
            )
            for i, p in enumerate(phones)
        )
    )
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]

    # Every third phone moves to the other worker with its token and changes its vote there;
    # phone 1 also keeps a second tab on its first worker, which hears the change via Redis.
    movers = [i for i in range(PHONES) if i % 3 == 0 or i == 1]
    other_tab = socketio.AsyncClient()
    heard: list[Any] = []
    other_tab.on("my_vote", heard.append)
    await _connect(other_tab, workers[1], auth={"role": "phone", "code": code, "token": tokens[1]})
    await asyncio.gather(*(phones[i].disconnect() for i in movers))
    moved = [socketio.AsyncClient() for _ in movers]
    await asyncio.gather(
        *(
            _connect(
                m, workers[(i + 1) % 2], auth={"role": "phone", "code": code, "token": tokens[i]}
            )
            for m, i in zip(moved, movers, strict=True)
        )
    )
    for i in movers:
        final[i] = 4 if final[i] != 4 else 1
    acks = await asyncio.gather(
        *(
            m.call(
                "vote", {"strand": STRAND, "level": final[i], "client_vote_id": f"b{i}"}, timeout=30
            )
            for m, i in zip(moved, movers, strict=True)
        )
    )
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
    # A resend of an already stored vote (a lost acknowledgement) changes nothing.
    again = await moved[0].call(
        "vote",
        {"strand": STRAND, "level": final[movers[0]], "client_vote_id": f"b{movers[0]}"},
        timeout=30,
    )
    assert again["ok"], again

    expected = [sum(1 for level in final.values() if level == n) for n in (1, 2, 3, 4)]
    exact = await _until(
        lambda: (
            bool(seen["presenter"])
            and seen["presenter"][-1]["counts"][STRAND] == expected
            and bool(seen["console"])
            and seen["console"][-1]["counts"][STRAND] == expected
        )
    )
    # Last, one vote on worker 2 alone: the projector on worker 1 can only learn of it through
    # the tally signal that worker 2 sends over Redis.
    last = next(i for i in range(PHONES) if i % 2 == 1 and i not in movers)
    final[last] = 2 if final[last] != 2 else 3
    ack = await phones[last].call("vote", {"strand": STRAND, "level": final[last]}, timeout=30)
    assert ack["ok"], ack
    expected = [sum(1 for level in final.values() if level == n) for n in (1, 2, 3, 4)]
    exact = exact and await _until(
        lambda: (
            seen["presenter"][-1]["counts"][STRAND] == expected
            and seen["console"][-1]["counts"][STRAND] == expected
        )
    )
    assert await _until(lambda: bool(heard))

    # Logging out on worker 1 closes the login's presenter there and its console on worker 2.
    page = http.get(f"{one.url}/facilitator/", timeout=10)
    out = http.post(
        f"{one.url}/logout",
        data={"csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert out.status_code == 302, out.text
    logged_out = await _until(lambda: not presenter.connected and not console.connected)
    for client in [*phones, *moved, other_tab, presenter, console]:
        if client.connected:
            await client.disconnect()
    return {
        "exact": exact,
        "expected": expected,
        "presenter": seen["presenter"][-1:],
        "console": seen["console"][-1:],
        "heard": heard,
        "moved": len(movers),
        "logged_out": logged_out,
    }


def _count(url: str, model: Any) -> int:
    database = Database(url)
    try:
        with database.read() as db:
            return db.scalar(select(func.count()).select_from(model)) or 0
    finally:
        database.dispose()


@pytest.mark.services
def test_two_eventlet_workers_share_redis_and_postgres(tmp_path: Path) -> None:
    base = postgres_url()
    queue = redis_url()
    with fresh_schema(base) as url:
        env = {
            "VOTING_MESSAGE_QUEUE": queue,
            "VOTING_MESSAGE_QUEUE_CHANNEL": fresh_channel(),
            "VOTING_TALLY_INTERVAL": "0.05",
        }
        with (
            running_server(url, tmp_path, **env) as one,
            running_server(url, tmp_path, **env) as two,
        ):
            assert "running (eventlet)" in one.log() and "running (eventlet)" in two.log()
            result = asyncio.run(_workshop(one, two))
            logs = one.log() + two.log()
        assert result["exact"], result
        assert result["presenter"][-1]["voted"][STRAND] == PHONES
        assert result["heard"][-1]["strand"] == STRAND
        assert result["logged_out"], "a screen outlived its login on one of the workers"
        assert "Traceback" not in logs, logs
        assert _count(url, Participant) == PHONES
        assert _count(url, Vote) == PHONES
        assert _count(url, VoteHistory) == PHONES + result["moved"] + 1
        database = Database(url)
        try:
            with database.read() as db:
                rows = db.execute(
                    select(Vote.level, func.count())
                    .where(Vote.strand_key == STRAND)
                    .group_by(Vote.level)
                ).all()
        finally:
            database.dispose()
        assert [dict(rows).get(n, 0) for n in (1, 2, 3, 4)] == result["expected"]


def _serve(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "voting", "serve", "--host", "127.0.0.1", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def test_more_than_one_worker_needs_a_message_queue(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "VOTING_MESSAGE_QUEUE"}
    env["VOTING_DATABASE_URL"] = f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    log = tmp_path / "serve.log"
    process = _serve(["--workers", "2", "--port", "5000"], env, log)
    assert process.wait(timeout=30) == 2
    assert "--workers needs VOTING_MESSAGE_QUEUE" in log.read_text()


@pytest.mark.services
def test_serve_workers_starts_n_servers_that_share_one_workshop(tmp_path: Path) -> None:
    base = postgres_url()
    queue = redis_url()
    port = consecutive_free_ports(2)
    with fresh_schema(base) as url:
        env = {
            **os.environ,
            "VOTING_DATABASE_URL": url,
            "VOTING_MESSAGE_QUEUE": queue,
            "VOTING_MESSAGE_QUEUE_CHANNEL": fresh_channel(),
            "VOTING_FACILITATOR_PASSPHRASE": PASSPHRASE,
            "VOTING_SECRET_KEY": "server test secret",
            "VOTING_INSTANCE_DIR": str(tmp_path),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("VOTING_ASYNC_MODE", None)
        log = tmp_path / "workers.log"
        parent = _serve(["--workers", "2", "--port", str(port)], env, log)
        try:
            one, two = (
                RunningServer(f"http://127.0.0.1:{p}", parent, log) for p in (port, port + 1)
            )
            _wait_until_up(one.url, parent, log)
            _wait_until_up(two.url, parent, log)
            _session_id, code = create_workshop(one, one.facilitator())
            # The session made through worker 1 is in the database worker 2 reads.
            assert requests.get(f"{two.url}/s/{code}", timeout=10).status_code == 200
            assert f"Started 2 workers on ports {port} to {port + 1}" in log.read_text()
        finally:
            parent.send_signal(signal.SIGTERM)
            exit_code = parent.wait(timeout=30)
        assert exit_code == 0, log.read_text()
        for p in (port, port + 1):
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still served"
        assert "Traceback" not in log.read_text()


async def _deletion_closes_screens(one: RunningServer, two: RunningServer) -> dict[str, bool]:
    http = one.facilitator()
    session_id, code = create_workshop(one, http)
    phone = socketio.AsyncClient()
    presenter = socketio.AsyncClient()
    await _connect(phone, two, auth={"role": "phone", "code": code})
    await _connect(
        presenter,
        two,
        auth={"role": "presenter", "session_id": session_id},
        headers=two.cookie_header(http),
    )
    connected = phone.connected and presenter.connected
    page = http.get(f"{one.url}/facilitator/sessions/{session_id}/delete", timeout=10)
    deleted = http.post(
        f"{one.url}/facilitator/sessions/{session_id}/delete",
        data={"csrf_token": csrf_from(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert deleted.status_code == 302, deleted.text
    closed = await _until(lambda: not phone.connected and not presenter.connected)
    for client in (phone, presenter):
        if client.connected:
            await client.disconnect()
    return {"connected": connected, "closed": closed}


@pytest.mark.services
def test_deleting_a_session_on_one_worker_closes_its_sockets_on_the_other(
    tmp_path: Path,
) -> None:
    """The deletion is announced to every worker (as a logout is), not only to the worker that
    served the facilitator's request: the phone and projector on worker 2 are disconnected."""
    with fresh_schema(postgres_url()) as url:
        env = {"VOTING_MESSAGE_QUEUE": redis_url(), "VOTING_MESSAGE_QUEUE_CHANNEL": fresh_channel()}
        with (
            running_server(url, tmp_path, **env) as one,
            running_server(url, tmp_path, **env) as two,
        ):
            result = asyncio.run(_deletion_closes_screens(one, two))
    assert result == {"connected": True, "closed": True}
