"""The room as forty partners and a projector live it, measured in Debian's Chromium: a join
screen readable from the back of a hall, results hidden while people vote, phones that always
show the next thing to do, a console that keeps the keyboard's place, and pages that reflow.

Each check is on what is in the viewport (rendered boxes), or on what the server sent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser_stages import (
    FAMILY,
    LEVELS,
    Session,
    SocketMessages,
    Workshop,
    module_browser,
    module_workshop,
)
from tests.browser_support import ARTIFACTS, PHONE, TIMEOUT_MS, PageErrors

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with an install hint
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.server]

FAMILY_NAME = "The family experience of transformed services"
PROJECTOR = {"viewport": {"width": 1920, "height": 1080}}
LAPTOP = {"viewport": {"width": 1366, "height": 768}}
PHONES = {
    "375x667": (375, 667),
    "360x740": (360, 740),
    "320x568": (320, 568),
}

browser = module_browser()
workshop = module_workshop("room", VOTING_TALLY_INTERVAL="0")


class Room:
    """Browser contexts for one test, closed after it, their page errors collected."""

    def __init__(self, browser: Browser, workshop: Workshop) -> None:
        self.browser = browser
        self.workshop = workshop
        self.errors = PageErrors()
        self._contexts: list[BrowserContext] = []

    def context(self, name: str, **options: Any) -> BrowserContext:
        context = self.browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        self._contexts.append(context)
        return self.errors.watch(context, name)

    def close(self) -> None:
        for context in self._contexts:
            context.close()

    def presenter(self, session: Session) -> Page:
        return self.presenter_heard(session)[0]

    def presenter_heard(self, session: Session) -> tuple[Page, SocketMessages]:
        """The presenter, and what it hears from its first message on (listened to before the
        page loads, so that no frame is missed)."""
        page = self.workshop.log_in(self.context("presenter", **PROJECTOR)).new_page()
        heard = SocketMessages(page)
        page.goto(f"{self.workshop.url}/facilitator/sessions/{session.id}/present")
        return page, heard

    def console(self, session: Session) -> Page:
        page = self.workshop.log_in(self.context("console", **LAPTOP)).new_page()
        page.goto(f"{self.workshop.url}/facilitator/sessions/{session.id}")
        expect(page.locator("#connection")).to_have_text("Connected")
        expect(page.locator("#strand-rows tr").first).to_be_visible()
        return page

    def phone(self, session: Session, width: int = 375, height: int = 667) -> Page:
        return self.phone_heard(session, width, height)[0]

    def phone_heard(
        self, session: Session, width: int = 375, height: int = 667
    ) -> tuple[Page, SocketMessages]:
        options = {**PHONE, "viewport": {"width": width, "height": height}}
        page = self.context(f"phone {width}x{height}", **options).new_page()
        heard = SocketMessages(page)
        page.goto(f"{self.workshop.url}/s/{session.code}")
        expect(page.locator("#connection")).to_have_text("Connected")
        return page, heard


@pytest.fixture
def room(browser: Browser, workshop: Workshop) -> Iterator[Room]:
    made = Room(browser, workshop)
    yield made
    made.close()


def box(locator: Locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not rendered"
    return found


def in_viewport(page: Page, locator: Locator) -> bool:
    """The element's whole box is inside the visible area of the page."""
    return bool(
        locator.evaluate(
            """e => { const r = e.getBoundingClientRect();
                return r.height > 0 && r.top >= 0 && r.left >= 0 &&
                       r.bottom <= window.innerHeight && r.right <= window.innerWidth; }"""
        )
    )


def focused_id(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.id"))


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


# ------------------------------------------------------------------ the projector


def test_the_projector_opens_with_a_join_screen_readable_from_the_back(
    room: Room, workshop: Workshop
) -> None:
    session = workshop.new_session("Join screen workshop")
    page = room.presenter(session)
    join = page.locator("#join-screen")
    expect(join).to_be_visible()
    expect(page.locator("#strand-screen")).to_be_hidden()
    height = page.viewport_size["height"]  # type: ignore[index]

    # Measured from the rendered boxes, on a 1920x1080 projector.
    qr = box(page.locator(".join-screen-qr"))
    code = box(page.locator("#join-screen-code"))
    address = box(page.locator("#join-screen-url"))
    assert qr["height"] >= 0.5 * height, qr
    assert code["height"] >= 0.06 * height, code
    assert address["height"] >= 0.06 * height, address
    for part in ("#join-screen-code", "#join-screen-url", ".join-screen-qr", "#join-screen-count"):
        assert in_viewport(page, page.locator(part)), part
    expect(page.locator("#join-screen-code")).to_have_text(session.code)
    expect(page.locator("#join-screen-url")).to_have_text(f"{workshop.url}/s/{session.code}")
    page.wait_for_function(
        "() => { const img = document.querySelector('.join-screen-qr');"
        " return img.complete && img.naturalWidth > 0; }"
    )
    shot(page, "join-screen.png")

    # The joined count is large and live.
    expect(page.locator("#join-screen-count")).to_have_text("0")
    room.phone(session)
    expect(page.locator("#join-screen-count")).to_have_text("1")
    count = page.locator(".join-screen-joined")
    assert box(count)["height"] >= 0.06 * height

    # Started, with a strand on screen: the strand, and a join strip still readable.
    workshop.run_to(session, "start", "open")
    expect(join).to_be_hidden()
    expect(page.locator("#strand-title")).to_have_text(f"1. {FAMILY_NAME}")
    strip = page.locator("#join-strip")
    expect(strip).to_be_visible()
    assert in_viewport(page, strip.locator(".join-code"))
    assert in_viewport(page, strip.locator(".join-url"))
    expect(strip.locator(".join-code strong")).to_have_text(session.code)
    assert box(strip.locator(".join-code"))["height"] >= 0.04 * height

    # On demand from the console, at any time; opening voting takes it away again.
    workshop.control(session, "join", show=True)
    expect(join).to_be_visible()
    expect(page.locator("#strand-screen")).to_be_hidden()
    workshop.control(session, "join", show=False)
    expect(join).to_be_hidden()
    expect(page.locator("#strand-title")).to_have_text(f"1. {FAMILY_NAME}")

    # After the end: thanks, and no QR code or join code anywhere on screen.
    workshop.run_to(session, "end")
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: this session has ended")
    expect(page.locator("img:visible")).to_have_count(0)
    assert session.code not in page.evaluate("() => document.body.innerText")
    assert room.errors.errors == []


def test_the_presenter_and_the_phone_have_distinct_titles(room: Room, workshop: Workshop) -> None:
    session = workshop.new_session("Titled workshop")
    presenter = room.presenter(session)
    phone = room.phone(session)
    assert presenter.title() != phone.title()
    assert "projector" in presenter.title().lower()
    assert phone.title().startswith("Titled workshop")


# ------------------------------------------------------------------ results hidden while voting


def test_results_stay_hidden_while_a_strand_is_open(room: Room, workshop: Workshop) -> None:
    session = workshop.new_session("Anchoring workshop")
    presenter, presenter_heard = room.presenter_heard(session)
    phone, phone_heard = room.phone_heard(session)
    console = room.console(session)
    workshop.run_to(session, "start", "open")
    expect(phone.locator(f"#opt-{FAMILY}-1")).to_be_enabled()
    phone.locator(f'label[for="opt-{FAMILY}-2"]').tap()
    expect(phone.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Developing.")
    workshop.votes(session, FAMILY, [2, 3])
    expect(presenter.locator("#strand-status")).to_have_text("Voting is open · 3 voted")
    # The console sees the distribution and says the room does not.
    expect(console.locator(f"#dist-{FAMILY}")).to_have_text(
        "Early 0 · Developing 2 · Maturing 1 · Mature 0"
    )
    expect(console.locator("#panel-state")).to_contain_text("results hidden from the room")
    # Nothing drawn, and nothing sent: no counts of the open strand reached either screen.
    expect(presenter.locator("#strand-results .bar-row")).to_have_count(0)
    expect(phone.locator(f"#results-{FAMILY}")).to_be_hidden()
    assert any(name == "tally" for name, _ in presenter_heard.events())
    assert FAMILY not in presenter_heard.counts()
    assert FAMILY not in phone_heard.counts()

    # Closing voting shows the distribution everywhere.
    workshop.run_to(session, "close")
    expect(presenter.locator("#strand-results .bar-value")).to_have_text(
        ["0 (0%)", "2 (67%)", "1 (33%)", "0 (0%)"]
    )
    expect(phone.locator(f"#results-{FAMILY} .bar-value")).to_have_text(
        ["0 (0%)", "2 (67%)", "1 (33%)", "0 (0%)"]
    )
    expect(console.locator("#panel-state")).to_contain_text("results shown to the room")

    # The next strand hides them again, until the facilitator shows them.
    workshop.control(session, "next")
    workshop.control(session, "open", strand="leadership")
    workshop.votes(session, "leadership", [4])
    expect(presenter.locator("#strand-status")).to_have_text("Voting is open · 1 voted")
    expect(presenter.locator("#strand-results .bar-row")).to_have_count(0)
    expect(phone.locator("#results-leadership")).to_be_hidden()
    assert "leadership" not in presenter_heard.counts()
    assert "leadership" not in phone_heard.counts()
    console.locator("#results-toggle").click()
    expect(console.locator("#console-message")).to_have_text(
        "Results of Leadership shown on the projector and phones."
    )
    expect(presenter.locator("#strand-results .bar-value")).to_have_text(
        ["0 (0%)", "0 (0%)", "0 (0%)", "1 (100%)"]
    )
    expect(phone.locator("#results-leadership .bar-value")).to_have_text(
        ["0 (0%)", "0 (0%)", "0 (0%)", "1 (100%)"]
    )
    assert room.errors.errors == []


def test_live_bars_while_voting_is_a_session_setting_that_explains_itself(
    room: Room, workshop: Workshop
) -> None:
    page = workshop.log_in(room.context("facilitator", **LAPTOP)).new_page()
    page.goto(f"{workshop.url}/facilitator/assessments/{workshop.assessment()}/sessions/new")
    setting = page.get_by_label("Live bars while voting")
    expect(setting).not_to_be_checked()
    expect(setting).to_have_accessible_description(re.compile(r"anchoring"))

    session = workshop.new_session("Live bars workshop", live_results=True)
    presenter = room.presenter(session)
    workshop.run_to(session, "start", "open", "votes")
    expect(presenter.locator("#strand-results .bar-value")).to_have_text(
        ["0 (0%)", "2 (67%)", "1 (33%)", "0 (0%)"]
    )
    assert room.errors.errors == []


# ------------------------------------------------------------------ phones


def test_a_phone_follows_the_session_to_the_next_thing_to_do(
    room: Room, workshop: Workshop
) -> None:
    session = workshop.new_session("Following workshop")
    page = room.phone(session, 320, 568)
    announce = page.locator("#announce")
    workshop.run_to(session, "start", "open")

    # Voting opens: the first level is in view without scrolling on a 320x568 screen.
    expect(page.locator(f"#opt-{FAMILY}-1")).to_be_enabled()
    title = page.locator(f"#title-{FAMILY}")
    expect(title).to_be_focused()
    first = box(page.locator(f"#card-{FAMILY} .level-option-1"))
    assert first["y"] < 568 and first["y"] + first["height"] <= 568, first
    shot(page, "phone-320-open.png")

    # Scrolled down to the last level and voted: the confirmation is on screen.
    page.locator(f'label[for="opt-{FAMILY}-4"]').tap()
    bar = page.locator("#vote-bar")
    expect(bar).to_have_text(re.compile(r"Saved: Mature\s*Change your vote"))
    assert in_viewport(page, bar)
    page.locator(f"#comment-{FAMILY}").fill("Keyworkers named in most plans.")
    page.locator(f"#save-comment-{FAMILY}").tap()
    said = page.locator(f"#comment-status-{FAMILY}")
    expect(said).to_have_text("Comment saved")
    assert in_viewport(page, said)
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    assert page.evaluate("() => window.scrollY") > 0

    # Next strand: back to the top, the new heading focused and in view, and announced.
    workshop.control(session, "next")
    heading = page.locator("#title-leadership")
    expect(heading).to_be_focused()
    assert in_viewport(page, heading)
    expect(announce).to_have_text("Now showing 2. Leadership.")
    expect(page.locator("#vote-bar")).to_be_hidden()

    # Voting opens there after the phone was scrolled down: brought back again.
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    workshop.control(session, "open", strand="leadership")
    expect(heading).to_be_focused()
    assert in_viewport(page, heading)
    assert in_viewport(page, page.locator("#card-leadership .level-option-1"))

    # Voting closes, results appear: the heading again, with the results right below it.
    page.locator('label[for="opt-leadership-3"]').tap()
    expect(page.locator("#vote-bar")).to_contain_text("Saved: Maturing")
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    workshop.control(session, "close", strand="leadership")
    expect(heading).to_be_focused()
    assert in_viewport(page, heading)
    expect(announce).to_have_text("Voting on Leadership is closed. The room's results are shown.")
    expect(page.locator("#results-leadership .results-title")).to_have_text("How the room voted")
    assert box(page.locator("#results-leadership"))["y"] < 568

    # The end: the notice's heading, focused and in view.
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    workshop.run_to(session, "end")
    ended = page.locator("#notice-title")
    expect(ended).to_have_text("This session has ended. Thank you for taking part.")
    expect(ended).to_be_focused()
    assert in_viewport(page, ended)
    assert room.errors.errors == []


@pytest.mark.parametrize("size", list(PHONES))
def test_the_saved_confirmation_is_in_view_after_every_tap(
    room: Room, workshop: Workshop, size: str
) -> None:
    session = workshop.new_session(f"Tapping on {size}")
    workshop.run_to(session, "start", "open")
    width, height = PHONES[size]
    page = room.phone(session, width, height)
    expect(page.locator(f"#opt-{FAMILY}-1")).to_be_enabled()
    bar = page.locator("#vote-bar")
    for level in (1, 4, 2, 3):
        page.locator(f'label[for="opt-{FAMILY}-{level}"]').tap()
        expect(bar).to_contain_text(f"Saved: {LEVELS[level - 1]}")
        assert in_viewport(page, bar), (size, level)
        # The bar never hides the level just tapped.
        tapped = box(page.locator(f"#card-{FAMILY} .level-option-{level}"))
        assert tapped["y"] < box(bar)["y"], (size, level)
    if size == "320x568":
        shot(page, "phone-320-saved.png")

    # Offline, a tap waits to be sent, and looks different from a saved vote.
    saved_style = bar.evaluate("b => getComputedStyle(b).borderTopStyle")
    page.context.set_offline(True)
    room.errors.allow(r"net::ERR_INTERNET_DISCONNECTED")
    expect(page.locator("#connection")).to_contain_text("Offline")
    page.locator(f'label[for="opt-{FAMILY}-1"]').tap()
    expect(bar).to_contain_text("Waiting to send: Early (you are offline)")
    expect(bar).to_have_class(re.compile(r"\bvote-bar-waiting\b"))
    assert in_viewport(page, bar)
    assert bar.evaluate("b => getComputedStyle(b).borderTopStyle") != saved_style
    page.context.set_offline(False)
    expect(bar).to_contain_text("Saved: Early")
    assert room.errors.errors == []


def test_change_your_vote_goes_back_to_the_levels(room: Room, workshop: Workshop) -> None:
    session = workshop.new_session("Changing workshop")
    workshop.run_to(session, "start", "open")
    page = room.phone(session, 320, 568)
    page.locator(f'label[for="opt-{FAMILY}-3"]').tap()
    expect(page.locator("#vote-bar")).to_contain_text("Saved: Maturing")
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    page.get_by_role("button", name="Change your vote").tap()
    expect(page.locator(f"#opt-{FAMILY}-3")).to_be_focused()
    assert in_viewport(page, page.locator(f'label[for="opt-{FAMILY}-3"]'))


@pytest.mark.parametrize("width", [256, 180])
@pytest.mark.parametrize("where", ["join", "profile", "voting", "results"])
def test_phone_pages_reflow_at_256_css_pixels(
    room: Room, workshop: Workshop, where: str, width: int
) -> None:
    """WCAG 1.4.10 at 200% zoom on a 512 px-wide phone (and on a 360 px one, 180 CSS px): no
    sideways scrolling, and bars that keep a length."""
    narrow = {**PHONE, "viewport": {"width": width, "height": 2 * width}}
    page = room.context("narrow", **narrow).new_page()
    if where == "join":
        page.goto(f"{workshop.url}/")
    else:
        session = workshop.new_session(f"Narrow {where} {width}", profile=where == "profile")
        steps = {"voting": ("start", "open"), "profile": ("start", "open")}.get(
            where, ("start", "open", "votes", "close", "reveal")
        )
        workshop.run_to(session, *steps)
        page.goto(f"{workshop.url}/s/{session.code}")
        if where == "profile":
            expect(page.get_by_role("heading", name="About you (optional)")).to_be_visible()
        else:
            expect(page.locator(f"#title-{FAMILY}")).to_be_visible()
            page.locator(f"#more-{FAMILY}-4").click()
            page.locator(f"#purpose-{FAMILY}").click()
        if where == "voting":
            page.locator(f'label[for="opt-{FAMILY}-2"]').tap()
            expect(page.locator("#vote-bar")).to_contain_text("Saved: Developing")
        if where == "results":
            expect(page.locator(f"#desk-{FAMILY}")).to_be_visible()
            tracks = page.locator(f"#results-{FAMILY} .bar-track").evaluate_all(
                "ts => ts.map(t => t.getBoundingClientRect().width)"
            )
            assert min(tracks) >= 100, tracks
            # The desk tag sits on its level's line, not on a row of its own.
            row = page.locator(f"#results-{FAMILY} .is-desk")
            tag, label = box(row.locator(".desk-tag")), box(row.locator(".bar-label"))
            assert abs(tag["y"] - label["y"]) < label["height"], (tag, label)
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{where}: page is {width[0]}px wide in a {width[1]}px window"


def test_back_after_a_mistyped_code_does_not_land_on_the_old_error(
    room: Room, workshop: Workshop
) -> None:
    session = workshop.new_session("Back button workshop")
    page = room.context("visitor", **PHONE).new_page()
    room.errors.allow(r"status of 404")
    page.goto(f"{workshop.url}/")
    page.get_by_label("Session code").fill("00000")
    page.get_by_role("button", name="Join").tap()
    expect(page.locator(".error-summary")).to_be_visible()
    page.get_by_label("Session code").fill(session.code)
    page.get_by_role("button", name="Join").tap()
    expect(page).to_have_url(f"{workshop.url}/s/{session.code}")
    page.go_back()
    expect(page).to_have_url(f"{workshop.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Join a session")
    expect(page.locator(".error-summary")).to_have_count(0)


# ------------------------------------------------------------------ the console


def test_the_console_keeps_the_strand_on_screen_in_one_panel_and_the_keyboard_in_place(
    room: Room, workshop: Workshop
) -> None:
    session = workshop.new_session("Console workshop")
    page = room.console(session)
    panel = page.locator("#strand-panel")

    def above_the_fold() -> None:
        found = box(panel)
        assert found["y"] >= 0 and found["y"] + found["height"] <= 768, found

    above_the_fold()
    # The legend of shortcuts is folded away until asked for.
    expect(page.locator("#shortcut-list")).to_be_hidden()
    page.locator("#shortcuts summary").click()
    expect(page.locator("#shortcut-list")).to_be_visible()
    page.locator("#shortcuts summary").click()

    page.get_by_role("button", name="Start session").click()
    expect(page.locator("#status")).to_have_text("Running")
    voting = page.locator("#panel-voting")
    expect(voting).to_have_text("Open voting")
    for name in ("Previous strand", "Open voting", "Next strand", "Show join screen"):
        expect(panel.get_by_role("button", name=name)).to_be_visible()
    above_the_fold()

    # Enter on Open voting: the focus stays on the strand's control, now Close voting.
    voting.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#console-message")).to_have_text(f"Voting open on {FAMILY_NAME}.")
    expect(voting).to_have_text("Close voting")
    expect(voting).to_be_focused()
    assert focused_id(page) == "panel-voting"
    expect(panel.get_by_role("button", name="Show results")).to_be_visible()
    above_the_fold()

    # A vote arriving changes the figures in place: the cells a screen reader may be reading
    # are the same elements, and the focus has not moved.
    cell = page.locator(f"#voted-{FAMILY}").element_handle()
    assert cell is not None
    workshop.votes(session, FAMILY, [2])
    expect(page.locator(f"#voted-{FAMILY}")).to_have_text("1 of 1")
    assert cell.evaluate("c => c.isConnected")
    expect(voting).to_be_focused()

    # Enter on Close voting: the focus stays, on Reopen voting; the desk rating can be revealed.
    page.keyboard.press("Enter")
    expect(page.locator("#console-message")).to_have_text(f"Voting closed on {FAMILY_NAME}.")
    expect(voting).to_have_text("Reopen voting")
    assert focused_id(page) == "panel-voting"
    expect(panel.get_by_role("button", name="Reveal desk rating")).to_be_visible()
    shot(page, "console-1366.png")

    # In the table, Show on screen gives way to the row's voting button, which takes the focus;
    # a row's Open voting is replaced by its Close voting, which takes it too.
    page.locator("#goto-leadership").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#console-message")).to_have_text("Now showing Leadership.")
    expect(page.locator("#open-leadership")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#console-message")).to_have_text("Voting open on Leadership.")
    expect(page.locator("#close-leadership")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#console-message")).to_have_text("Voting closed on Leadership.")
    expect(page.locator("#open-leadership")).to_be_focused()
    # A closed strand's Reopen voting is not the green call to action beside Open voting.
    reopen_class = page.locator(f"#open-{FAMILY}").get_attribute("class") or ""
    assert "govuk-button--secondary" in reopen_class

    # After the end, only what still makes sense: results and downloads, as links.
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="End session").click()
    expect(page.locator("#status")).to_have_text("Ended")
    expect(panel).to_be_hidden()
    ended = page.locator("#ended-panel")
    expect(ended.get_by_role("link", name="Results of this session")).to_be_visible()
    expect(ended.get_by_role("link", name="Download this session's votes (CSV)")).to_be_visible()
    expect(page.locator("main button:visible")).to_have_count(0)
    expect(page.locator("#ended-title")).to_be_focused()
    assert room.errors.errors == []
