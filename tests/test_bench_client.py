"""Calibration of the benchmark's browser-like phones (benchmarks/phones.mjs) against real
Chromium phones on the real server: both offer the same WebSocket extensions, and the server
answers both the same way (declining compression, as chosen), through a proxy that records the
opening handshakes.

Needs Node (CI has it; skipped without) and runs `npm ci` in benchmarks/ when its packages are
missing (from the npm registry, as `make bench` does)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser_stages import Workshop, module_browser
from tests.browser_support import PHONE, TIMEOUT_MS
from tests.handshakes import Handshake, HandshakeRecorder
from tests.servers import free_port, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with an install hint
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.server]

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
PHONES = 3
CHROMIUM_OFFER = "permessage-deflate; client_max_window_bits"

browser = module_browser()


@pytest.fixture(scope="module")
def node_phones() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node is not installed: the browser-like benchmark client needs it")
    if not (BENCHMARKS / "node_modules" / "socket.io-client").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install benchmarks/package-lock.json")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=BENCHMARKS, check=True, timeout=300
        )
    return node


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[Workshop, HandshakeRecorder]]:
    port = free_port()
    with running_server(f"sqlite:///{tmp_path / 'voting.sqlite3'}", tmp_path, port=port) as server:
        recorder = HandshakeRecorder(port)
        workshop = Workshop(server)
        try:
            yield workshop, recorder
        finally:
            workshop.close()
            recorder.close()


def _wait_for(recorder: HandshakeRecorder, count: int) -> list[Handshake]:
    deadline = time.monotonic() + 20
    while len(recorder.handshakes()) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return recorder.handshakes()


def _node_phones(node: str, url: str, code: str) -> list[dict[str, Any]]:
    """Join PHONES browser-like phones through `url`; what each says it negotiated."""
    with subprocess.Popen(
        [node, str(BENCHMARKS / "phones.mjs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        return _drive(process, url, code)


def _drive(process: subprocess.Popen[str], url: str, code: str) -> list[dict[str, Any]]:
    assert process.stdin is not None and process.stdout is not None

    def ask(command: dict[str, Any]) -> Any:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(command) + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())["payload"]

    try:
        joined = ask(
            {
                "cmd": "connect",
                "url": url,
                "code": code,
                "first": 0,
                "count": PHONES,
                "concurrency": PHONES,
                "page": True,
                "deflate": True,
            }
        )
        assert all(ok for _t, ok in joined), joined
        deadline = time.monotonic() + 20
        seen = ask({"cmd": "extensions"})
        while not all(p["upgraded"] for p in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
            seen = ask({"cmd": "extensions"})
        ask({"cmd": "stop"})
        return list(seen)
    finally:
        process.wait(timeout=20)


def test_the_browser_like_client_negotiates_what_chromium_negotiates(
    browser: Browser, node_phones: str, recorded: tuple[Workshop, HandshakeRecorder]
) -> None:
    workshop, recorder = recorded
    session = workshop.new_session()
    workshop.run_to(session, "start", "open")

    # A handful of real Chromium phones, through the recording proxy.
    context = browser.new_context(**PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    for _ in range(PHONES):
        page = context.new_page()
        page.goto(f"{recorder.url}/s/{session.code}")
        expect(page.locator("#connection")).to_have_text("Connected")
    chromium = _wait_for(recorder, PHONES)
    context.close()
    assert len(chromium) == PHONES, chromium

    # The same number of browser-like phones, through the same proxy.
    seen = _node_phones(node_phones, recorder.url, session.code)
    node = _wait_for(recorder, 2 * PHONES)[PHONES:]
    assert len(node) == PHONES, node
    assert all(p["upgraded"] and p["transport"] == "websocket" for p in seen), seen

    # Chromium's offer, made identically by both; and the server answers both alike: it
    # declines compression (voting/live/compression.py), so no extension is in force.
    assert {h.offered for h in chromium} == {CHROMIUM_OFFER}
    assert {h.offered for h in node} == {CHROMIUM_OFFER}
    assert {h.answered for h in node} == {h.answered for h in chromium} == {None}
    assert {p["extensions"] for p in seen} == {""}
