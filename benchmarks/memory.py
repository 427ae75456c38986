"""Where a connected phone's memory goes: a census of the server process taken before and after
N phones join, for the app and for the bare echo server (benchmarks/echo_server.py).

The server runs under this script's `--census-child` mode, which installs a SIGUSR1 handler and
then runs the server as usual. On each signal it writes a census: RSS and its anonymous and heap
parts (/proc/self/status and /proc/self/smaps), glibc's malloc totals (mallinfo2), pymalloc's
(sys._debugmallocstats), the objects the cyclic collector tracks by type (shallow sizes),
greenlet stacks saved to the heap, and SQLite's own memory. The figures per phone are the
difference between two censuses divided by N. A census pauses the server for a moment.

    .venv/bin/python benchmarks/memory.py --phones 1000
    .venv/bin/python benchmarks/memory.py --phones 1000 --echo
"""

from __future__ import annotations

# Only what the census needs is imported at the top: in `--census-child` mode this process
# becomes the server, which must monkey-patch before anything opens sockets or threads.
import argparse
import json
import os
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WARM_PHONES = 200  # joined before the first census, so that start-up costs are not counted


# ---------------------------------------------------------------- inside the server


def _census() -> dict[str, Any]:
    import ctypes
    import gc

    try:
        from greenlet import greenlet
    except ImportError:  # threading mode
        greenlet = None  # type: ignore[assignment,misc]
    gc.collect()
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    stacks = 0
    for obj in gc.get_objects():
        kind = type(obj)
        name = f"{kind.__module__}.{kind.__qualname__}"
        counts[name] += 1
        sizes[name] += sys.getsizeof(obj)
        if greenlet is not None and isinstance(obj, greenlet):
            stacks += obj._stack_saved
    figures: dict[str, float] = {"gc-tracked objects (shallow)": sum(sizes.values())}
    figures["greenlet stacks saved"] = stacks
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            figures[key] = int(value.split()[0]) * 1024
    anon = heap = 0
    current = None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", parts[0]):
            current = parts[5] if len(parts) > 5 else ""
        elif parts[0] == "Rss:":
            if current == "[heap]":
                heap += int(parts[1]) * 1024
            elif current == "":
                anon += int(parts[1]) * 1024
    figures["RSS: anonymous mappings"] = anon
    figures["RSS: malloc heap"] = heap

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (n, ctypes.c_size_t)
            for n in [
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            ]
        ]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    figures["malloc in use"] = info.uordblks + info.hblkhd
    figures["malloc free"] = info.fordblks
    try:
        sqlite = ctypes.CDLL("libsqlite3.so.0")
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
        figures["SQLite memory"] = sqlite.sqlite3_memory_used()
    except OSError:
        pass
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode("utf-8", "replace")
    found = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", text)
    if found:
        figures["pymalloc in use"] = int(found.group(1).replace(",", ""))
    return {"figures": figures, "sizes": dict(sizes), "counts": dict(counts)}


def census_child(folder: Path, command: list[str]) -> None:
    """Run `command` (a module with -m, or a script) in this process, answering SIGUSR1."""
    taken = [0]

    def on_signal(*_: Any) -> None:
        taken[0] += 1
        path = folder / f"census-{taken[0]}.json"
        path.with_suffix(".part").write_text(json.dumps(_census()))
        path.with_suffix(".part").rename(path)

    signal.signal(signal.SIGUSR1, on_signal)
    import runpy

    if command[0] == "-m":
        sys.argv = [command[1], *command[2:]]
        runpy.run_module(command[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = command
        runpy.run_path(command[0], run_name="__main__")


# ---------------------------------------------------------------- outside


def _take(process: Any, folder: Path, n: int) -> dict[str, Any]:
    process.send_signal(signal.SIGUSR1)
    path = folder / f"census-{n}.json"
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("the server did not answer the census signal")
        time.sleep(0.2)
    return json.loads(path.read_text())


async def _join(url: str, code: str, count: int) -> list[Any]:
    import asyncio

    import socketio

    gate = asyncio.Semaphore(50)
    phones: list[Any] = []

    async def one() -> None:
        phone = socketio.AsyncClient(reconnection=False)
        async with gate:
            await phone.connect(
                url, transports=["websocket"], wait_timeout=20, auth={"role": "phone", "code": code}
            )
        phones.append(phone)

    await asyncio.gather(*(one() for _ in range(count)))
    return phones


async def _measure(
    url: str, code: str, phones: int, process: Any, folder: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    import asyncio

    warm = await _join(url, code, WARM_PHONES)
    await asyncio.sleep(1)
    before = _take(process, folder, 1)
    joined = await _join(url, code, phones)
    await asyncio.sleep(2)
    after = _take(process, folder, 2)
    for phone in [*warm, *joined]:
        await phone.disconnect()
    return before, after


def _report(name: str, before: dict[str, Any], after: dict[str, Any], phones: int) -> None:
    print(f"-- {name}: per phone, over {phones} phones")
    for key, value in after["figures"].items():
        change = (value - before["figures"].get(key, 0)) / phones
        print(f"{change / 1024:8.2f} KB  {key}")
    growth = {k: (after["sizes"][k] - before["sizes"].get(k, 0)) / phones for k in after["sizes"]}
    print("largest growth among tracked objects, bytes per phone:")
    for kind, size in sorted(growth.items(), key=lambda kv: -kv[1])[:8]:
        count = (after["counts"][kind] - before["counts"].get(kind, 0)) / phones
        print(f"{size:8.0f} B  {count:6.2f} objects  {kind}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phones", type=int, default=1000)
    parser.add_argument("--echo", action="store_true", help="the bare echo server, not the app")
    parser.add_argument("--census-child", type=Path, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.census_child:
        census_child(args.census_child, rest)
        return 0
    import asyncio
    import subprocess

    import requests

    sys.path.insert(0, str(ROOT))
    from tests.helpers import PASSPHRASE
    from tests.servers import RunningServer, create_workshop, free_port, stop

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="voting-memory-") as tmp:
        folder = Path(tmp)
        if args.echo:
            server_command = [str(ROOT / "benchmarks" / "echo_server.py"), str(port)]
        else:
            server_command = ["-m", "voting", "serve", "--host", "127.0.0.1"]
            server_command += ["--port", str(port)]
        environment = {
            **os.environ,
            "VOTING_DATABASE_URL": f"sqlite:///{folder / 'voting.sqlite3'}",
            "VOTING_FACILITATOR_PASSPHRASE": PASSPHRASE,
            "VOTING_SECRET_KEY": "memory census",
            "VOTING_INSTANCE_DIR": str(folder),
        }
        log = (folder / "server.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, __file__, "--census-child", str(folder), *server_command],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(url + "/", timeout=5)  # any answer: it is up
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError((folder / "server.log").read_text()) from None
                    time.sleep(0.2)
            code = "ECHO"
            if not args.echo:
                server = RunningServer(url, process, folder / "server.log")
                _session_id, code = create_workshop(server, server.facilitator())
            before, after = asyncio.run(_measure(url, code, args.phones, process, folder))
        finally:
            stop(process)
            log.close()
    _report("echo server" if args.echo else "app", before, after, args.phones)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
