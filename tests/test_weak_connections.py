"""Phones on venue Wi-Fi, in real Chromium against the real server: a vote made offline is sent
when the phone is back online and stored once; a vote whose acknowledgement was lost is sent
again with the same client vote id and still stored once; a vote waiting to be sent survives a
reload; a reloaded phone is the same participant and sees the current strand and its own vote;
every screen says when it has lost the connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from tests.browser_stages import FAMILY, Session, Workshop, module_browser
from tests.browser_support import DESKTOP, PHONE, TIMEOUT_MS, PageErrors
from tests.servers import free_port, running_server
from voting.database import Database
from voting.models import Vote, VoteHistory

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with an install hint
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.server]

OFFLINE = "Offline: your vote will be sent when you are back online"
# Chromium reports the requests that fail while a context is offline or a route aborts them.
NETWORK_ERRORS = r"net::ERR_(INTERNET_DISCONNECTED|FAILED)"


browser = module_browser()


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('weak') / 'voting.sqlite3'}"


@pytest.fixture(scope="module")
def workshop(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workshop]:
    port = free_port()
    tmp = Path(database_url.removeprefix("sqlite:///")).parent
    with running_server(
        database_url, tmp, port=port, VOTING_PUBLIC_URL=f"http://127.0.0.1:{port}"
    ) as server:
        made = Workshop(server)
        yield made
        made.close()
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def errors() -> PageErrors:
    found = PageErrors()
    found.allow(NETWORK_ERRORS)
    return found


@pytest.fixture
def new_context(browser: Browser, errors: PageErrors) -> Iterator[Any]:
    made: list[BrowserContext] = []

    def make(name: str = "phone", **options: Any) -> BrowserContext:
        context = browser.new_context(**(options or PHONE))
        context.set_default_timeout(TIMEOUT_MS)
        made.append(context)
        return errors.watch(context, name)

    yield make
    for context in made:
        context.close()


def stored(database_url: str, session: Session, strand: str = FAMILY) -> dict[str, Any]:
    """What the database holds for one strand of a session: votes and the vote history."""
    database = Database(database_url)
    try:
        with database.read() as db:
            votes = db.scalars(
                select(Vote).where(Vote.session_id == session.id, Vote.strand_key == strand)
            ).all()
            history = db.scalar(
                select(func.count())
                .select_from(VoteHistory)
                .where(VoteHistory.session_id == session.id, VoteHistory.strand_key == strand)
            )
            return {
                "levels": [v.level for v in votes],
                "ids": [v.client_vote_id for v in votes],
                "history": history,
            }
    finally:
        database.dispose()


def open_phone(context: BrowserContext, workshop: Workshop, session: Session) -> Page:
    page = context.new_page()
    page.goto(f"{workshop.url}/s/{session.code}")
    expect(page.locator("#connection")).to_have_text("Connected")
    return page


def test_a_vote_made_offline_is_sent_when_back_online_and_stored_once(
    workshop: Workshop, new_context: Any, errors: PageErrors, database_url: str
) -> None:
    session = workshop.new_session()
    workshop.run_to(session, "start", "open")
    context = new_context()
    page = open_phone(context, workshop, session)

    context.set_offline(True)
    expect(page.locator("#connection")).to_have_text(OFFLINE)
    expect(page.locator("#connection")).to_have_class(re.compile(r"\bconnection-offline\b"))
    page.locator(f'label[for="opt-{FAMILY}-3"]').tap()
    expect(page.locator(f"#opt-{FAMILY}-3")).to_be_checked()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Waiting to send: you are offline.")
    expect(page.locator("#announce")).to_have_text(
        "You are offline. Your vote will be sent when you are back online."
    )
    page.wait_for_timeout(500)  # long enough for a vote to have got out, had it been sent
    assert stored(database_url, session)["levels"] == []

    context.set_offline(False)
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Maturing.")
    expect(page.locator("#connection")).to_have_text("Connected")
    held = stored(database_url, session)
    assert held["levels"] == [3] and held["history"] == 1, held
    assert page.evaluate("k => localStorage.getItem(k)", f"voting:pending:{session.code}") == "{}"
    assert errors.errors == []


def test_a_vote_whose_acknowledgement_was_lost_is_resent_and_applied_once(
    workshop: Workshop, new_context: Any, errors: PageErrors, database_url: str
) -> None:
    """The server stores the vote, but the connection drops before its acknowledgement reaches
    the phone: the phone sends it again, with the same client vote id, and the server treats
    that as the same vote."""
    session = workshop.new_session()
    workshop.run_to(session, "start", "open")
    context = new_context()
    sent: list[str] = []
    dropped: list[str] = []
    upgraded: list[WebSocketRoute] = []

    def relay(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if message == "5":  # Engine.IO's upgrade: from now on, packets go this way
                upgraded.append(ws)
            if isinstance(message, str) and '["vote",' in message:
                sent.append(message)
            server.send(message)

        def to_phone(message: str | bytes) -> None:
            # The first vote acknowledgement ("43<id>[{"ok":true,"vote":…}]") never arrives,
            # and the connection drops.
            if isinstance(message, str) and message.startswith("43") and not dropped:
                dropped.append(message)
                ws.close()
                return
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_phone)

    def polled(request: Any) -> None:  # a reconnect starts on HTTP long-polling
        body = request.post_data if request.method == "POST" else None
        if body and '["vote",' in body:
            sent.extend(re.findall(r'\d*\["vote",\{[^}]*\}\]', body))

    context.route_web_socket(re.compile(r"/socket\.io/"), relay)
    context.on("request", polled)
    page = open_phone(context, workshop, session)
    for _ in range(100):  # the vote must go over the WebSocket, not the long-polling before it
        if upgraded:
            break
        page.wait_for_timeout(50)
    assert upgraded, "the phone never upgraded to a WebSocket"
    page.locator(f'label[for="opt-{FAMILY}-2"]').tap()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Developing.")

    assert len(dropped) == 1 and '"ok":true' in dropped[0], dropped
    assert len(sent) == 2, sent  # the vote, and its resend
    vote_ids = {re.search(r'"client_vote_id":"(\w+)"', m).group(1) for m in sent}  # type: ignore[union-attr]
    assert len(vote_ids) == 1, sent
    held = stored(database_url, session)
    assert held == {"levels": [2], "ids": list(vote_ids), "history": 1}, held
    assert errors.errors == []


def test_a_vote_waiting_to_be_sent_survives_a_reload(
    workshop: Workshop, new_context: Any, errors: PageErrors, database_url: str
) -> None:
    """The page loads but Socket.IO cannot get through (the venue's Wi-Fi is struggling): the
    vote waits on the phone, through a reload, and is stored once the connection is back."""
    session = workshop.new_session()
    workshop.run_to(session, "start", "open")
    context = new_context()
    page = open_phone(context, workshop, session)
    context.route(re.compile(r"/socket\.io/"), lambda route: route.abort())
    context.set_offline(True)
    page.locator(f'label[for="opt-{FAMILY}-4"]').tap()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Waiting to send: you are offline.")
    context.set_offline(False)
    # Online, but the socket cannot connect: the phone says so, and keeps the vote.
    expect(page.locator("#connection")).to_have_text("Reconnecting…")
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Waiting to send: reconnecting…")

    page.reload()
    expect(page.locator("#connection")).to_have_text("Reconnecting…")
    assert stored(database_url, session)["levels"] == []
    context.unroute(re.compile(r"/socket\.io/"))
    expect(page.locator("#connection")).to_have_text("Connected")
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Mature.")
    expect(page.locator(f"#opt-{FAMILY}-4")).to_be_checked()
    held = stored(database_url, session)
    assert held["levels"] == [4] and held["history"] == 1, held
    assert errors.errors == []


def test_a_reloaded_phone_is_the_same_participant_on_the_current_strand(
    workshop: Workshop, new_context: Any, errors: PageErrors, database_url: str
) -> None:
    session = workshop.new_session()
    workshop.run_to(session, "start", "open")
    context = new_context()
    page = open_phone(context, workshop, session)
    token_key = f"voting:token:{session.code}"
    token = page.evaluate("k => localStorage.getItem(k)", token_key)
    page.locator(f'label[for="opt-{FAMILY}-1"]').tap()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Early.")

    # The phone sleeps (its page is gone) while the room moves on to the next strand.
    page.close()
    workshop.control(session, "next")
    workshop.control(session, "open", strand="leadership")
    page = open_phone(context, workshop, session)
    expect(page.locator("#title-leadership")).to_have_text("2. Leadership")
    expect(page.locator("#opt-leadership-1")).to_be_enabled()
    expect(page.locator(f"#card-{FAMILY}")).to_have_count(0)
    page.locator('label[for="opt-leadership-3"]').tap()
    expect(page.locator("#status-leadership")).to_have_text("Your vote is saved: Maturing.")

    # Back on the first strand, the phone still has its vote there; the same token throughout,
    # and one participant (joined count) for the two page loads.
    workshop.control(session, "previous")
    expect(page.locator(f"#opt-{FAMILY}-1")).to_be_checked()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Early.")
    page.reload()
    expect(page.locator("#connection")).to_have_text("Connected")
    expect(page.locator(f"#opt-{FAMILY}-1")).to_be_checked()
    assert page.evaluate("k => localStorage.getItem(k)", token_key) == token
    console = workshop.log_in(new_context("console", **DESKTOP)).new_page()
    console.goto(f"{workshop.url}/facilitator/sessions/{session.id}")
    expect(console.locator("#joined")).to_have_text("1")
    assert stored(database_url, session)["levels"] == [1]
    assert stored(database_url, session, "leadership")["levels"] == [3]
    assert errors.errors == []


def test_every_screen_says_when_it_has_lost_the_connection(
    workshop: Workshop, new_context: Any, errors: PageErrors
) -> None:
    session = workshop.new_session()
    workshop.run_to(session, "start", "open")
    facilitator = workshop.log_in(new_context("facilitator", **DESKTOP))
    console = facilitator.new_page()
    console.goto(f"{workshop.url}/facilitator/sessions/{session.id}")
    presenter = facilitator.new_page()
    presenter.goto(f"{workshop.url}/facilitator/sessions/{session.id}/present")
    phone_context = new_context()
    phone = open_phone(phone_context, workshop, session)
    expect(console.locator("#connection")).to_have_text("Connected")
    expect(presenter.locator("#connection")).to_have_text("")

    # The server is unreachable though the network is up: every screen keeps trying.
    for context in (facilitator, phone_context):
        context.route(re.compile(r"/socket\.io/"), lambda route: route.abort())
        context.set_offline(True)
        context.set_offline(False)
    expect(phone.locator("#connection")).to_have_text("Reconnecting…")
    expect(phone.locator("#connection")).to_have_class(re.compile(r"\bconnection-reconnecting\b"))
    expect(console.locator("#connection")).to_have_text("Reconnecting…")
    expect(presenter.locator("#connection")).to_have_text("Reconnecting…")

    for context in (facilitator, phone_context):
        context.unroute(re.compile(r"/socket\.io/"))
    expect(phone.locator("#connection")).to_have_text("Connected", timeout=15_000)
    expect(console.locator("#connection")).to_have_text("Connected", timeout=15_000)
    expect(presenter.locator("#connection")).to_have_text("", timeout=15_000)
    assert errors.errors == []
