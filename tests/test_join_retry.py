"""A phone whose join the server cannot finish (its database unreachable, as when a reconnect
storm exhausts the pool) is refused with `retry`, says so, and tries again by itself after a
growing, randomised pause; once the database is back it joins, shows the open strand and
votes. Real Chromium, a real server on PostgreSQL reached through a forwarder the test cuts
and restores (no mock)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import make_url

from tests.browser_stages import FAMILY, Workshop, module_browser
from tests.browser_support import PHONE, TIMEOUT_MS, PageErrors
from tests.servers import free_port, running_server
from tests.services import Forwarder, fresh_schema, postgres_url
from voting.live.events import SERVER_BUSY

if TYPE_CHECKING:
    from playwright.sync_api import Browser

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with an install hint
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.services]

OFFLINE = "Offline: your vote will be sent when you are back online"
FAILED_JOIN = "connect failed; the client is told to retry"
# Chromium reports the requests that fail while the context is offline, and a long-poll still in
# flight when a refused join's Engine.IO session is closed (the server answers it 400).
NETWORK_ERRORS = r"net::ERR_(INTERNET_DISCONNECTED|FAILED)"
CLOSED_POLL = r"status of 400 \(BAD REQUEST\) \[http://[^ ]*/socket\.io/\?EIO=4&transport=polling"

browser = module_browser()


@pytest.fixture
def cut_workshop(tmp_path: Path) -> Iterator[tuple[Workshop, Forwarder]]:
    with fresh_schema(postgres_url()) as url:
        parsed = make_url(url)
        forwarder = Forwarder(parsed.host or "127.0.0.1", parsed.port or 5432)
        through = parsed.set(host="127.0.0.1", port=forwarder.port)
        try:
            port = free_port()
            with running_server(
                through.render_as_string(hide_password=False),
                tmp_path,
                port=port,
                VOTING_PUBLIC_URL=f"http://127.0.0.1:{port}",
            ) as server:
                workshop = Workshop(server)
                yield workshop, forwarder
                workshop.close()
        finally:
            forwarder.close()


def test_a_phone_whose_join_fails_is_refused_and_retries_until_it_joins(
    browser: Browser, cut_workshop: tuple[Workshop, Forwarder]
) -> None:
    workshop, forwarder = cut_workshop
    session = workshop.new_session()
    workshop.run_to(session, "start", "open")
    errors = PageErrors()
    errors.allow(NETWORK_ERRORS)
    errors.allow(CLOSED_POLL)
    context = errors.watch(browser.new_context(**PHONE), "phone")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{workshop.url}/s/{session.code}")
    expect(page.locator("#connection")).to_have_text("Connected")

    # The database goes away, and the phone's connection with it; back online, its join fails.
    forwarder.cut()
    context.set_offline(True)
    expect(page.locator("#connection")).to_have_text(OFFLINE)
    context.set_offline(False)
    expect(page.locator("#notice")).to_have_text(SERVER_BUSY)
    expect(page.locator("#connection")).to_have_text("Reconnecting…")

    # Refused, it tries again by itself (the page is never reloaded).
    deadline = time.monotonic() + 30
    while workshop.server.log().count(FAILED_JOIN) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workshop.server.log().count(FAILED_JOIN) >= 3, workshop.server.log()
    expect(page.locator("#connection")).to_have_text("Reconnecting…")

    forwarder.restore()
    expect(page.locator("#connection")).to_have_text("Connected", timeout=40_000)
    expect(page.locator("#notice")).to_be_hidden()
    page.locator(f'label[for="opt-{FAMILY}-2"]').tap()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Developing.")
    context.close()
    assert errors.errors == [], errors.errors
