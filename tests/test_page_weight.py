"""The voting page is light enough for old phones on venue Wi-Fi: everything it loads (HTML, CSS,
JS, icon) is at most 150 KB gzip-compressed and on the wire, and on a "slow 3G" connection
(400 kbit/s each way, 400 ms latency) the level buttons are there and a vote is acknowledged
within 5 seconds of opening the join link.

The server compresses its responses (Flask-Compress in voting/app.py); the Socket.IO traffic
is compressed by Engine.IO itself and is data, not page weight, so it is reported, not counted.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.browser_stages import FAMILY, Workshop, module_browser, module_workshop
from tests.browser_support import PHONE, TIMEOUT_MS, PageErrors

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, CDPSession

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with an install hint
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.server]

BUDGET_BYTES = 150 * 1024
SLOW_3G = {  # Chrome DevTools' "Slow 3G" preset
    "offline": False,
    "latency": 400,  # ms, each way added to every request
    "downloadThroughput": 400_000 / 8,  # bytes per second
    "uploadThroughput": 400_000 / 8,
}
USABLE_WITHIN_S = 5.0
SOCKET_IO = "/socket.io/"


browser = module_browser()
workshop = module_workshop("weight")


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(**PHONE)  # a new context: nothing cached
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


class Transfers:
    """Every response a page loads, with its bytes on the wire (Chrome's encodedDataLength:
    headers and the body as sent, compressed or not)."""

    def __init__(self, cdp: CDPSession) -> None:
        self.responses: dict[str, dict[str, Any]] = {}
        cdp.on("Network.responseReceived", self._received)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.send("Network.enable")

    def _received(self, event: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
        self.responses[event["requestId"]] = {
            "url": event["response"]["url"],
            "encoding": headers.get("content-encoding", ""),
            "wire": None,
        }

    def _finished(self, event: dict[str, Any]) -> None:
        if event["requestId"] in self.responses:
            self.responses[event["requestId"]]["wire"] = event["encodedDataLength"]

    def page_assets(self) -> list[dict[str, Any]]:
        return [r for r in self.responses.values() if SOCKET_IO not in r["url"]]

    def socket_io(self) -> list[dict[str, Any]]:
        return [r for r in self.responses.values() if SOCKET_IO in r["url"]]


def test_the_voting_page_weighs_at_most_150_kb(workshop: Workshop, phone: BrowserContext) -> None:
    session = workshop.new_session()
    workshop.run_to(session, "start", "open")
    errors = PageErrors()
    page = errors.watch(phone, "phone").new_page()
    transfers = Transfers(phone.new_cdp_session(page))
    page.goto(f"{workshop.url}/s/{session.code}")
    expect(page.locator(f"#opt-{FAMILY}-1")).to_be_enabled()
    page.wait_for_load_state("networkidle")
    for _ in range(50):  # Chrome reports each transfer's size once the load has finished
        if all(r["wire"] is not None for r in transfers.page_assets()):
            break
        page.wait_for_timeout(100)

    assets = transfers.page_assets()
    paths = {r["url"].removeprefix(workshop.url) for r in assets}
    # Whatever else the page comes to load is counted too; these it must have loaded.
    assert paths >= {
        f"/s/{session.code}",
        "/static/css/app.css",
        "/static/js/live.js",
        "/static/js/phone.js",
        "/static/vendor/socket.io.min.js",
    }, paths

    # Each file's body gzip-compressed (level 6, as servers use), and what really went over.
    rows = []
    for r in assets:
        body = requests.get(r["url"], timeout=10).content  # decoded
        rows.append(
            (
                r["url"].removeprefix(workshop.url),
                len(body),
                len(gzip.compress(body, 6)),
                r["wire"],
                r["encoding"],
            )
        )
    raw = sum(row[1] for row in rows)
    gzipped = sum(row[2] for row in rows)
    wire = sum(row[3] for row in rows)
    report = "\n".join(
        f"  {p:40} {n:>7} raw {g:>7} gzip {w:>7} on the wire ({e or 'identity'})"
        for p, n, g, w, e in sorted(rows)
    )
    data = sum(r["wire"] or 0 for r in transfers.socket_io())
    print(
        f"\nvoting page: {raw} B raw, {gzipped} B gzip, {wire} B on the wire "
        f"(Socket.IO data besides: {data} B)\n{report}"
    )
    assert gzipped <= BUDGET_BYTES, report
    assert wire <= BUDGET_BYTES, report
    # The server really does compress the text it sends (else the wire total is the raw one).
    for path, _, _, _, encoding in rows:
        if path.endswith((".js", ".css")) or path.startswith("/s/"):
            assert encoding in ("gzip", "deflate", "br", "zstd"), (path, encoding)
    assert errors.errors == []


def test_the_server_compresses_for_older_browsers(workshop: Workshop) -> None:
    """Browsers on plain HTTP (a laptop on the venue's network) offer only gzip and deflate:
    the page and the static files go out gzipped (static files as whole bodies, compressed
    once and kept: voting/live/compression.py)."""
    session = workshop.new_session()
    expected = {
        f"/s/{session.code}": "gzip",
        "/static/css/app.css": "gzip",
        "/static/js/live.js": "gzip",
        "/static/js/phone.js": "gzip",
        "/static/vendor/socket.io.min.js": "gzip",
    }
    for path, encoding in expected.items():
        url = f"{workshop.url}{path}"
        with requests.get(
            url, headers={"Accept-Encoding": "gzip, deflate"}, timeout=10, stream=True
        ) as response:
            sent = response.raw.read(decode_content=False)
            assert response.headers.get("Content-Encoding") == encoding, path
            assert "Accept-Encoding" in response.headers.get("Vary", ""), path
        plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
        assert "Content-Encoding" not in plain.headers, path
        assert len(sent) < 0.5 * len(plain.content), path


def test_on_slow_3g_a_phone_can_vote_within_5_seconds(
    workshop: Workshop, phone: BrowserContext
) -> None:
    session = workshop.new_session()
    workshop.run_to(session, "start", "open")
    page = phone.new_page()
    cdp = phone.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)

    started = time.monotonic()
    page.goto(f"{workshop.url}/s/{session.code}", wait_until="commit")
    label = page.locator(f'label[for="opt-{FAMILY}-2"]')
    expect(label).to_be_visible()
    expect(page.locator(f"#opt-{FAMILY}-2")).to_be_enabled()
    usable = time.monotonic() - started
    label.tap()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Developing.")
    acknowledged = time.monotonic() - started
    print(
        f"\nslow 3G: buttons usable after {usable:.2f} s, vote acknowledged after "
        f"{acknowledged:.2f} s"
    )
    assert usable <= USABLE_WITHIN_S
    assert acknowledged <= USABLE_WITHIN_S
