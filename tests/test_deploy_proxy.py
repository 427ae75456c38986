"""deploy/nginx.conf, as shipped, in front of `voting serve --workers 2`: phones that all come
from one address (a venue's Wi-Fi) are spread over both workers, each phone's long-polls and
WebSocket upgrade reach the worker that holds its session, a browser's Origin on a non-default
port is accepted, and when one worker is killed (SIGKILL) the phones it held are back on a live
worker within 15 s, keep their identity, and the tally stays exact. Real nginx, real worker
processes, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.helpers import PASSPHRASE, require_service
from tests.proxies import nginx_binary, nginx_errors, running_nginx, site_for
from tests.servers import (
    RunningServer,
    _wait_until_up,
    consecutive_free_ports,
    create_workshop,
    free_port,
    screen_client,
    worker_pids,
)
from tests.services import fresh_channel, fresh_schema, postgres_url, redis_url

pytestmark = [pytest.mark.server, pytest.mark.services]
SERVE = [sys.executable, "-m", "voting", "serve", "--host", "127.0.0.1"]
PHONES = 24
BACK_WITHIN = 15.0


class Phone:
    """A phone as static/js/phone.js behaves: the client's default transports (long-polling,
    then the upgrade), its page's Origin, reconnection with back-off, and the participant token
    it was given sent again on every reconnect so it stays the same participant."""

    def __init__(self, proxy: str, code: str) -> None:
        self.proxy, self.code, self.token = proxy, code, None
        self.client = socketio.AsyncClient(reconnection_delay=0.5, reconnection_delay_max=3)
        self.client.on("joined", self._joined)

    def _joined(self, data: dict[str, Any]) -> None:
        self.token = data["token"]

    def _auth(self) -> dict[str, Any]:
        return {"role": "phone", "code": self.code, **({"token": self.token} if self.token else {})}

    async def connect(self) -> None:
        await self.client.connect(
            self.proxy, headers={"Origin": self.proxy}, auth=self._auth, wait_timeout=20
        )

    def worker(self) -> int | None:
        """The worker port named in the Engine.IO session id (`<port>-…`)."""
        sid = self.client.eio.sid if self.client.connected else None
        return int(sid.split("-", 1)[0]) if sid and self.client.eio.state == "connected" else None


async def _until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.1)
    return check()


async def _vote_all(phones: list[Phone], strand: str) -> list[dict[str, Any]]:
    return list(
        await asyncio.gather(
            *(
                p.client.call("vote", {"strand": strand, "level": 1 + i % 4}, timeout=15)
                for i, p in enumerate(phones)
            )
        )
    )


async def _workshop(
    parent: subprocess.Popen[bytes], proxy: RunningServer, direct: RunningServer, ports: list[int]
) -> dict[str, Any]:
    http = proxy.facilitator()
    session_id, code = create_workshop(proxy, http)
    tallies: list[dict[str, Any]] = []
    # The screens sit on the worker that is not killed: the python client drops its login
    # cookie when it reconnects (a browser keeps it), and the phones are what is tested here.
    console = await screen_client(direct, http, "console", session_id)
    presenter = await screen_client(
        direct, http, "presenter", session_id, handlers={"tally": tallies.append}
    )
    assert (await console.call("control", {"action": "open", "strand": "leadership"}))["ok"]

    phones = [Phone(proxy.url, code) for _ in range(PHONES)]
    await asyncio.gather(*(p.connect() for p in phones))
    await _until(lambda: all(p.client.transport() == "websocket" for p in phones), 10)
    found: dict[str, Any] = {
        "transports": Counter(p.client.transport() for p in phones),
        "spread": Counter(p.worker() for p in phones),
    }
    found["first_acks"] = await _vote_all(phones, "leadership")
    await _until(lambda: bool(tallies) and tallies[-1]["voted"]["leadership"] == PHONES, 10)
    found["first_tally"] = tallies[-1]["voted"] if tallies else None
    tokens = [p.token for p in phones]

    killed = ports[0]
    victims = [p for p in phones if p.worker() == killed]
    pid = worker_pids(parent)[killed]
    os.kill(pid, signal.SIGKILL)
    started = time.monotonic()
    found["victims_dropped"] = await _until(lambda: all(p.worker() != killed for p in victims), 5)
    back = await _until(
        lambda: all(p.worker() is not None and p.client.transport() == "websocket" for p in phones),
        BACK_WITHIN,
    )
    found["back"], found["back_after"] = back, time.monotonic() - started
    found["same_participants"] = [p.token for p in phones] == tokens
    found["survivor_pid"] = worker_pids(parent).get(ports[1])

    assert (await console.call("control", {"action": "open", "strand": "culture"}))["ok"]
    found["second_acks"] = await _vote_all(phones, "culture")
    await _until(lambda: bool(tallies) and tallies[-1]["voted"]["culture"] == PHONES, 10)
    found["second_tally"] = tallies[-1]["voted"] if tallies else None
    for client in [*(p.client for p in phones), console, presenter]:
        await client.disconnect()
    return found


def test_site_for_keeps_one_line_per_worker_it_is_given() -> None:
    site = (Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf").read_text()
    two = site_for(site, [7001, 7002], 8080)
    assert "listen 127.0.0.1:8080;" in two
    assert "~^7001-" in two and "upstream voting_7002 { server 127.0.0.1:7002; }" in two
    assert "5003" not in two and "5004" not in two and "7003" not in two
    directives = [line.split("#")[0] for line in site.splitlines()]
    assert not any("ip_hash" in d or "$remote_addr" in d for d in directives), (
        "stickiness must not depend on the client's address"
    )


def test_phones_behind_one_address_spread_and_survive_a_killed_worker(tmp_path: Path) -> None:
    if nginx_binary() is None:
        require_service("nginx is not installed (apt-get install nginx-light)")
    port = consecutive_free_ports(2)
    ports = [port, port + 1]
    listen = free_port()
    with fresh_schema(postgres_url()) as url:
        env = {
            **os.environ,
            "VOTING_DATABASE_URL": url,
            "VOTING_MESSAGE_QUEUE": redis_url(),
            "VOTING_MESSAGE_QUEUE_CHANNEL": fresh_channel(),
            "VOTING_FACILITATOR_PASSPHRASE": PASSPHRASE,
            "VOTING_SECRET_KEY": "proxy test secret",
            "VOTING_INSTANCE_DIR": str(tmp_path / "instance"),
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("VOTING_ASYNC_MODE", "VOTING_WORKER_ID"):
            env.pop(name, None)
        log = tmp_path / "workers.log"
        with log.open("wb") as out:
            parent = subprocess.Popen(
                [*SERVE, "--port", str(port), "--workers", "2"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            for p in ports:
                _wait_until_up(f"http://127.0.0.1:{p}", parent, log)
            before = worker_pids(parent)
            with running_nginx(ports, listen, tmp_path / "nginx") as nginx:
                proxy = RunningServer(f"http://127.0.0.1:{listen}", nginx, tmp_path / "nginx.out")
                _wait_until_up(proxy.url, nginx, tmp_path / "nginx" / "nginx.out")
                direct = RunningServer(f"http://127.0.0.1:{ports[1]}", parent, log)
                found = asyncio.run(_workshop(parent, proxy, direct, ports))
                assert requests.get(f"{proxy.url}/", timeout=5).status_code == 200
        finally:
            parent.send_signal(signal.SIGTERM)
            parent.wait(timeout=30)

    # One address, yet both workers hold phones (ip_hash would put all of them on one).
    assert set(found["spread"]) == set(ports), found["spread"]
    assert min(found["spread"].values()) >= PHONES // 4, found["spread"]
    # Every phone upgraded through nginx, its Origin (with the port) accepted.
    assert found["transports"] == {"websocket": PHONES}, found["transports"]
    assert all(a and a.get("ok") for a in found["first_acks"]), found["first_acks"]
    assert found["first_tally"]["leadership"] == PHONES
    # The killed worker's phones are back on a live worker within 15 s, as the same
    # participants; the other worker was never restarted; nothing was lost.
    assert found["victims_dropped"]
    assert found["back"], f"not all phones back after {found['back_after']:.1f} s"
    assert found["same_participants"]
    assert found["survivor_pid"] == before[ports[1]]
    assert all(a and a.get("ok") for a in found["second_acks"]), found["second_acks"]
    assert found["second_tally"] == {"leadership": PHONES, "culture": PHONES}
    assert f"the worker on port {ports[0]} exited (-9); starting it again" in log.read_text()
    assert "Traceback" not in log.read_text()
    assert nginx_errors(tmp_path / "nginx") == [] or all(
        "Connection refused" in line or "prematurely closed" in line or "reset by peer" in line
        for line in nginx_errors(tmp_path / "nginx")
    )


@pytest.mark.parametrize("bad", ["5001-", "a b", "x" * 17, "wörker"])
def test_a_worker_id_that_a_proxy_could_not_match_is_refused_at_start(bad: str) -> None:
    from voting import create_app

    with pytest.raises(ValueError, match="VOTING_WORKER_ID must be 1 to 16 letters or digits"):
        create_app({"TESTING": True, "WORKER_ID": bad, "DATABASE_URL": "sqlite://"})


def test_session_ids_start_with_the_worker_id(settings: dict[str, Any]) -> None:
    from tests.apps import close_app, ready_app
    from voting.live.events import socketio as server

    app = ready_app({**settings, "WORKER_ID": "w7"})
    try:
        sid = server.server.eio.generate_id()
        assert sid.startswith("w7-") and len(sid) > 10, sid
    finally:
        close_app(app)
