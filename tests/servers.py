"""Real server processes for tests: `voting serve` (eventlet by default) on a free port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import socketio

from tests.helpers import PASSPHRASE, csrf_from


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    # What the process was started with, so that a test can run `voting …` commands beside it.
    environment: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def facilitator(self) -> requests.Session:
        """A logged-in HTTP session; its cookie also authorises console/presenter sockets."""
        http = requests.Session()
        page = http.get(f"{self.url}/login", timeout=10)
        response = http.post(
            f"{self.url}/login",
            timeout=10,
            allow_redirects=False,
            data={"passphrase": PASSPHRASE, "csrf_token": csrf_from(page.text)},
        )
        assert response.status_code == 302, response.text
        return http

    def cookie_header(self, http: requests.Session) -> dict[str, str]:
        """A new dict each call: the Engine.IO client takes the cookie out of the one it gets."""
        return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in http.cookies)}


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text(errors='replace')}")
        try:
            if requests.get(f"{url}/", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not start in 30 s:\n{log_path.read_text(errors='replace')}")


@contextmanager
def running_server(
    database_url: str,
    workdir: Path,
    port: int | None = None,
    preexec_fn: Callable[[], None] | None = None,
    cwd: Path | None = None,
    **env: Any,
) -> Iterator[RunningServer]:
    """`preexec_fn` runs in the server's process before it starts (e.g. to lower a limit);
    `cwd` is where it starts (`python -m` looks for the package there first)."""
    port = port or free_port()
    log_path = workdir / f"server-{port}.log"
    environment = {
        **os.environ,
        "VOTING_DATABASE_URL": database_url,
        "VOTING_FACILITATOR_PASSPHRASE": PASSPHRASE,
        "VOTING_SECRET_KEY": "server test secret",
        "VOTING_INSTANCE_DIR": str(workdir),
        "PYTHONUNBUFFERED": "1",
        **{k: str(v) for k, v in env.items()},
    }
    environment.pop("VOTING_ASYNC_MODE", None) if "VOTING_ASYNC_MODE" not in env else None
    command = [sys.executable, "-m", "voting", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with serving(command, environment, port, log_path, cwd=cwd, preexec_fn=preexec_fn) as server:
        yield server


@contextmanager
def serving(
    command: list[str],
    environment: dict[str, str],
    port: int,
    log_path: Path,
    cwd: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[RunningServer]:
    """Start a server command listening on 127.0.0.1:`port`, wait until it answers, stop it
    after: this checkout's `python -m voting serve` or an installed `voting serve`
    (tests/installs.py)."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=cwd,
            preexec_fn=preexec_fn,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", process, log_path, environment)
    try:
        _wait_until_up(server.url, process, log_path)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def screen_client(
    server: RunningServer,
    http: requests.Session,
    role: str,
    session_id: int,
    handlers: dict[str, Callable[[Any], Any]] | None = None,
    **options: Any,
) -> socketio.AsyncClient:
    """A console or presenter socket on the real server, logged in with `http`'s cookie;
    `handlers` are registered before it connects, so its first snapshot is not missed."""
    client = socketio.AsyncClient(**options)
    for event, handler in (handlers or {}).items():
        client.on(event, handler)
    await client.connect(
        server.url,
        headers=server.cookie_header(http),
        transports=["websocket"],
        wait_timeout=10,
        auth={"role": role, "session_id": session_id},
    )
    return client


async def phone_clients(
    server: RunningServer,
    code: str,
    count: int,
    handlers: dict[str, Callable[[Any], Any]] | None = None,
    **options: Any,
) -> list[socketio.AsyncClient]:
    """`count` phones joined to the session with this code, all at once."""
    phones = [socketio.AsyncClient(**options) for _ in range(count)]
    for p in phones:
        for event, handler in (handlers or {}).items():
            p.on(event, handler)
    await asyncio.gather(
        *(
            p.connect(
                server.url,
                transports=["websocket"],
                wait_timeout=10,
                auth={"role": "phone", "code": code},
            )
            for p in phones
        )
    )
    return phones


def create_workshop(
    server: RunningServer,
    http: requests.Session,
    strands: tuple[str, ...] | list[str] = ("leadership", "culture"),
) -> tuple[int, str]:
    """Make an assessment and a live session through the facilitator's forms."""
    page = http.get(f"{server.url}/facilitator/assessments/new", timeout=10)
    made = http.post(
        f"{server.url}/facilitator/assessments/new",
        timeout=10,
        allow_redirects=False,
        data={
            "area": "Devon",
            "period": "2017",
            "framework": "early-help-2016",
            "localities": "Exeter",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert made.status_code == 302, made.text
    assessment_path = made.headers["Location"]
    page = http.get(f"{server.url}{assessment_path}/sessions/new", timeout=10)
    made = http.post(
        f"{server.url}{assessment_path}/sessions/new",
        timeout=10,
        allow_redirects=False,
        data={
            "name": "Conference workshop",
            "held_on": "2017-09-01",
            "forum_type": "mixed",
            "strands": list(strands),
            "pacing": "live",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert made.status_code == 302, made.text
    session_id = int(made.headers["Location"].rstrip("/").split("/")[-1])
    console_page = http.get(f"{server.url}{made.headers['Location']}", timeout=10).text
    code = re.search(r'class="code">([A-Z0-9]{6})<', console_page)
    assert code, console_page
    return session_id, code.group(1)


def open_workshop(server: RunningServer, strand: str = "culture") -> tuple[int, str]:
    """A live session made through the facilitator's forms, with `strand` opened from a real
    console; returns the session id and its join code."""
    with server.facilitator() as http:
        session_id, code = create_workshop(server, http)
        with socketio.SimpleClient() as console:
            console.connect(
                server.url,
                headers=server.cookie_header(http),
                auth={"role": "console", "session_id": session_id},
                transports=["websocket"],
                wait_timeout=10,
            )
            opened = console.call("control", {"action": "open", "strand": strand}, timeout=10)
            assert opened["ok"], opened
    return session_id, code


def consecutive_free_ports(n: int) -> int:
    """The first of n consecutive free ports on 127.0.0.1 (a server and its neighbours)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first + n > 65535:
            continue
        try:
            held = []
            for port in range(first, first + n):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no run of free ports found")


def worker_pids(parent: subprocess.Popen[bytes]) -> dict[int, int]:
    """port -> pid of each live worker of the `--workers` parent."""
    found: dict[int, int] = {}
    children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
    for pid in map(int, children):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"--port" in argv:
            found[int(argv[argv.index(b"--port") + 1])] = pid
    return found
