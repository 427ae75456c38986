"""`voting serve --workers N` when a worker dies: one worker killed with SIGKILL (as the OOM
killer would) is started again on its port, while the other keeps its phones connected and
its process running; votes through both end exact on a presenter. Real processes, PostgreSQL
and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import socketio

from tests.helpers import PASSPHRASE
from tests.servers import (
    RunningServer,
    _wait_until_up,
    consecutive_free_ports,
    create_workshop,
    screen_client,
    worker_pids,
)
from tests.services import fresh_channel, fresh_schema, postgres_url, redis_url

pytestmark = [pytest.mark.server, pytest.mark.services]
SERVE = [sys.executable, "-m", "voting", "serve", "--host", "127.0.0.1"]


async def _until(check: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.1)
    return check()


def _serving(url: str) -> bool:
    try:
        return requests.get(f"{url}/", timeout=1).status_code == 200
    except requests.RequestException:
        return False


async def _kill_one(
    parent: subprocess.Popen[bytes], one: RunningServer, two: RunningServer, ports: list[int]
) -> None:
    http = one.facilitator()
    session_id, code = create_workshop(one, http)
    tallies: list[dict[str, object]] = []
    console = await screen_client(one, http, "console", session_id)
    assert (await console.call("control", {"action": "open", "strand": "leadership"}))["ok"]
    await console.disconnect()
    presenter = await screen_client(
        two, http, "presenter", session_id, handlers={"tally": tallies.append}
    )
    dropped: list[str] = []
    survivor = socketio.AsyncClient(reconnection=False)
    survivor.on("disconnect", lambda *_: dropped.append("survivor"))
    await survivor.connect(
        two.url, transports=["websocket"], wait_timeout=10, auth={"role": "phone", "code": code}
    )

    before = worker_pids(parent)
    os.kill(before[ports[0]], signal.SIGKILL)
    restarted = await _until(
        lambda: (
            worker_pids(parent).get(ports[0]) not in (None, before[ports[0]]) and _serving(one.url)
        )
    )
    assert restarted, one.log()
    after = worker_pids(parent)
    assert after[ports[1]] == before[ports[1]], "the other worker was restarted too"
    assert parent.poll() is None
    assert survivor.connected and dropped == []

    # Both workers take votes; the presenter on the survivor counts them exactly.
    newcomer = socketio.AsyncClient(reconnection=False)
    await newcomer.connect(
        one.url, transports=["websocket"], wait_timeout=10, auth={"role": "phone", "code": code}
    )
    for phone, level in ((survivor, 2), (newcomer, 3)):
        ack = await phone.call("vote", {"strand": "leadership", "level": level}, timeout=10)
        assert ack["ok"], ack
    assert await _until(
        lambda: bool(tallies) and tallies[-1]["voted"] == {"leadership": 2, "culture": 0}
    )
    for client in (survivor, newcomer, presenter):
        await client.disconnect()


def test_a_killed_worker_is_restarted_while_the_others_keep_serving(tmp_path: Path) -> None:
    port = consecutive_free_ports(2)
    ports = [port, port + 1]
    with fresh_schema(postgres_url()) as url:
        env = {
            **os.environ,
            "VOTING_DATABASE_URL": url,
            "VOTING_MESSAGE_QUEUE": redis_url(),
            "VOTING_MESSAGE_QUEUE_CHANNEL": fresh_channel(),
            "VOTING_FACILITATOR_PASSPHRASE": PASSPHRASE,
            "VOTING_SECRET_KEY": "server test secret",
            "VOTING_INSTANCE_DIR": str(tmp_path),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("VOTING_ASYNC_MODE", None)
        log = tmp_path / "workers.log"
        with log.open("wb") as out:
            parent = subprocess.Popen(
                [*SERVE, "--port", str(port), "--workers", "2"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            one, two = (RunningServer(f"http://127.0.0.1:{p}", parent, log) for p in ports)
            _wait_until_up(one.url, parent, log)
            _wait_until_up(two.url, parent, log)
            asyncio.run(_kill_one(parent, one, two, ports))
        finally:
            parent.send_signal(signal.SIGTERM)
            exit_code = parent.wait(timeout=30)
    text = log.read_text()
    assert f"the worker on port {port} exited (-9); starting it again" in text, text
    assert exit_code == 0, text
