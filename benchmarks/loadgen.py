"""Load benchmark: simulated phones join one session and vote, against the real eventlet server
and against a bare python-socketio echo server (the transport ceiling), with the same clients.

The phones are python-socketio asyncio clients spread over several client processes, so that
the generator is not the bottleneck (it still shares the machine's cores with the server: see
RESULTS.md). Every phase is bounded in count and time. Only 127.0.0.1 is ever contacted.

Phases, per target:
  connect    N phones join (WebSocket transport), at most --concurrency handshakes in flight
             per client process: connect time per phone and for all N, server RSS per phone.
  burst      --burst phones vote on one strand within one second: ack latency, and how long
             after the last ack the presenter's tally is exact.
  sustained  --rate votes a second for --duration seconds on another strand: achieved rate,
             ack latency, vote-to-presenter-tally latency, server CPU seconds per 1,000 votes.

    .venv/bin/python benchmarks/loadgen.py --phones 2000 --burst 500 --rate 200 --duration 10
    .venv/bin/python benchmarks/loadgen.py --quick              # what `make bench` runs
    VOTING_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/loadgen.py --workers 4 --phones 5000 --no-echo
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import socketio  # noqa: E402

STRAND_BURST = "leadership"
STRAND_SUSTAINED = "culture"  # the scale-out run's sustained strand
# The loadgen workshop's strands after the burst's, one per slice of the sustained phase.
STRANDS_SUSTAINED = [
    "culture",
    "strategy",
    "workforce-development",
    "family-experience",
    "delivery",
]
WORKSHOP_STRANDS = [STRAND_BURST, *STRANDS_SUSTAINED]
CALL_TIMEOUT = 30.0
PHASE_LIMIT = [300.0]  # no phase waits longer than this for its client processes (--phase-limit)


# ---------------------------------------------------------------- measuring


def percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the server processes, from /proc/<pid>/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
    return total / ticks


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def open_file_limit(pid: int) -> int | None:
    """The process's soft limit on open files, as it is now (voting serve raises its own)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return None


def open_files(pids: list[int]) -> int:
    """Descriptors the server processes hold (each phone's connections among them)."""
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- client processes


def client_process(urls: list[str], commands: Any, results: Any) -> None:
    asyncio.run(_client(urls, commands, results))


async def _join(
    phones: list[socketio.AsyncClient],
    url: str,
    code: str,
    gate: asyncio.Semaphore,
    transports: list[str] | None,
) -> tuple[float, bool]:
    phone = socketio.AsyncClient(reconnection=False)
    phones.append(phone)
    async with gate:
        start = time.monotonic()
        try:
            await phone.connect(
                url, transports=transports, wait_timeout=20, auth={"role": "phone", "code": code}
            )
            return time.monotonic() - start, True
        except Exception:
            return time.monotonic() - start, False


async def _cast(
    phone: socketio.AsyncClient, strand: str, level: int, at: float
) -> tuple[float, float | None, bool]:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    sent = time.monotonic()
    try:
        ack = await phone.call("vote", {"strand": strand, "level": level}, timeout=CALL_TIMEOUT)
        return sent, time.monotonic(), bool(ack and ack.get("ok"))
    except Exception:
        return sent, None, False


async def _client(urls: list[str], commands: Any, results: Any) -> None:
    loop = asyncio.get_running_loop()
    phones: list[socketio.AsyncClient] = []
    while True:
        command = await loop.run_in_executor(None, commands.get)
        if command[0] == "connect":
            _, code, first_index, count, concurrency, transports = command
            gate = asyncio.Semaphore(concurrency)
            timings = await asyncio.gather(
                *(
                    _join(phones, urls[(first_index + i) % len(urls)], code, gate, transports)
                    for i in range(count)
                )
            )
            results.put(("connected", timings))
        elif command[0] == "vote":
            _, strand, schedule, t0 = command
            votes = await asyncio.gather(
                *(_cast(phones[i], strand, 1 + i % 4, t0 + offset) for i, offset in schedule)
            )
            results.put(("voted", votes))
        else:
            await asyncio.gather(
                *(p.disconnect() for p in phones if p.connected), return_exceptions=True
            )
            results.put(("stopped", None))
            return


@dataclass
class Clients:
    processes: list[Any]
    commands: list[Any]
    results: Any
    share: list[int] = field(default_factory=list)  # phones per process

    @classmethod
    def start(cls, count: int, urls: list[str]) -> Clients:
        context = mp.get_context("spawn")
        results = context.Queue()
        commands = [context.Queue() for _ in range(count)]
        processes = [
            context.Process(target=client_process, args=(urls, q, results), daemon=True)
            for q in commands
        ]
        for p in processes:
            p.start()
        return cls(processes, commands, results)

    async def gather(self, kind: str) -> list[Any]:
        loop = asyncio.get_running_loop()
        collected: list[Any] = []
        deadline = time.monotonic() + PHASE_LIMIT[0]
        for _ in self.processes:
            remaining = max(1.0, deadline - time.monotonic())
            got_kind, payload = await loop.run_in_executor(
                None, lambda r=remaining: self.results.get(timeout=r)
            )
            assert got_kind == kind, got_kind
            if payload:
                collected.extend(payload)
        return collected

    async def connect(
        self, code: str, phones: int, concurrency: int, transports: list[str] | None
    ) -> list[Any]:
        n = len(self.processes)
        self.share = [phones // n + (1 if i < phones % n else 0) for i in range(n)]
        first = 0
        for q, count in zip(self.commands, self.share, strict=True):
            q.put(("connect", code, first, count, concurrency, transports))
            first += count
        return await self.gather("connected")

    async def vote(self, strand: str, voters: int, window: float) -> list[Any]:
        """`voters` phones (round robin over the processes) vote, evenly spread over
        `window` seconds from one second from now."""
        t0 = time.monotonic() + 1.0
        schedules = _schedules(self.share, voters, window)
        for q, schedule in zip(self.commands, schedules, strict=True):
            q.put(("vote", strand, schedule, t0))
        return await self.gather("voted")

    async def stop(self) -> None:
        for q in self.commands:
            q.put(("stop",))
        with contextlib.suppress(Exception):
            await self.gather("stopped")
        for p in self.processes:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


class NodeClients:
    """The browser-like phones (`--client node`): Node processes running benchmarks/phones.mjs,
    socket.io-client 4.8 as the pages ship it, each phone loading the join page first and
    connecting by long-polling then WebSocket with Chromium's compression offer. Same interface
    as `Clients`."""

    def __init__(self, processes: list[asyncio.subprocess.Process], options: dict[str, Any]):
        self.processes = processes
        self.options = options
        self.share: list[int] = []
        self.url_of: list[str] = []
        # Replies by kind, per process: a `where` may be asked while a `vote` is still running.
        self.replies: list[dict[str, asyncio.Queue[Any]]] = [{} for _ in processes]
        self.readers = [asyncio.ensure_future(self._read(i)) for i in range(len(processes))]

    def _queue(self, index: int, kind: str) -> asyncio.Queue[Any]:
        return self.replies[index].setdefault(kind, asyncio.Queue())

    async def _read(self, index: int) -> None:
        stdout = self.processes[index].stdout
        assert stdout is not None
        while line := await stdout.readline():
            message = json.loads(line)
            await self._queue(index, message["kind"]).put(message["payload"])

    @classmethod
    async def launch(cls, count: int, urls: list[str], options: dict[str, Any]) -> NodeClients:
        script = ROOT / "benchmarks" / "phones.mjs"
        if not (ROOT / "benchmarks" / "node_modules" / "socket.io-client").is_dir():
            raise SystemExit("run `npm ci` in benchmarks/ first (make bench does)")
        processes = [
            await asyncio.create_subprocess_exec(
                "node",
                str(script),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=2**26,
            )
            for _ in range(count)
        ]
        made = cls(processes, options)
        made.url_of = [urls[i % len(urls)] for i in range(count)]
        return made

    def _send(self, process: asyncio.subprocess.Process, command: dict[str, Any]) -> None:
        assert process.stdin is not None
        process.stdin.write((json.dumps(command) + "\n").encode())

    async def gather(self, kind: str) -> list[Any]:
        async def one(index: int) -> Any:
            return await asyncio.wait_for(self._queue(index, kind).get(), PHASE_LIMIT[0])

        collected: list[Any] = []
        for payload in await asyncio.gather(*(one(i) for i in range(len(self.processes)))):
            if payload:
                collected.extend(payload)
        return collected

    async def connect(
        self, code: str, phones: int, concurrency: int, transports: list[str] | None
    ) -> list[Any]:
        n = len(self.processes)
        self.share = [phones // n + (1 if i < phones % n else 0) for i in range(n)]
        for i, (process, count) in enumerate(zip(self.processes, self.share, strict=True)):
            self._send(
                process,
                {
                    "cmd": "connect",
                    "url": self.url_of[i],
                    "code": code,
                    "first": 0,
                    "count": count,
                    "concurrency": concurrency,
                    **self.options,
                },
            )
        return await self.gather("connected")

    async def vote(
        self, strand: str, voters: int, window: float, resend: bool = False
    ) -> list[Any]:
        """Each vote: [sent, acknowledged or None, ok] (and, with `resend`, the sends it took:
        phones then send an unanswered vote again, as phone.js does)."""
        t0 = time.monotonic() + 1.0
        schedules = _schedules(self.share, voters, window)
        for process, schedule in zip(self.processes, schedules, strict=True):
            self._send(
                process,
                {"cmd": "vote", "strand": strand, "schedule": schedule, "t0": t0, "resend": resend},
            )
        return [v[:3] if not resend else v for v in await self.gather("voted")]

    async def where(self) -> list[str | None]:
        """Each phone's Engine.IO session id, or None when it is not connected."""
        for process in self.processes:
            self._send(process, {"cmd": "where"})
        return await self.gather("where")

    async def reach(self, sent: float, limit: float = 60.0) -> dict[str, Any]:
        """How long a broadcast `state` sent at `sent` took to reach every phone."""
        deadline = time.monotonic() + limit
        while True:
            for process in self.processes:
                self._send(process, {"cmd": "states"})
            times = await self.gather("states")
            arrived = [t - sent for t in times if t is not None and t > sent]
            if len(arrived) == len(times) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        return {
            "phones_reached": len(arrived),
            "phones": len(times),
            "last_phone_s": round(max(arrived), 3) if arrived else None,
            "p50_s": round(percentile(arrived, 50), 3) if arrived else None,
        }

    async def extensions(self) -> list[Any]:
        for process in self.processes:
            self._send(process, {"cmd": "extensions"})
        return await self.gather("extensions")

    async def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(Exception):
                self._send(process, {"cmd": "stop"})
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
        for reader in self.readers:
            reader.cancel()


def _schedules(share: list[int], voters: int, window: float) -> list[list[tuple[int, float]]]:
    """`voters` phones, round robin over the client processes, evenly spread over `window`
    seconds: per process, (its phone's index, offset from the start)."""
    schedules: list[list[tuple[int, float]]] = [[] for _ in share]
    taken = [0] * len(share)
    for j in range(voters):
        p = j % len(share)
        while taken[p] >= share[p]:
            p = (p + 1) % len(share)
        schedules[p].append((taken[p], window * j / voters))
        taken[p] += 1
    return schedules


# ---------------------------------------------------------------- targets


def _wait_port(port: int, process: subprocess.Popen[bytes], limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on {port} exited ({process.returncode})")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


@dataclass
class Target:
    name: str
    urls: list[str]
    pids: list[int]
    code: str
    session_id: int | None = None
    cookie: str | None = None


@contextlib.contextmanager
def echo_target(workdir: Path) -> Iterator[Target]:
    from tests.servers import free_port, stop

    port = free_port()
    with (workdir / "echo.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "echo_server.py"), str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_port(port, process)
        yield Target("echo", [f"http://127.0.0.1:{port}"], [process.pid], "ECHO")
    finally:
        stop(process)


@contextlib.contextmanager
def app_target(
    workdir: Path, workers: int, database: str, nofile: int | None = None
) -> Iterator[Target]:
    from tests.servers import create_workshop, running_server
    from tests.services import fresh_channel, fresh_schema

    with contextlib.ExitStack() as stack:
        # Every simulated phone comes from 127.0.0.1: per-address caps (a hostile room's
        # defence) would turn most of them away.
        env: dict[str, str] = {
            "VOTING_PHONES_PER_ADDRESS": "0",
            "VOTING_CONNECTIONS_PER_ADDRESS": "0",
        }
        if database == "postgres":
            base = os.environ.get("VOTING_TEST_DATABASE_URL")
            if not base:
                raise SystemExit("--database postgres needs VOTING_TEST_DATABASE_URL")
            url = stack.enter_context(fresh_schema(base))
        else:
            url = f"sqlite:///{workdir / 'voting.sqlite3'}"
        if workers > 1:
            env["VOTING_MESSAGE_QUEUE"] = (
                os.environ.get("VOTING_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
            )
            env["VOTING_MESSAGE_QUEUE_CHANNEL"] = fresh_channel()
        # `--server-nofile`: the server starts with this soft limit on open files, as in a
        # shell where `ulimit -n` is 1024; `voting serve` raises it towards the hard limit.
        hard_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        lower = (
            (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard_limit)))
            if nofile
            else None
        )
        servers = [
            stack.enter_context(running_server(url, workdir, preexec_fn=lower, **env))
            for _ in range(workers)
        ]
        http = servers[0].facilitator()
        session_id, code = create_workshop(servers[0], http, strands=WORKSHOP_STRANDS)
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        name = f"app ({workers} worker{'s' if workers > 1 else ''}, {database})"
        yield Target(
            name,
            [s.url for s in servers],
            [s.process.pid for s in servers],
            code,
            session_id,
            cookie,
        )


# ---------------------------------------------------------------- one run


@dataclass
class Screens:
    """The presenter (on the first worker) and, for the app, the console that opens strands."""

    target: Target
    tallies: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    presenter: Any = None
    console: Any = None
    url: str | None = None  # where the screens connect, if not the target's first URL

    closing: bool = False

    async def connect(self) -> None:
        self.presenter = await self._screen("presenter")
        # The echo has a console too: its `control` broadcasts a small `state` to every phone,
        # the baseline for how long a console action takes to reach the room.
        self.console = await self._screen("console")

    async def _screen(self, role: str) -> Any:
        """A presenter or console that comes back, as the pages do, when its server drops it
        or restarts. python-socketio's own reconnection would lose the login cookie (Engine.IO
        moves it out of the headers it was given), so it reconnects with fresh headers."""
        client = socketio.AsyncClient(reconnection=False)
        if role == "presenter":
            client.on(
                "tally", lambda data: self.tallies.append((time.monotonic(), data.get("voted", {})))
            )

        async def again() -> None:
            while not self.closing and not client.connected:
                try:
                    await self._open(client, role)
                except Exception:
                    await asyncio.sleep(0.2)

        client.on("disconnect", lambda *_: None if self.closing else asyncio.ensure_future(again()))
        await self._open(client, role)
        return client

    async def _open(self, client: Any, role: str) -> None:
        await client.connect(
            self.url or self.target.urls[0],
            headers={"Cookie": self.target.cookie} if self.target.cookie else {},
            transports=["websocket"],
            wait_timeout=10,
            auth={"role": role, "session_id": self.target.session_id or 1},
        )

    async def open(self, strand: str) -> float:
        """Open a strand from the console; returns the monotonic time the action was sent."""
        for _ in range(300):
            if self.console.connected:
                break
            await asyncio.sleep(0.1)
        sent = time.monotonic()
        ack = await self.console.call("control", {"action": "open", "strand": strand}, timeout=10)
        assert ack["ok"], ack
        return sent

    def voted(self, strand: str) -> int:
        return self.tallies[-1][1].get(strand, 0) if self.tallies else 0

    async def until_voted(self, strand: str, total: int, limit: float = 10.0) -> float | None:
        """Monotonic time of the first tally showing `total` votes, waiting at most `limit`."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for t, voted in self.tallies:
                if voted.get(strand, 0) == total:
                    return t
            await asyncio.sleep(0.02)
        return None

    async def close(self) -> None:
        self.closing = True
        for client in (self.presenter, self.console):
            if client is not None and client.connected:
                await client.disconnect()


def vote_to_tally(
    votes: list[tuple[float, float]], tallies: list[tuple[float, int]]
) -> list[float]:
    """For the k-th acknowledged vote, the time from its sending to the first presenter tally
    counting at least k votes (acknowledgement order stands in for commit order)."""
    latencies = []
    t = 0
    for k, (sent, _ack) in enumerate(sorted(votes, key=lambda v: v[1]), start=1):
        while t < len(tallies) and tallies[t][1] < k:
            t += 1
        if t == len(tallies):
            break
        latencies.append(max(0.0, tallies[t][0] - sent))
    return latencies


def ms(values: list[float]) -> dict[str, float]:
    return {f"p{p}": round(percentile(values, p) * 1000, 1) for p in (50, 95, 99)}


async def run_target(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    clients: Clients | NodeClients
    if args.client == "node":
        options = {
            "page": not args.no_page,
            "deflate": not args.no_deflate,
            "idle": args.idle_seconds,
        }
        clients = await NodeClients.launch(args.procs, target.urls, options)
    else:
        clients = Clients.start(args.procs, target.urls)
    screens = Screens(target)
    report: dict[str, Any] = {
        "target": target.name,
        "server_processes": len(target.pids),
        # Other work on the machine skews every figure: say how busy it was.
        "load_average_at_start": os.getloadavg()[0],
    }
    try:
        await screens.connect()
        await asyncio.sleep(0.5)
        rss0, cpu0 = rss_bytes(target.pids), cpu_seconds(target.pids)
        start = time.monotonic()
        # Browsers start on long-polling and upgrade (`--transport upgrade`); by default the
        # simulated phones connect straight over WebSocket.
        transports = ["websocket"] if args.transport == "websocket" else None
        timings = await clients.connect(target.code, args.phones, args.concurrency, transports)
        connect_wall = time.monotonic() - start
        # Let joins' tallies settle before measuring memory, and browser-like phones close
        # their idle page-load connections when they do so soon (--idle-seconds).
        settle = 1.0
        if args.client == "node" and args.idle_seconds <= 30:
            settle += args.idle_seconds + 1
        await asyncio.sleep(settle)
        rss1, cpu1 = rss_bytes(target.pids), cpu_seconds(target.pids)
        ok = [t for t, good in timings if good]
        report["connect"] = {
            "phones": args.phones,
            "connected": len(ok),
            "all_connected_s": round(connect_wall, 2),
            "per_phone_ms": ms(ok),
            "server_cpu_ms_per_connect": round((cpu1 - cpu0) / max(1, len(ok)) * 1000, 2),
            "rss_before_mb": round(rss0 / 2**20, 1),
            "rss_after_mb": round(rss1 / 2**20, 1),
            "rss_per_phone_kb": round((rss1 - rss0) / max(1, len(ok)) / 1024, 1),
            "server_open_files": open_files(target.pids),
            "server_open_file_limit": open_file_limit(target.pids[0]),
        }

        if isinstance(clients, NodeClients):
            # What the server answered to Chromium's compression offer, and how many upgraded.
            seen = await clients.extensions()
            report["connect"]["upgraded_to_websocket"] = sum(1 for p in seen if p["upgraded"])
            negotiated: dict[str, int] = {}
            for p in seen:
                key = p["extensions"] or "(none)"
                negotiated[key] = negotiated.get(key, 0) + 1
            report["connect"]["websocket_extensions"] = negotiated

        # A console action (opening a strand) reaching every phone as `state`.
        action_sent = await screens.open(STRAND_BURST)
        if isinstance(clients, NodeClients):
            report["console_action"] = await clients.reach(action_sent)

        # Burst: many phones within one second.
        burst = min(args.burst, len(ok))
        votes = await clients.vote(STRAND_BURST, burst, 1.0)
        acked = [(s, a) for s, a, good in votes if good and a is not None]
        last_ack = max((a for _s, a in acked), default=math.nan)
        exact_at = await screens.until_voted(STRAND_BURST, burst)
        report["burst"] = {
            "votes": burst,
            "acknowledged": len(acked),
            "sent_within_s": round(
                max(s for s, _a, _g in votes) - min(s for s, _a, _g in votes), 3
            ),
            "ack_ms": ms([a - s for s, a in acked]),
            "last_ack_after_first_send_s": round(last_ack - min(s for s, _a in acked), 3)
            if acked
            else None,
            "tally_exact_after_last_ack_ms": round((exact_at - last_ack) * 1000, 1)
            if exact_at is not None
            else None,
            "final_presenter_voted": screens.voted(STRAND_BURST),
        }

        # Sustained: a steady rate for --duration seconds. Each phone votes once per strand,
        # so a phase longer than the phones can fill runs as consecutive slices on further
        # strands, each opened from the console as a facilitator would.
        total = int(args.rate * args.duration)
        slices = _slices(total, len(ok))
        profiler = start_profiler(args.profile, target, args.duration + 2) if args.profile else None
        # A busy neighbour taking one core for the whole phase (--hog).
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.hog else None
        cpu2 = cpu_seconds(target.pids)
        acked, latencies, voting_seconds, exact_after, slice_exact = [], [], 0.0, [], []
        for strand, count in zip(STRANDS_SUSTAINED, slices, strict=False):
            await screens.open(strand)
            await asyncio.sleep(0.2)
            mark = len(screens.tallies)
            votes = await clients.vote(strand, count, count / args.rate)
            these = [(s, a) for s, a, good in votes if good and a is not None]
            exact_at = await screens.until_voted(strand, count)
            tallies = [(t, v.get(strand, 0)) for t, v in screens.tallies[mark:]]
            acked += these
            latencies += vote_to_tally(these, tallies)
            if these:
                last_ack = max(a for _s, a in these)
                voting_seconds += last_ack - min(s for s, _a in these)
                if exact_at is not None:
                    exact_after.append((exact_at - last_ack) * 1000)
            slice_exact.append(screens.voted(strand) == count)
        cpu3 = cpu_seconds(target.pids)
        if hog is not None:
            hog.kill()
            hog.wait()
        if profiler is not None:
            profiler.wait(timeout=60)
        used = dict(zip(STRANDS_SUSTAINED, slices, strict=False))
        report["sustained"] = {
            "cpu_hog": bool(args.hog),
            "votes": sum(slices),
            "strands": used,
            "target_rate": args.rate,
            "acknowledged": len(acked),
            "voting_seconds": round(voting_seconds, 2),
            "achieved_votes_per_s": round(len(acked) / voting_seconds, 1)
            if voting_seconds
            else None,
            "ack_ms": ms([a - s for s, a in acked]),
            "vote_to_tally_ms": ms(latencies),
            "tally_exact_after_last_ack_ms": round(max(exact_after), 1)
            if len(exact_after) == len(slices)
            else None,
            "server_cpu_s_per_1000_votes": round((cpu3 - cpu2) / max(1, len(acked)) * 1000, 3),
            "presenter_exact": all(slice_exact),
        }
        report["exact"] = (
            report["burst"]["final_presenter_voted"] == burst
            and report["sustained"]["presenter_exact"]
        )
    finally:
        await screens.close()
        await clients.stop()
    report["load_average_at_end"] = os.getloadavg()[0]
    if target.session_id is not None:
        stored = database_check(target)
        report["database"] = stored
        report["exact"] = report["exact"] and stored["stored_votes"] == {
            STRAND_BURST: report["burst"]["votes"],
            **report["sustained"]["strands"],
        }
    return report


def _slices(total: int, phones: int) -> list[int]:
    """`total` votes as slices of at most one vote per phone, one slice per strand."""
    if phones <= 0:
        return []
    counts = [phones] * (total // phones) + ([total % phones] if total % phones else [])
    if len(counts) > len(STRANDS_SUSTAINED):
        raise SystemExit(
            f"{total} votes need {len(counts)} strands of {phones} phones; the workshop has "
            f"{len(STRANDS_SUSTAINED)} for the sustained phase: use more phones or less time"
        )
    return counts


def start_profiler(folder: Path, target: Target, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy (pip install py-spy) samples the first server process during the sustained phase;
    `summarise_profile` turns its collapsed stacks into the table in RESULTS.md."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{target.name.split()[0]}-sustained.txt"
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(target.pids[0]), "--duration", str(int(seconds) + 1),
         "--rate", "250", "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def summarise_profile(path: Path, top: int = 30) -> list[tuple[str, float]]:
    """Share of samples whose stack passes through each function (inclusive), idle excluded."""
    totals: dict[str, int] = {}
    busy = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or "hub.py" in stack.split(";")[-1] or "wait (eventlet" in stack:
            continue  # the hub waiting for I/O: idle, not work
        count = int(count_text)
        busy += count
        for frame in set(stack.split(";")):
            totals[frame] = totals.get(frame, 0) + count
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [(frame, round(100 * n / max(1, busy), 1)) for frame, n in ranked]


def database_check(target: Target) -> dict[str, Any]:
    """The stored votes, counted over HTTP from the session's CSV download (one row per vote)."""
    from tests.helpers import PASSPHRASE, csrf_from

    http = requests.Session()
    # A server still working through a storm's queue may take a while to answer a page.
    page = http.get(f"{target.urls[0]}/login", timeout=120)
    http.post(
        f"{target.urls[0]}/login",
        data={"passphrase": PASSPHRASE, "csrf_token": csrf_from(page.text)},
        timeout=120,
    )
    rows = http.get(
        f"{target.urls[0]}/facilitator/sessions/{target.session_id}/votes.csv", timeout=60
    ).text.splitlines()[1:]
    per_strand: dict[str, int] = {}
    for row in rows:
        for strand in WORKSHOP_STRANDS:
            if f",{strand}," in row:
                per_strand[strand] = per_strand.get(strand, 0) + 1
    return {"stored_votes": per_strand}


# ---------------------------------------------------------------- main


def ratios(app: dict[str, Any], echo: dict[str, Any]) -> dict[str, Any]:
    def ratio(a: Any, b: Any) -> float | None:
        try:
            return round(float(a) / float(b), 2) if float(b) else None
        except (TypeError, ValueError):
            return None

    return {
        "all_connected_s": ratio(
            app["connect"]["all_connected_s"], echo["connect"]["all_connected_s"]
        ),
        "connect_p95": ratio(
            app["connect"]["per_phone_ms"]["p95"], echo["connect"]["per_phone_ms"]["p95"]
        ),
        "rss_per_phone": ratio(
            app["connect"]["rss_per_phone_kb"], echo["connect"]["rss_per_phone_kb"]
        ),
        "cpu_per_connect": ratio(
            app["connect"]["server_cpu_ms_per_connect"],
            echo["connect"]["server_cpu_ms_per_connect"],
        ),
        "burst_ack_p50": ratio(app["burst"]["ack_ms"]["p50"], echo["burst"]["ack_ms"]["p50"]),
        "burst_ack_p95": ratio(app["burst"]["ack_ms"]["p95"], echo["burst"]["ack_ms"]["p95"]),
        "console_action_to_last_phone": ratio(
            app.get("console_action", {}).get("last_phone_s"),
            echo.get("console_action", {}).get("last_phone_s"),
        ),
        "sustained_ack_p95": ratio(
            app["sustained"]["ack_ms"]["p95"], echo["sustained"]["ack_ms"]["p95"]
        ),
        "vote_to_tally_p95": ratio(
            app["sustained"]["vote_to_tally_ms"]["p95"],
            echo["sustained"]["vote_to_tally_ms"]["p95"],
        ),
        "cpu_per_1000_votes": ratio(
            app["sustained"]["server_cpu_s_per_1000_votes"],
            echo["sustained"]["server_cpu_s_per_1000_votes"],
        ),
    }


# The figures RESULTS.md gives per run, for the app and the echo side by side.
FIGURES = {
    "phones connected": ("connect", "connected"),
    "all connected (s)": ("connect", "all_connected_s"),
    "join p95 (ms)": ("connect", "per_phone_ms", "p95"),
    "server CPU per join (ms)": ("connect", "server_cpu_ms_per_connect"),
    "RSS per phone (KB)": ("connect", "rss_per_phone_kb"),
    "console action to the last phone (s)": ("console_action", "last_phone_s"),
    "burst acknowledged": ("burst", "acknowledged"),
    "burst ack p50 (ms)": ("burst", "ack_ms", "p50"),
    "burst ack p95 (ms)": ("burst", "ack_ms", "p95"),
    "burst last ack after first send (s)": ("burst", "last_ack_after_first_send_s"),
    "burst tally exact after last ack (ms)": ("burst", "tally_exact_after_last_ack_ms"),
    "sustained acknowledged": ("sustained", "acknowledged"),
    "sustained votes/s": ("sustained", "achieved_votes_per_s"),
    "sustained seconds of voting": ("sustained", "voting_seconds"),
    "sustained ack p95 (ms)": ("sustained", "ack_ms", "p95"),
    "vote-to-tally p95 (ms)": ("sustained", "vote_to_tally_ms", "p95"),
    "server CPU per 1,000 votes (s)": ("sustained", "server_cpu_s_per_1000_votes"),
}


def dig(report: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = report
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def spread(values: list[Any]) -> dict[str, float] | None:
    numbers = [float(v) for v in values if isinstance(v, int | float) and not math.isnan(v)]
    if not numbers:
        return None
    return {"min": min(numbers), "median": statistics.median(numbers), "max": max(numbers)}


def summarise_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Over the runs: min / median / max of every figure for the app and the echo, the
    median of the per-run app/echo ratios, and each run's load average at start and end."""
    summary: dict[str, Any] = {
        "load_average": [
            {
                side: [run[side]["load_average_at_start"], run[side]["load_average_at_end"]]
                for side in ("app", "echo")
                if side in run
            }
            for run in runs
        ],
        "exact": [run["app"].get("exact") for run in runs],
        "figures": {},
    }
    for label, path in FIGURES.items():
        row: dict[str, Any] = {"app": spread([dig(run["app"], path) for run in runs])}
        if all("echo" in run for run in runs):
            row["echo"] = spread([dig(run["echo"], path) for run in runs])
            ratios_ = [
                a / e
                for run in runs
                if isinstance(a := dig(run["app"], path), int | float)
                and isinstance(e := dig(run["echo"], path), int | float)
                and e
            ]
            row["app_to_echo_median"] = round(statistics.median(ratios_), 2) if ratios_ else None
        summary["figures"][label] = row
    return summary


def _cell(spread_: dict[str, float] | None) -> str:
    if not spread_:
        return "-"
    return " / ".join(f"{spread_[k]:g}" for k in ("min", "median", "max"))


def markdown_table(summary: dict[str, Any]) -> str:
    """The summary as RESULTS.md shows it: min / median / max per figure, app and echo."""
    lines = [
        "| figure (min / median / max) | app | echo | app / echo (median of runs) |",
        "|---|---|---|---|",
    ]
    for label, row in summary["figures"].items():
        ratio = row.get("app_to_echo_median")
        lines.append(
            f"| {label} | {_cell(row['app'])} | {_cell(row.get('echo'))} | "
            f"{'-' if ratio is None else f'{ratio:g}'} |"
        )
    loads = "; ".join(
        ", ".join(f"{side} {a:.1f} → {b:.1f}" for side, (a, b) in run.items())
        for run in summary["load_average"]
    )
    lines.append("")
    lines.append(f"Load average at start → end of each run: {loads}.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phones", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument(
        "--concurrency", type=int, default=25, help="handshakes in flight per client process"
    )
    parser.add_argument(
        "--transport",
        choices=("websocket", "upgrade"),
        default="websocket",
        help="phones connect by WebSocket, or by long-polling then upgrade as browsers do",
    )
    parser.add_argument(
        "--client",
        choices=("python", "node"),
        default="python",
        help="python-socketio phones, or browser-like ones (socket.io-client in Node: page "
        "load, long-polling then upgrade, Chromium's compression offer); see phones.mjs",
    )
    parser.add_argument(
        "--no-page", action="store_true", help="node phones skip loading the join page"
    )
    parser.add_argument(
        "--no-deflate",
        action="store_true",
        help="node phones offer no WebSocket compression (Chromium always offers it)",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=300.0,
        help="node phones close an idle page-load connection after this long (Chromium: 300)",
    )
    parser.add_argument(
        "--hog", action="store_true", help="a CPU hog takes one core during the sustained phase"
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--server-nofile",
        type=int,
        help="start the app server with this soft open-file limit (1024: a shell's usual)",
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default=None)
    parser.add_argument("--no-echo", action="store_true", help="skip the echo-server baseline")
    parser.add_argument("--phase-limit", type=float, default=300.0, help="seconds per phase")
    parser.add_argument("--quick", action="store_true", help="a short run (make bench)")
    parser.add_argument(
        "--runs", type=int, default=1, help="repeat app and echo; min/median/max over the runs"
    )
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--profile", type=Path, help="py-spy the sustained phase into this folder")
    parser.add_argument("--summarise", type=Path, help="only summarise a py-spy raw profile")
    args = parser.parse_args()
    if args.summarise:
        for frame, share in summarise_profile(args.summarise):
            print(f"{share:5.1f}%  {frame}")
        return 0
    if args.quick:
        args.phones, args.burst, args.rate, args.duration, args.procs = 300, 200, 100.0, 2.0, 2
        if args.client == "node":
            args.phones, args.burst = 150, 100
    PHASE_LIMIT[0] = args.phase_limit
    database = args.database or ("postgres" if args.workers > 1 else "sqlite")
    if args.workers > 1 and database != "postgres":
        raise SystemExit("more than one worker needs --database postgres")
    fds = raise_fd_limit()
    needed = args.phones * 2 + 200  # client and server ends on one machine
    print(
        f"{os.cpu_count()} cores; file descriptor limit {fds} per process; "
        f"{args.phones} phones over {args.procs} client processes",
        flush=True,
    )
    if fds < needed // max(1, min(args.procs, args.workers)):
        print(f"warning: {needed} descriptors needed in all; the limit may bite", flush=True)

    reports: dict[str, Any] = {
        "cores": os.cpu_count(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "runs": [],
    }
    for number in range(1, args.runs + 1):
        run = one_run(args, database, number)
        reports["runs"].append(run)
        if args.json:  # kept after every run: a later run that stalls loses nothing
            args.json.write_text(json.dumps(reports, indent=2))
    if args.runs > 1:
        reports["summary"] = summarise_runs(reports["runs"])
        print("-- over the runs", flush=True)
        print(json.dumps(reports["summary"], indent=2), flush=True)
        print(markdown_table(reports["summary"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2))
    return 0 if all(run["app"].get("exact") for run in reports["runs"]) else 1


def one_run(args: argparse.Namespace, database: str, number: int) -> dict[str, Any]:
    """The app, then the echo server, under the same phones."""
    run: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="voting-bench-") as tmp:
        workdir = Path(tmp)
        with app_target(workdir, args.workers, database, args.server_nofile) as target:
            print(f"-- run {number}: {target.name}", flush=True)
            run["app"] = asyncio.run(run_target(target, args))
            print(json.dumps(run["app"], indent=2), flush=True)
        if not args.no_echo:
            with echo_target(workdir) as target:
                print(f"-- run {number}: echo (bare python-socketio under eventlet)", flush=True)
                run["echo"] = asyncio.run(run_target(target, args))
                print(json.dumps(run["echo"], indent=2), flush=True)
            run["app_to_echo"] = ratios(run["app"], run["echo"])
            print("-- app / echo", flush=True)
            print(json.dumps(run["app_to_echo"], indent=2), flush=True)
    return run


if __name__ == "__main__":
    raise SystemExit(main())
