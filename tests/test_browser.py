"""Real browsers against the real server: a facilitator (desktop) sets up an assessment and a
live session through the forms, the presenter view goes on the projector, and phones (small
touch screens) join by the join URL, vote, change a vote, see the live results and the revealed
desk rating, and rejoin after a reload.

Runs Debian's Chromium through Playwright's sync API; see tests/browser_support.py for how it
is found and when the tests skip.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser_support import (
    ARTIFACTS,
    CHROMIUM,
    DESKTOP,
    LAUNCH_ARGS,
    PHONE,
    TIMEOUT_MS,
    PageErrors,
    create_assessment,
    create_session,
    diagnostics,
    edit_desk,
    log_in,
    require_browser,
)
from tests.servers import RunningServer, free_port, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with an install hint
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.server]

FAMILY = "family-experience"
FAMILY_NAME = "The family experience of transformed services"
STRANDS = [FAMILY, "leadership", "culture"]
LEVELS = ["Early", "Developing", "Maturing", "Mature"]
ContextFactory = Callable[..., "BrowserContext"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_browser()
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    for stale in ARTIFACTS.glob("failed-*.png"):  # from an earlier run's failure
        stale.unlink()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[ContextFactory]:
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    port = free_port()
    with running_server(
        f"sqlite:///{tmp_path / 'voting.sqlite3'}",
        tmp_path,
        port=port,
        VOTING_PUBLIC_URL=f"http://127.0.0.1:{port}",
    ) as running:
        yield running


def tap_level(page: Page, strand: str, level: int) -> None:
    """Tap a level's label, as a thumb would, and wait until the server has saved the vote."""
    page.locator(f'label[for="opt-{strand}-{level}"]').tap()
    expect(page.locator(f"#opt-{strand}-{level}")).to_be_checked()
    expect(page.locator(f"#status-{strand}")).to_have_text(
        f"Your vote is saved: {LEVELS[level - 1]}."
    )


def expect_no_desk_rating(page: Page) -> None:
    expect(page.locator("body")).not_to_contain_text("desk rating")
    expect(page.locator(".desk-tag")).to_have_count(0)


def track_widths(page: Page, bars: str) -> set[int]:
    """The drawn widths of the bar tracks in one list of bars: one width when they line up."""
    return set(
        page.locator(f"{bars} .bar-track").evaluate_all(
            "tracks => tracks.map(t => Math.round(t.getBoundingClientRect().width))"
        )
    )


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_a_live_workshop_in_real_browsers(
    new_context: ContextFactory, server: RunningServer
) -> None:
    base = server.url
    errors = PageErrors()
    pages: dict[str, Page] = {}
    facilitator = errors.watch(new_context(**DESKTOP), "facilitator")
    console = pages["console"] = facilitator.new_page()

    with diagnostics(server, pages):
        # 1. Set up through the forms: assessment, desk ratings, a live session.
        log_in(console, base)
        create_assessment(console, base)
        edit_desk(console, {FAMILY: "Developing", "culture": "Developing/Maturing"})
        desk_cells = console.locator("table").first.locator("tbody tr td:first-of-type")
        expect(desk_cells).to_have_text(
            [
                "Developing",
                "Not recorded",
                "Not recorded",
                "Developing/Maturing",
                "Not recorded",
                "Not recorded",
            ]
        )
        sid = create_session(console, base, "Partnership workshop", STRANDS)

        rows = console.locator("#strand-rows tr")
        family_row = rows.filter(has_text=FAMILY_NAME)
        expect(rows).to_have_count(3)
        expect(console.locator("#status")).to_have_text("Not started")
        expect(family_row.locator(".tag")).to_have_text("On screen")
        expect(family_row.locator("td").nth(3)).to_have_text("Developing (hidden)")
        # 127.0.0.1 is the public URL here, so the console rightly warns phones cannot reach it.
        expect(console.locator(".warning-text")).to_contain_text("Phones cannot reach")

        # 2. The presenter view, opened from the console's link (a new tab).
        with console.expect_popup() as popup:
            console.get_by_role("link", name="Open the presenter view").click()
        presenter = pages["presenter"] = popup.value
        expect(presenter).to_have_url(f"{base}/facilitator/sessions/{sid}/present")
        # Before the start, the projector shows how to join, and nothing of the strands.
        expect(presenter.locator("#join-screen")).to_be_visible()
        expect(presenter.locator("#strand-screen")).to_be_hidden()
        code = presenter.locator("#join-screen-code").inner_text()
        assert re.fullmatch(r"[A-HJKMNP-Z2-9]{6}", code), code
        join_url = presenter.locator("#join-screen-url").inner_text()
        assert join_url == f"{base}/s/{code}"
        expect(console.locator(".join-line")).to_contain_text(join_url)
        qr = presenter.request.get(f"{base}/qr/{code}.svg")
        assert qr.ok and qr.headers["content-type"].startswith("image/svg+xml")
        svg = qr.text()
        assert "<svg" in svg and svg.rstrip().endswith("</svg>"), svg[:200]
        expect(presenter.locator(".join-screen-qr")).to_have_attribute(
            "alt", f"QR code for {join_url}"
        )
        presenter.wait_for_function(
            "() => { const img = document.querySelector('.join-screen-qr');"
            " return img.complete && img.naturalWidth > 0; }"
        )

        # The presenter is only watched from here on; the console, clicked, goes back in front
        # (a background tab gets no animation frames, which Playwright's clicks wait for).
        console.bring_to_front()

        # 3. Five phones open the join URL (the one the QR code encodes); two fill in the
        # profile, three skip it.
        phones: list[Page] = []
        contexts = []
        for n in (1, 2, 3, 4, 5):
            context = errors.watch(new_context(**PHONE), f"phone{n}")
            page = context.new_page()
            page.goto(join_url)
            pages[f"phone{n}"] = page
            phones.append(page)
            contexts.append(context)
        for page in phones:
            expect(page.locator("#connection")).to_have_text("Connected")
            expect(page.get_by_role("heading", name="About you (optional)")).to_be_visible()
        first, second, third, fourth, fifth = phones
        first.locator('label[for="role-strategic"]').tap()
        first.get_by_label("Your sector or agency").select_option("Police")
        first.get_by_label("Your locality").select_option("North Herts")
        first.get_by_role("button", name="Continue").tap()
        fourth.locator('label[for="role-operational"]').tap()
        fourth.get_by_label("Your sector or agency").select_option("Health")
        fourth.get_by_role("button", name="Continue").tap()
        for page in (second, third, fifth):
            page.get_by_role("button", name="Skip").tap()
        for page in phones:
            expect(page.locator("#profile")).to_be_hidden()
            expect(page.locator(f"#title-{FAMILY}")).to_have_text(f"1. {FAMILY_NAME}")
            expect(page.locator(f"#state-{FAMILY}")).to_have_text(
                "Voting on this strand opens soon."
            )
            expect(page.locator(f"#opt-{FAMILY}-1")).to_be_disabled()

        # The projector and the console count the phones as they join, before anything starts.
        expect(presenter.locator("#join-screen-count")).to_have_text("5")
        expect(console.locator("#joined")).to_have_text("5")
        screenshot(presenter, "join-screen.png")

        # 4. Start, open the first strand, vote; one phone changes its vote.
        console.get_by_role("button", name="Start session").click()
        expect(console.locator("#status")).to_have_text("Running")
        expect(console.get_by_role("button", name="Start session")).to_be_hidden()
        console.locator(f"#open-{FAMILY}").click()
        expect(console.locator("#console-message")).to_have_text(f"Voting open on {FAMILY_NAME}.")
        expect(family_row.locator("td").first).to_have_text("Open")
        expect(presenter.locator("#join-screen")).to_be_hidden()
        expect(presenter.locator("#strand-title")).to_have_text(f"1. {FAMILY_NAME}")
        expect(presenter.locator("#strand-status")).to_have_text("Voting is open · 0 voted")
        for page in phones:
            expect(page.locator(f"#state-{FAMILY}")).to_have_text(
                "Voting is open. Tap a level; you can change it while voting is open."
            )
        tap_level(first, FAMILY, 2)
        tap_level(second, FAMILY, 3)
        tap_level(third, FAMILY, 1)
        tap_level(fourth, FAMILY, 4)
        expect(family_row.locator("td.num")).to_have_text("4 of 5")
        expect(family_row.locator(".distribution")).to_have_text(
            "Early 1 · Developing 1 · Maturing 1 · Mature 1"
        )
        expect(presenter.locator("#strand-status")).to_have_text("Voting is open · 4 voted")
        tap_level(third, FAMILY, 2)
        expect(third.locator(f"#opt-{FAMILY}-1")).not_to_be_checked()
        expect(family_row.locator(".distribution")).to_have_text(
            "Early 0 · Developing 2 · Maturing 1 · Mature 1"
        )
        # The fifth phone loses its connection, votes anyway: the vote waits, then is sent.
        contexts[4].set_offline(True)
        expect(fifth.locator("#connection")).to_contain_text("Offline")
        fifth.locator(f'label[for="opt-{FAMILY}-3"]').tap()
        expect(fifth.locator(f"#status-{FAMILY}")).to_have_text("Waiting to send: you are offline.")
        expect(family_row.locator("td.num")).to_have_text("4 of 5")
        contexts[4].set_offline(False)
        expect(fifth.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Maturing.")
        expect(family_row.locator(".distribution")).to_have_text(
            "Early 0 · Developing 2 · Maturing 2 · Mature 1"
        )
        expect(family_row.locator("td.num")).to_have_text("5 of 5")
        expect(presenter.locator("#strand-status")).to_have_text("Voting is open · 5 voted")
        # Results are hidden while voting is open, unless the facilitator shows them.
        expect(presenter.locator("#strand-results .bar-row")).to_have_count(0)
        for page in phones:
            expect(page.locator(f"#results-{FAMILY}")).to_be_hidden()

        # 5. Results shown while voting is open, then close, then reveal the desk rating.
        console.get_by_role("button", name="Show results").click()
        expect(console.locator("#results-toggle")).to_have_text("Hide results")
        expect(console.locator("#results-toggle")).to_have_attribute("aria-pressed", "true")
        expect(presenter.locator("#strand-results .bar-label")).to_have_text(LEVELS)
        expect(presenter.locator("#strand-results .bar-value")).to_have_text(
            ["0 (0%)", "2 (40%)", "2 (40%)", "1 (20%)"]
        )
        for page in phones:
            expect(page.locator(f"#results-{FAMILY} .results-title")).to_have_text(
                "How the room voted"
            )
            expect(page.locator(f"#results-{FAMILY} .bar-value")).to_have_text(
                ["0 (0%)", "2 (40%)", "2 (40%)", "1 (20%)"]
            )

        # Revealing while voting is open is refused, so the rating cannot anchor the votes.
        console.locator(f"#reveal-{FAMILY}").click()
        expect(console.locator("#console-message")).to_have_text(
            f"Close voting on {FAMILY_NAME} before revealing the desk rating, so that it "
            "cannot anchor the room's votes."
        )
        expect(console.locator("#console-message")).to_have_class(re.compile(r"\bis-error\b"))

        console.locator(f"#close-{FAMILY}").click()
        expect(console.locator("#console-message")).to_have_text(f"Voting closed on {FAMILY_NAME}.")
        expect(presenter.locator("#strand-status")).to_have_text("Voting is closed · 5 voted")
        for page in phones:
            expect(page.locator(f"#state-{FAMILY}")).to_have_text(
                "Voting on this strand is closed."
            )
            expect(page.locator(f"#opt-{FAMILY}-1")).to_be_disabled()
        # Every screen has the closed state now, and none of them shows the desk rating.
        for page in (presenter, *phones):
            expect_no_desk_rating(page)

        console.locator(f"#reveal-{FAMILY}").click()
        expect(console.locator("#console-message")).to_have_text(
            f"Desk rating for {FAMILY_NAME} revealed."
        )
        expect(family_row.locator("td").nth(3)).to_have_text("Developing (revealed)")
        expect(console.locator(f"#reveal-{FAMILY}")).to_have_text("Hide desk rating")
        expect(presenter.locator("#strand-desk")).to_be_visible()
        expect(presenter.locator("#strand-desk")).to_have_text(
            "Programme team's desk rating: Developing"
        )
        expect(presenter.locator("#strand-results .is-desk .bar-label")).to_have_text("Developing")
        # The row with the desk tag has as long a track as the others, so bars compare.
        assert len(track_widths(presenter, "#strand-results")) == 1
        assert len(track_widths(console, f"#strand-rows tr:has(#reveal-{FAMILY})")) == 1
        for page in phones:
            expect(page.locator(f"#desk-{FAMILY}")).to_be_visible()
            expect(page.locator(f"#desk-{FAMILY}")).to_have_text(
                "The programme team's desk rating: Developing"
            )

        # 6. A reload rejoins as the same participant: same token, vote still there.
        token_key = f"voting:token:{code}"
        token = third.evaluate("key => localStorage.getItem(key)", token_key)
        assert token
        third.reload()
        expect(third.locator("#connection")).to_have_text("Connected")
        expect(third.locator(f"#opt-{FAMILY}-2")).to_be_checked()
        expect(third.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Developing.")
        expect(third.locator("#profile")).to_be_hidden()
        expect(third.locator(f"#desk-{FAMILY}")).to_have_text(
            "The programme team's desk rating: Developing"
        )
        assert third.evaluate("key => localStorage.getItem(key)", token_key) == token

        # 7. Screenshots for a human to look at (the README's, in docs/screenshots/).
        first.evaluate("() => window.scrollTo(0, 0)")
        screenshot(first, "phone.png")
        screenshot(console, "console.png")
        screenshot(presenter, "presenter.png")

        # Next strand: everyone moves on, and still five joined (the reload was no newcomer).
        console.get_by_role("button", name="Next strand").click()
        expect(console.locator("#console-message")).to_have_text("Now showing Leadership.")
        expect(presenter.locator("#strand-title")).to_have_text("2. Leadership")
        expect(presenter.locator("#strand-status")).to_have_text("Voting opens soon · 0 voted")
        expect_no_desk_rating(presenter)
        expect(presenter.locator("#joined")).to_have_text("5")
        expect(console.locator("#joined")).to_have_text("5")
        for page in phones:
            expect(page.locator("#title-leadership")).to_have_text("2. Leadership")
            expect(page.locator(f"#card-{FAMILY}")).to_have_count(0)

        # The download holds the five votes (the queued one once), profiles with their votes.
        download = facilitator.request.get(f"{base}/facilitator/sessions/{sid}/votes.csv")
        assert download.ok
        label, body = download.text().split("\r\n", 1)
        assert label.startswith('"Raw data, programme team only')
        votes = list(csv.DictReader(io.StringIO(body)))
        assert sorted(v["level"] for v in votes) == [
            "Developing",
            "Developing",
            "Mature",
            "Maturing",
            "Maturing",
        ]
        assert sorted(
            (v["role"], v["sector"], v["participant_locality"], v["level"]) for v in votes
        ) == sorted(
            [
                ("strategic", "Police", "North Herts", "Developing"),
                ("operational", "Health", "", "Mature"),
                ("", "", "", "Developing"),
                ("", "", "", "Maturing"),
                ("", "", "", "Maturing"),
            ]
        )

        assert errors.errors == []


def test_joining_by_code_and_ending_the_session(
    new_context: ContextFactory, server: RunningServer
) -> None:
    base = server.url
    errors = PageErrors()
    pages: dict[str, Page] = {}
    facilitator = errors.watch(new_context(**DESKTOP), "facilitator")
    console = pages["console"] = facilitator.new_page()

    with diagnostics(server, pages):
        log_in(console, base)
        create_assessment(console, base)
        create_session(console, base, "District group", ["leadership"])
        code = console.locator(".join-line .code").inner_text()

        phone = pages["phone"] = errors.watch(new_context(**PHONE), "phone").new_page()
        phone.goto(f"{base}/")
        errors.allow(r"status of 404 .*/join\?code=00000\]$")
        # "0" is never in a join code, so this one cannot exist.
        phone.get_by_label("Session code").fill("00000")
        phone.get_by_role("button", name="Join").tap()
        expect(phone.locator(".error-summary")).to_contain_text(
            "There is no session with that code"
        )
        # Typed in lower case with a space: still found, and redirected to the canonical URL.
        phone.get_by_label("Session code").fill(f"{code[:3].lower()} {code[3:].lower()}")
        phone.get_by_role("button", name="Join").tap()
        expect(phone).to_have_url(f"{base}/s/{code}")
        expect(phone.locator("#connection")).to_have_text("Connected")
        phone.get_by_role("button", name="Skip").tap()
        expect(phone.locator("#title-leadership")).to_have_text("2. Leadership")

        # Ending asks first; "Cancel" leaves the session as it was.
        asked: list[str] = []

        def answer(accept: bool) -> Callable[[Any], None]:
            def handle(dialog: Any) -> None:
                asked.append(dialog.message)
                dialog.accept() if accept else dialog.dismiss()

            return handle

        console.once("dialog", answer(False))
        console.get_by_role("button", name="End session").click()
        console.once("dialog", answer(True))
        console.get_by_role("button", name="End session").click()
        expect(console.locator("#status")).to_have_text("Ended")
        expect(console.locator("#console-message")).to_have_text(
            "Session ended. Votes are kept; export them from the assessment page."
        )
        # Only what still makes sense after the end: the results and the downloads, as links.
        expect(console.get_by_role("button", name="End session")).to_be_hidden()
        expect(console.get_by_role("link", name="Results of this session")).to_be_visible()
        assert asked == ["End this session? Phones can no longer vote. Votes are kept."] * 2

        expect(phone.locator("#notice")).to_have_text(
            "This session has ended. Thank you for taking part."
        )
        expect(phone.locator("#opt-leadership-1")).to_be_disabled()
        # A participant already in the session may come back; a newcomer is turned away.
        phone.reload()
        expect(phone.locator("#connection")).to_have_text("Connected")
        expect(phone.locator("#notice")).to_have_text(
            "This session has ended. Thank you for taking part."
        )
        # The refused phone's socket.io client polls once more after the refusal; the server
        # answers 400 to the closed engine.io session.
        errors.allow(r"status of 400 .*/socket\.io/\?EIO=4&transport=polling")
        late = pages["late"] = errors.watch(new_context(**PHONE), "late").new_page()
        late.goto(f"{base}/s/{code}")
        expect(late.locator("#notice")).to_have_text(
            "This session has ended. Thank you for taking part."
        )
        expect(late.locator("#connection")).to_have_text("Not connected")

        assert errors.errors == []
