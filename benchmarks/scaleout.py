"""Scale-out benchmark: deploy/'s recipe run here on 127.0.0.1, as deploy/try_local.py runs it
(`voting serve --workers N` on PostgreSQL and Redis, deploy/nginx.conf in front, started by
tests/proxies.py with its worker ports and listen address changed), and browser-like phones
(benchmarks/phones.mjs: page load, long-polling then WebSocket, Chromium's compression offer,
reconnection and vote resending as the phone page does) all coming through nginx from one
address, as a venue's Wi-Fi would show them. The presenter and the console also come through
nginx.

Phases:
  connect    N phones join: time for all, how they spread over the workers (the worker is named
             in each phone's Engine.IO session id), RSS per phone per worker.
  burst      --burst phones vote within --burst-window seconds: all acknowledged? the last ack
             after the first send; the presenter's tally exact how long after the last send.
  sustained  --rate votes a second for --duration seconds on another strand; --kill-at seconds
             in, one worker is killed with SIGKILL (as the OOM killer would). Its phones
             reconnect through nginx; the figures: how long until every phone is connected
             again, how many are stuck after 60 s, every vote acknowledged (phones resend), the
             vote-to-tally latency, the presenter's and the database's counts exact.

    VOTING_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/scaleout.py --phones 5000 --workers 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from loadgen import (  # noqa: E402
    PHASE_LIMIT,
    STRAND_BURST,
    STRAND_SUSTAINED,
    NodeClients,
    Screens,
    Target,
    database_check,
    ms,
    raise_fd_limit,
    rss_bytes,
    vote_to_tally,
)

from tests.helpers import PASSPHRASE  # noqa: E402
from tests.proxies import nginx_errors, running_nginx  # noqa: E402
from tests.servers import (  # noqa: E402
    RunningServer,
    _wait_until_up,
    consecutive_free_ports,
    create_workshop,
    free_port,
    worker_pids,
)
from tests.services import fresh_channel, fresh_schema  # noqa: E402

BACK_LIMIT = 60.0


@dataclass
class Fleet:
    """The servers: `voting serve --workers N`, whose parent starts a killed worker again, or
    with one worker a single `voting serve` that this script starts again at once when it is
    killed, as systemd's `Restart=` would (deploy/voting@.service)."""

    command: list[str]
    env: dict[str, str]
    workdir: Path
    log: Path
    port: int
    workers: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir
            )

    def pids(self) -> dict[int, int]:
        """port -> pid of each live worker."""
        assert self.process is not None
        if self.workers > 1:
            return worker_pids(self.process)
        return {self.port: self.process.pid} if self.process.poll() is None else {}

    def kill_one(self) -> int:
        """SIGKILL the first worker; returns its port."""
        assert self.process is not None
        port, pid = next(iter(self.pids().items()))
        os.kill(pid, signal.SIGKILL)
        if self.workers == 1:
            self.process.wait()
            self.start()
        return port

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextmanager
def deployed(
    workdir: Path, workers: int, database: str, direct: bool
) -> Iterator[tuple[Target, Fleet]]:
    """`voting serve --workers N` behind deploy/nginx.conf; yields the target (its URL is
    nginx's, or with `direct` the first worker's own) and the fleet of servers."""
    port = consecutive_free_ports(workers)
    ports = [port + i for i in range(workers)]
    listen = free_port()
    sqlite = database == "sqlite"
    schema: AbstractContextManager[str] = (
        nullcontext(f"sqlite:///{workdir / 'voting.sqlite3'}") if sqlite else fresh_schema(database)
    )
    with schema as url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VOTING_")},
            "VOTING_DATABASE_URL": url,
            # One server on SQLite, as `make serve` runs: no message queue.
            "VOTING_MESSAGE_QUEUE": ""
            if sqlite
            else os.environ.get("VOTING_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0",
            "VOTING_MESSAGE_QUEUE_CHANNEL": fresh_channel(),
            "VOTING_FACILITATOR_PASSPHRASE": PASSPHRASE,
            "VOTING_SECRET_KEY": "scale-out benchmark secret",
            "VOTING_INSTANCE_DIR": str(workdir / "instance"),
            "VOTING_PROXY_COUNT": "1",
            # Every simulated phone comes from 127.0.0.1, as a venue's NAT would show a room;
            # the per-address cap (500 phones by default) would turn most of them away.
            "VOTING_PHONES_PER_ADDRESS": "0",
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, "-m", "voting", "serve", "--host", "127.0.0.1",
                   "--port", str(port)]  # fmt: skip
        if workers > 1:
            command += ["--workers", str(workers)]
        fleet = Fleet(command, env, workdir, workdir / "workers.log", port, workers)
        fleet.start()
        assert fleet.process is not None
        try:
            for p in ports:
                _wait_until_up(f"http://127.0.0.1:{p}", fleet.process, fleet.log)
            prefix = workdir / "nginx"
            with running_nginx(ports, listen, prefix, worker_connections=16384) as nginx:
                proxy = RunningServer(f"http://127.0.0.1:{listen}", nginx, prefix / "nginx.out")
                _wait_until_up(proxy.url, nginx, prefix / "nginx.out")
                if direct:
                    proxy = RunningServer(f"http://127.0.0.1:{port}", fleet.process, fleet.log)
                http = proxy.facilitator()
                session_id, code = create_workshop(proxy, http)
                cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
                front = "straight to the worker" if direct else "behind nginx"
                kind = "sqlite" if sqlite else "postgres"
                name = f"app ({workers} worker{'s' if workers > 1 else ''} {front}, {kind})"
                pids = list(fleet.pids().values())
                yield Target(name, [proxy.url], pids, code, session_id, cookie), fleet
        finally:
            fleet.stop()


def spread(sids: list[str | None]) -> dict[str, int]:
    """Phones per worker port, from the `<port>-` prefix of their Engine.IO session ids."""
    counted = Counter((sid.split("-", 1)[0] if sid else "not connected") for sid in sids)
    return dict(sorted(counted.items()))


async def listening_again(port: int, killed_at: float) -> float | None:
    """Seconds from the kill until the killed worker's port accepts connections again."""
    await asyncio.sleep(0.2)  # the kernel closes the dead process's listener first
    while time.monotonic() - killed_at < BACK_LIMIT:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return time.monotonic() - killed_at
        except OSError:
            await asyncio.sleep(0.05)
    return None


async def watch_return(
    clients: NodeClients, killed_port: int, killed_at: float, phones: int
) -> dict[str, Any]:
    """After the kill: when every phone is connected again (and, for comparison, when the
    killed worker listens again); how many are still not connected after BACK_LIMIT seconds."""
    relisten = asyncio.ensure_future(listening_again(killed_port, killed_at))
    first_all_back = None
    last: list[str | None] = []
    while time.monotonic() - killed_at < BACK_LIMIT:
        last = await clients.where()
        connected = [s for s in last if s]
        if len(connected) == phones and first_all_back is None and time.monotonic() - killed_at > 1:
            first_all_back = time.monotonic() - killed_at
            break
        await asyncio.sleep(0.5)
    listened = await relisten
    return {
        "killed_worker_port": killed_port,
        "worker_listening_again_after_s": round(listened, 2) if listened else None,
        "all_phones_connected_again_after_s": round(first_all_back, 2)
        if first_all_back is not None
        else None,
        "not_connected_at_end": sum(1 for s in last if not s),
        "spread_after": spread(last),
    }


async def run(target: Target, fleet: Fleet, args: argparse.Namespace) -> dict[str, Any]:
    options = {"page": True, "deflate": True, "idle": args.idle_seconds, "reconnect": True}
    clients = await NodeClients.launch(args.procs, target.urls, options)
    # Behind nginx the presenter and console come through it too, as the projector's browser
    # would; they reconnect by themselves if they were on the killed worker (Screens).
    screens = Screens(target)
    report: dict[str, Any] = {
        "target": target.name,
        "phones": args.phones,
        "load_average_at_start": os.getloadavg()[0],
    }
    try:
        await screens.connect()
        pids = fleet.pids()
        rss0 = {port: rss_bytes([pid]) for port, pid in pids.items()}
        start = time.monotonic()
        timings = await clients.connect(target.code, args.phones, args.concurrency, None)
        joined_in = time.monotonic() - start
        await asyncio.sleep(args.idle_seconds + 2)  # idle page-load connections close
        where = await clients.where()
        per_worker = spread(where)
        rss1 = {port: rss_bytes([pid]) for port, pid in fleet.pids().items()}
        ok = [t for t, good in timings if good]
        report["connect"] = {
            "connected": len(ok),
            "all_connected_s": round(joined_in, 2),
            "per_phone_ms": ms(ok),
            "phones_per_worker": per_worker,
            "rss_mb_per_worker": {p: round(v / 2**20, 1) for p, v in rss1.items()},
            "rss_kb_per_phone_per_worker": {
                p: round((rss1[p] - rss0[p]) / max(1, per_worker.get(str(p), 0)) / 1024, 1)
                for p in rss1
            },
        }

        await screens.open(STRAND_BURST)
        burst = min(args.burst, len(ok))
        votes = await clients.vote(STRAND_BURST, burst, args.burst_window, resend=True)
        acked = [(s, a) for s, a, good, _n in votes if good and a is not None]
        first_sent = min(s for s, *_rest in votes)
        last_sent = max(s for s, *_rest in votes)
        last_ack = max((a for _s, a in acked), default=math.nan)
        exact_at = await screens.until_voted(STRAND_BURST, burst, limit=30)
        report["burst"] = {
            "votes": burst,
            "sent_within_s": round(last_sent - first_sent, 3),
            "acknowledged": len(acked),
            "ack_ms": ms([a - s for s, a in acked]),
            "last_ack_after_first_send_s": round(last_ack - first_sent, 3),
            "tally_exact_after_last_send_ms": round((exact_at - last_sent) * 1000, 1)
            if exact_at is not None
            else None,
            "final_presenter_voted": screens.voted(STRAND_BURST),
        }

        await screens.open(STRAND_SUSTAINED)
        await asyncio.sleep(0.5)
        sustained = min(int(args.rate * args.duration), len(ok))
        mark = len(screens.tallies)
        voting = asyncio.ensure_future(
            clients.vote(STRAND_SUSTAINED, sustained, sustained / args.rate, resend=True)
        )
        killed: dict[str, Any] = {}
        if args.kill_at is not None:
            await asyncio.sleep(1.0 + args.kill_at)  # votes start 1 s after the command
            killed_at = time.monotonic()
            victim_port = fleet.kill_one()
            killed = await watch_return(clients, victim_port, killed_at, len(ok))
            killed["killed_at_monotonic"] = killed_at
        votes = await voting
        acked = [(s, a) for s, a, good, _n in votes if good and a is not None]
        last_sent = max(s for s, *_rest in votes)
        last_ack = max((a for _s, a in acked), default=math.nan)
        exact_at = await screens.until_voted(STRAND_SUSTAINED, sustained, limit=30)
        tallies = [(t, v.get(STRAND_SUSTAINED, 0)) for t, v in screens.tallies[mark:]]
        latencies = vote_to_tally(acked, tallies)
        kill_time = killed.pop("killed_at_monotonic", None)
        before_kill = [(s, a) for s, a in acked if kill_time is None or a < kill_time]
        report["sustained"] = {
            "votes": sustained,
            "target_rate": args.rate,
            "acknowledged": len(acked),
            "sent_more_than_once": sum(1 for *_r, n in votes if n > 1),
            "achieved_votes_per_s": round(len(acked) / (last_ack - min(s for s, _a in acked)), 1)
            if acked
            else None,
            "ack_ms": ms([a - s for s, a in acked]),
            "vote_to_tally_ms": ms(latencies),
            "vote_to_tally_ms_before_the_kill": ms(
                vote_to_tally(before_kill, tallies)[: len(before_kill)]
            ),
            "tally_exact_after_last_send_ms": round((exact_at - last_sent) * 1000, 1)
            if exact_at is not None
            else None,
            "final_presenter_voted": screens.voted(STRAND_SUSTAINED),
            "worker_killed": killed or None,
        }
        report["exact"] = (
            report["burst"]["final_presenter_voted"] == burst
            and report["sustained"]["final_presenter_voted"] == sustained
        )
    finally:
        await screens.close()
        await clients.stop()
    report["load_average_at_end"] = os.getloadavg()[0]
    stored = database_check(target)
    report["database"] = stored
    report["exact"] = report["exact"] and stored["stored_votes"] == {
        STRAND_BURST: report["burst"]["votes"],
        STRAND_SUSTAINED: report["sustained"]["votes"],
    }
    return report


SUMMARY = {
    "all connected (s)": ("connect", "all_connected_s"),
    "phones connected": ("connect", "connected"),
    "burst acknowledged": ("burst", "acknowledged"),
    "burst last ack after first send (s)": ("burst", "last_ack_after_first_send_s"),
    "burst tally exact after last send (ms)": ("burst", "tally_exact_after_last_send_ms"),
    "sustained acknowledged": ("sustained", "acknowledged"),
    "sustained votes/s": ("sustained", "achieved_votes_per_s"),
    "vote-to-tally p95 (ms)": ("sustained", "vote_to_tally_ms", "p95"),
    "vote-to-tally p95 before the kill (ms)": (
        "sustained", "vote_to_tally_ms_before_the_kill", "p95"
    ),
    "killed worker listening again (s)": (
        "sustained", "worker_killed", "worker_listening_again_after_s"
    ),
    "phones back after the kill (s)": (
        "sustained", "worker_killed", "all_phones_connected_again_after_s"
    ),
    "phones not connected 60 s after the kill": (
        "sustained", "worker_killed", "not_connected_at_end"
    ),
}  # fmt: skip


def dig(report: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = report
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def summarise(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """min / median / max over the runs of each headline figure, with each run's load."""
    summary: dict[str, Any] = {
        "load_average_start_end": [
            (r["load_average_at_start"], r["load_average_at_end"]) for r in reports
        ],
        "exact": [r["exact"] for r in reports],
    }
    for label, path in SUMMARY.items():
        values = [v for r in reports if isinstance(v := dig(r, path), int | float)]
        summary[label] = (
            {"min": min(values), "median": statistics.median(values), "max": max(values)}
            if values
            else None
        )
    return summary


def markdown_table(summary: dict[str, Any]) -> str:
    lines = ["| figure | min | median | max |", "|---|---|---|---|"]
    for label in SUMMARY:
        row = summary.get(label)
        cells = [f"{row[k]:g}" for k in ("min", "median", "max")] if row else ["-"] * 3
        lines.append(f"| {label} | {' | '.join(cells)} |")
    loads = "; ".join(f"{a:.1f} → {b:.1f}" for a, b in summary["load_average_start_end"])
    lines += ["", f"Load average at start → end of each run: {loads}."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phones", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--burst-window", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument(
        "--kill-at", type=float, default=5.0, help="seconds into the sustained phase"
    )
    parser.add_argument("--no-kill", action="store_true")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="phones connect to the worker itself, not through nginx (with --workers 1: a "
        "restart of the one server, the reconnect storm)",
    )
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--concurrency", type=int, default=25, help="joins in flight per process")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--phase-limit", type=float, default=600.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--database",
        choices=["postgres", "sqlite"],
        default="postgres",
        help="sqlite: one server as `make serve` runs it (with --workers 1 --direct)",
    )
    args = parser.parse_args()
    if args.no_kill:
        args.kill_at = None
    if args.database == "sqlite" and not (args.workers == 1 and args.direct):
        raise SystemExit("--database sqlite is for one server (--workers 1 --direct)")
    database = "sqlite" if args.database == "sqlite" else os.environ.get("VOTING_TEST_DATABASE_URL")
    if not database:
        print(__doc__)
        return 2
    PHASE_LIMIT[0] = args.phase_limit
    print(f"{os.cpu_count()} cores; file descriptor limit {raise_fd_limit()}", flush=True)
    reports = []
    for number in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="voting-scaleout-") as tmp:
            workdir = Path(tmp)
            with deployed(workdir, args.workers, database, args.direct) as (target, fleet):
                print(f"-- run {number}: {target.name}, {args.phones} phones", flush=True)
                report = asyncio.run(run(target, fleet, args))
            errors = nginx_errors(workdir / "nginx")
            # A killed worker refuses connections and drops its sockets until it is back.
            expected = ("Connection refused", "prematurely closed", "reset by peer")
            report["nginx_error_lines"] = len(errors)
            report["nginx_error_lines_other_than_the_killed_worker"] = [
                line for line in errors if not any(e in line for e in expected)
            ][:10]
            log = (workdir / "workers.log").read_text(errors="replace")
            report["worker_tracebacks"] = log.count("Traceback")
            report["worker_errors"] = sorted(
                {line for line in log.splitlines() if line and not line.startswith((" ", "\t"))}
                - {""}
            )[:15]
            print(json.dumps(report, indent=2), flush=True)
            reports.append(report)
    result = {"args": {k: str(v) for k, v in vars(args).items()}, "runs": reports}
    if len(reports) > 1:
        result["summary"] = summarise(reports)
        print(json.dumps(result["summary"], indent=2), flush=True)
        print(markdown_table(result["summary"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if all(r["exact"] for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
