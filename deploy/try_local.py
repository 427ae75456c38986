"""Run the deploy recipe for real on this machine, on 127.0.0.1 only: build the wheel from this
checkout, install it with the postgres and redis extras into a fresh virtualenv (as
deploy/README.md does in /opt/voting), start that virtualenv's `voting serve --workers 2` from
an empty folder on a private PostgreSQL schema and Redis channel, put deploy/nginx.conf in front,
and have phones vote through nginx (long-polling upgraded to WebSocket) while the presenter is
connected to worker 2 directly. Prints what it checked; exits non-zero if anything is off.

    VOTING_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python deploy/try_local.py

Needs nginx on PATH (Debian: apt-get install nginx-light), PostgreSQL and Redis
(VOTING_TEST_REDIS_URL, default redis://127.0.0.1:6379/0), the test extra (this script drives
the server with its clients) and the package index (the install fetches the dependencies).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import socketio  # noqa: E402

from tests.helpers import PASSPHRASE  # noqa: E402
from tests.installs import Install, build_wheel, install  # noqa: E402
from tests.proxies import nginx_binary, nginx_errors, running_nginx  # noqa: E402
from tests.servers import (  # noqa: E402
    RunningServer,
    _wait_until_up,
    consecutive_free_ports,
    create_workshop,
    free_port,
)
from tests.services import fresh_channel, fresh_schema  # noqa: E402

PHONES = 20


async def vote_through(proxy: str, direct: RunningServer, http: requests.Session) -> dict[str, Any]:
    session_id, code = create_workshop(RunningServer(proxy, direct.process, direct.log_path), http)
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    console, presenter = socketio.AsyncClient(), socketio.AsyncClient()
    tallies: list[dict[str, Any]] = []
    presenter.on("tally", tallies.append)
    # The console goes through nginx; the projector sits on worker 2 directly.
    await console.connect(
        proxy,
        headers={"Cookie": cookie},
        wait_timeout=10,
        auth={"role": "console", "session_id": session_id},
    )
    await presenter.connect(
        direct.url,
        headers={"Cookie": cookie},
        transports=["websocket"],
        wait_timeout=10,
        auth={"role": "presenter", "session_id": session_id},
    )
    opened = await console.call("control", {"action": "open", "strand": "leadership"}, timeout=10)
    assert opened["ok"], opened
    phones = [socketio.AsyncClient() for _ in range(PHONES)]
    # Default transports: long-polling first, then the upgrade nginx must pass through.
    await asyncio.gather(
        *(p.connect(proxy, wait_timeout=10, auth={"role": "phone", "code": code}) for p in phones)
    )
    await asyncio.sleep(1)  # let the upgrades finish
    transports = [p.transport() for p in phones]
    acks = await asyncio.gather(
        *(p.call("vote", {"strand": "leadership", "level": 3}, timeout=10) for p in phones)
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
        tallies and tallies[-1]["voted"]["leadership"] == PHONES
    ):
        await asyncio.sleep(0.05)
    for client in [*phones, console, presenter]:
        await client.disconnect()
    return {"acks": acks, "transports": transports, "tally": tallies[-1] if tallies else None}


def install_wheel(prefix: Path) -> Install:
    """The wheel of this checkout, installed with the extras the recipe uses into a fresh
    virtualenv under `prefix`; says where the installed package lives."""
    started = time.monotonic()
    wheel = build_wheel(prefix / "build")
    installed = install(wheel, prefix / "venv", extras=("postgres", "redis"))
    where = subprocess.run(
        [str(installed.python), "-c", "import voting; print(voting.__file__)"],
        capture_output=True,
        text=True,
        cwd=prefix,
        check=True,
    ).stdout.strip()
    print(
        f"built {wheel.name}, installed into {installed.venv} ({time.monotonic() - started:.0f} s)"
    )
    print(f"the workers run {where}")
    if not Path(where).is_relative_to(installed.venv):
        raise RuntimeError(f"voting is imported from {where}, not from the installed wheel")
    return installed


def main() -> int:
    nginx = nginx_binary()
    if nginx is None:
        print("nginx is not installed (apt-get install nginx-light)")
        return 2
    database = os.environ.get("VOTING_TEST_DATABASE_URL")
    if not database:
        print(__doc__)
        return 2
    queue = os.environ.get("VOTING_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    with tempfile.TemporaryDirectory(prefix="voting-nginx-") as tmp, fresh_schema(database) as url:
        prefix = Path(tmp)
        installed = install_wheel(prefix)
        first = consecutive_free_ports(2)
        workers = [first, first + 1]
        proxy_port = free_port()
        # Only what /etc/voting/env and the unit set (deploy/README.md): no VOTING_* setting of
        # this shell, and no PYTHONPATH that could reach the checkout.
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VOTING_")},
            "VOTING_DATABASE_URL": url,
            "VOTING_MESSAGE_QUEUE": queue,
            "VOTING_MESSAGE_QUEUE_CHANNEL": fresh_channel(),
            "VOTING_FACILITATOR_PASSPHRASE": PASSPHRASE,
            "VOTING_SECRET_KEY": "try-local secret",
            "VOTING_INSTANCE_DIR": str(prefix / "instance"),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("PYTHONPATH", None)
        workdir = prefix / "run"
        workdir.mkdir()
        log = prefix / "workers.log"
        with log.open("wb") as out:
            serve = subprocess.Popen(
                [str(installed.voting), "serve", "--host", "127.0.0.1",
                 "--port", str(first), "--workers", "2"],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir,
            )  # fmt: skip
        try:
            for port in workers:
                _wait_until_up(f"http://127.0.0.1:{port}", serve, log)
            with running_nginx(workers, proxy_port, prefix / "nginx") as proxy:
                proxied = f"http://127.0.0.1:{proxy_port}"
                _wait_until_up(proxied, proxy, prefix / "nginx" / "nginx.out")
                direct = RunningServer(f"http://127.0.0.1:{workers[1]}", serve, log)
                http = RunningServer(proxied, serve, log).facilitator()
                result = asyncio.run(vote_through(proxied, direct, http))
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)
        acked = sum(1 for a in result["acks"] if a.get("ok"))
        upgraded = sum(1 for t in result["transports"] if t == "websocket")
        voted = result["tally"]["voted"]["leadership"] if result["tally"] else None
        print(
            f"nginx {subprocess.run([nginx, '-v'], capture_output=True, text=True).stderr.strip()}"
        )
        print(f"workers on ports {workers}, nginx on {proxy_port}")
        print(f"phones through nginx: {PHONES}; votes acknowledged: {acked}")
        print(f"phones upgraded from long-polling to WebSocket through nginx: {upgraded}")
        print(f"presenter on worker 2 (direct) saw voted = {voted}")
        problems = nginx_errors(prefix / "nginx")
        print(f"nginx error log lines: {len(problems)}")
        for line in problems[:5]:
            print("   ", line)
        ok = (
            acked == PHONES
            and upgraded == PHONES
            and voted == PHONES
            and "Traceback" not in log.read_text()
        )
        print("OK" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
