"""WCAG 2.2 AA, checked by axe-core in Chromium on every page type in each state it can be in,
and a participant who joins and votes with the keyboard alone.

Councils must meet WCAG 2.2 AA (the public sector accessibility regulations). axe finds about
half of the failures a person would; the keyboard test and the reviews of the pages do the rest.

To check a new page, add a function to PAGES with `@page_case("name")`: it gets a `Stage`, puts
the page into the state to check (the `Workshop` on `stage.workshop` makes assessments and
sessions and runs console actions without a browser), waits until the page shows that state,
and returns the page; or, to check one page through several states, yields `(state, page)` after
each. The test runs axe on every page it is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser_stages import (
    FAMILY,
    LEVELS,
    Session,
    Workshop,
    module_browser,
    public_server,
)
from tests.browser_support import ARTIFACTS, DESKTOP, PHONE, TIMEOUT_MS, PageErrors
from tests.colour_vision import contrast, parse
from tests.servers import RunningServer, running_server
from voting.colours import level_colours

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with an install hint
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.server]

AXE_SCRIPT = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAMILY_NAME = "The family experience of transformed services"


# ------------------------------------------------------------------ fixtures


browser = module_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with public_server(tmp_path_factory, "a11y", VOTING_TALLY_INTERVAL="0") as running:
        yield running


@pytest.fixture(scope="module")
def workshop(server: RunningServer) -> Iterator[Workshop]:
    made = Workshop(server)
    yield made
    made.close()


class Stage:
    """What a page case gets: the module's workshop, and browser contexts closed after it."""

    def __init__(
        self, workshop: Workshop, browser: Browser, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        self.workshop = workshop
        self.url = workshop.url
        self.browser = browser
        self.errors = PageErrors()
        self._tmp = tmp_path_factory
        self._cleanup = ExitStack()

    def close(self) -> None:
        self._cleanup.close()

    def context(self, name: str, **options: Any) -> BrowserContext:
        context = self.browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        self._cleanup.callback(context.close)
        return self.errors.watch(context, name)

    def visitor(self, path: str, **options: Any) -> Page:
        """A page opened by someone not logged in (a desktop unless options say otherwise)."""
        page = self.context("visitor", **(options or DESKTOP)).new_page()
        page.goto(f"{self.url}{path}")
        return page

    def facilitator(self, path: str, workshop: Workshop | None = None) -> Page:
        workshop = workshop or self.workshop
        page = workshop.log_in(self.context("facilitator", **DESKTOP)).new_page()
        page.goto(f"{workshop.url}{path}")
        return page

    def console(self, session: Session) -> Page:
        page = self.facilitator(f"/facilitator/sessions/{session.id}")
        expect(page.locator("#connection")).to_have_text("Connected")
        expect(page.locator("#strand-rows tr").first).to_be_visible()
        return page

    def presenter(self, session: Session) -> Page:
        return self.facilitator(f"/facilitator/sessions/{session.id}/present")

    def phone(self, session: Session) -> Page:
        page = self.context("phone", **PHONE).new_page()
        page.goto(f"{self.url}/s/{session.code}")
        expect(page.locator("#connection")).to_have_text("Connected")
        return page

    def fresh_workshop(self) -> Workshop:
        """A workshop on a server of its own with an empty database (closed after the case)."""
        tmp = self._tmp.mktemp("fresh")
        server = self._cleanup.enter_context(
            running_server(f"sqlite:///{tmp / 'voting.sqlite3'}", tmp)
        )
        made = Workshop(server)
        self._cleanup.callback(made.close)
        return made


@pytest.fixture
def stage(
    workshop: Workshop, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stage]:
    made = Stage(workshop, browser, tmp_path_factory)
    yield made
    made.close()


# ------------------------------------------------------------------ the pages, in each state

# A case returns the page in the state to check, or yields (state, page) for several states.
PageCase = Callable[[Stage], "Page | Iterator[tuple[str, Page]]"]
PAGES: dict[str, PageCase] = {}


def page_case(name: str) -> Callable[[PageCase], PageCase]:
    def register(case: PageCase) -> PageCase:
        assert name not in PAGES, f"two page cases named {name!r}"
        PAGES[name] = case
        return case

    return register


def h1(page: Page, text: str) -> Page:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)
    return page


def error_summary(page: Page) -> Page:
    expect(page.locator(".error-summary")).to_be_visible()
    return page


# Participants' start page and the facilitator's log in.


@page_case("join")
def _join(stage: Stage) -> Page:
    return h1(stage.visitor("/", **PHONE), "Join a session")


@page_case("join, unknown code")
def _join_error(stage: Stage) -> Page:
    stage.errors.allow(r"status of 404")
    return error_summary(stage.visitor("/join?code=00000", **PHONE))


@page_case("join, empty code")
def _join_empty(stage: Stage) -> Page:
    stage.errors.allow(r"status of 400")
    page = stage.visitor("/", **PHONE)
    page.get_by_role("button", name="Join").click()
    return error_summary(page)


@page_case("not found")
def _not_found(stage: Stage) -> Page:
    stage.errors.allow(r"status of 404")
    return h1(stage.facilitator("/facilitator/sessions/999999"), "Not Found")


@page_case("log in")
def _login(stage: Stage) -> Page:
    return h1(stage.visitor("/login"), "Facilitator log in")


@page_case("log in, wrong passphrase")
def _login_wrong(stage: Stage) -> Page:
    stage.errors.allow(r"status of 40\d")
    page = stage.visitor("/login")
    page.get_by_label("Passphrase", exact=True).fill("not the passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.get_by_label("Passphrase", exact=True)).to_have_accessible_description(
        re.compile(r"Error: That account name or passphrase is not right")
    )
    return error_summary(page)


# The facilitator's pages.


@page_case("dashboard, empty")
def _dashboard_empty(stage: Stage) -> Page:
    page = stage.facilitator("/facilitator/", workshop=stage.fresh_workshop())
    expect(page.get_by_text("No assessments yet")).to_be_visible()
    return page


@page_case("dashboard")
def _dashboard(stage: Stage) -> Page:
    stage.workshop.assessment()
    page = stage.facilitator("/facilitator/")
    expect(page.locator("tbody tr").first).to_be_visible()
    return page


@page_case("new assessment")
def _new_assessment(stage: Stage) -> Page:
    return h1(stage.facilitator("/facilitator/assessments/new"), "New assessment")


@page_case("new assessment, errors")
def _new_assessment_errors(stage: Stage) -> Page:
    stage.errors.allow(r"status of 400")
    page = stage.facilitator("/facilitator/assessments/new")
    page.get_by_role("button", name="Create assessment").click()
    return error_summary(page)


@page_case("assessment")
def _assessment(stage: Stage) -> Page:
    stage.workshop.new_session("Assessment page session")
    page = stage.facilitator(f"/facilitator/assessments/{stage.workshop.assessment()}")
    expect(page.get_by_role("link", name="Assessment page session", exact=True)).to_be_visible()
    return page


@page_case("desk assessment")
def _desk(stage: Stage) -> Iterator[tuple[str, Page]]:
    page = stage.facilitator(f"/facilitator/assessments/{stage.workshop.assessment()}/desk")
    yield "", h1(page, "Desk assessment")
    # Each strand's guidance (measures, evidence to look for) unfolded.
    page.locator(".strand-guidance summary").evaluate_all("ss => ss.forEach(s => s.click())")
    expect(page.locator("#look-for-workforce-development li").first).to_be_visible()
    yield "guidance unfolded", page


@page_case("desk assessment, error")
def _desk_error(stage: Stage) -> Page:
    # The form's lists cannot produce a bad rating; a tampered one can.
    stage.errors.allow(r"status of 400")
    page = stage.facilitator(f"/facilitator/assessments/{stage.workshop.assessment()}/desk")
    page.locator("#level-leadership").evaluate(
        "select => { select.options[1].value = 'x'; select.selectedIndex = 1; }"
    )
    page.get_by_role("button", name="Save desk assessment").click()
    return error_summary(page)


@page_case("new session")
def _new_session(stage: Stage) -> Page:
    page = stage.facilitator(f"/facilitator/assessments/{stage.workshop.assessment()}/sessions/new")
    return h1(page, "New session")


@page_case("new session, errors")
def _new_session_errors(stage: Stage) -> Page:
    stage.errors.allow(r"status of 400")
    page = stage.facilitator(f"/facilitator/assessments/{stage.workshop.assessment()}/sessions/new")
    page.get_by_label("Name", exact=True).fill("")
    page.locator("input[name=strands]").evaluate_all(
        "boxes => boxes.forEach(b => b.checked = false)"
    )
    page.locator("#pacing-self_paced").check()
    page.get_by_role("button", name="Create session").click()
    expect(page.locator(".error-summary")).to_be_focused()
    return error_summary(page)


# The live screens. A journey walks one session through its states with the page open and
# yields each state to check, which is quicker than a page load per state.


@page_case("console, a live session")
def _console(stage: Stage) -> Iterator[tuple[str, Page]]:
    workshop = stage.workshop
    session = workshop.new_session()
    page = stage.console(session)
    expect(page.locator("#status")).to_have_text("Not started")
    yield "not started", page
    workshop.run_to(session, "start", "open")
    expect(page.locator("#status")).to_have_text("Running")
    expect(page.locator(f"#close-{FAMILY}")).to_be_visible()
    yield "voting open", page
    workshop.run_to(session, "votes", "results")
    expect(page.locator("#strand-rows td.num").first).to_have_text("3 of 3")
    expect(page.locator("#results-toggle")).to_have_text("Hide results")
    yield "votes and results shown", page
    page.locator("#shortcuts summary").click()
    expect(page.locator("#shortcut-list")).to_be_visible()
    yield "shortcuts unfolded", page
    workshop.run_to(session, "close", "reveal")
    expect(page.locator(f"#reveal-{FAMILY}")).to_have_text("Hide desk rating")
    page.locator(f"#open-{FAMILY}").focus()
    yield "desk revealed", page
    workshop.run_to(session, "end")
    expect(page.locator("#status")).to_have_text("Ended")
    yield "ended", page


@page_case("presenter, a live session")
def _presenter(stage: Stage) -> Iterator[tuple[str, Page]]:
    workshop = stage.workshop
    session = workshop.new_session()
    page = stage.presenter(session)
    expect(page.locator("#join-screen")).to_be_visible()
    yield "join screen before the start", page
    workshop.run_to(session, "start")
    expect(page.locator("#strand-status")).to_have_text("Voting opens soon · 0 voted")
    yield "waiting, with the join strip", page
    workshop.run_to(session, "open", "votes")
    expect(page.locator("#strand-status")).to_have_text("Voting is open · 3 voted")
    yield "voting, results hidden", page
    workshop.control(session, "join", show=True)
    expect(page.locator("#join-screen")).to_be_visible()
    yield "join screen on demand", page
    workshop.control(session, "join", show=False)
    workshop.run_to(session, "results")
    expect(page.locator("#strand-results .bar-row")).to_have_count(len(LEVELS))
    yield "results shown while voting", page
    workshop.run_to(session, "close", "reveal")
    expect(page.locator("#strand-desk")).to_have_text("Programme team's desk rating: Developing")
    yield "results and desk revealed", page
    workshop.run_to(session, "end")
    h1(page, "Thank you: this session has ended")
    yield "ended", page


@page_case("phone, a live session")
def _phone(stage: Stage) -> Iterator[tuple[str, Page]]:
    workshop = stage.workshop
    session = workshop.new_session()
    page = stage.phone(session)
    expect(page.locator(f"#state-{FAMILY}")).to_have_text("Voting on this strand opens soon.")
    yield "waiting", page
    workshop.run_to(session, "start", "open")
    expect(page.locator(f"#opt-{FAMILY}-1")).to_be_enabled()
    page.locator(f"#card-{FAMILY} .level-option-1 summary").click()
    yield "voting open, descriptors expanded", page
    page.get_by_role("button", name="Save comment").click()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text(
        "Choose a level before adding a comment."
    )
    yield "a comment without a level", page
    page.locator(f'label[for="opt-{FAMILY}-2"]').click()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Developing.")
    expect(page.locator("#vote-bar")).to_contain_text("Saved: Developing")
    yield "voted, the saved bar in view", page
    page.locator(f"#comment-{FAMILY}").fill("Keyworkers named in most plans.")
    page.get_by_role("button", name="Save comment").click()
    expect(page.locator(f"#comment-status-{FAMILY}")).to_have_text("Comment saved")
    page.locator(f"#purpose-{FAMILY}").click()
    # The panel holds the strand's guidance too: subtitle, measures, evidence to look for.
    expect(page.locator(f"#look-for-{FAMILY} li").first).to_be_visible()
    yield "comment saved, purpose and guidance unfolded", page
    workshop.run_to(session, "votes", "results")
    expect(page.locator(f"#results-{FAMILY} .bar-value")).to_have_text(
        ["0 (0%)", "3 (75%)", "1 (25%)", "0 (0%)"]
    )
    yield "voted, results shown", page
    workshop.run_to(session, "close")
    expect(page.locator(f"#state-{FAMILY}")).to_have_text("Voting on this strand is closed.")
    # "More about" still opens, so it must keep its contrast; axe skips what is inside a
    # disabled fieldset, so look for anything that fades it.
    faded = page.locator(f"#card-{FAMILY} summary").evaluate_all(
        """summaries => summaries.filter(s => {
            for (let n = s; n; n = n.parentElement)
                if (parseFloat(getComputedStyle(n).opacity) < 1) return true;
            return false;
        }).map(s => s.id)"""
    )
    assert faded == []
    yield "voting closed", page
    workshop.run_to(session, "reveal")
    expect(page.locator(f"#desk-{FAMILY}")).to_have_text(
        "The programme team's desk rating: Developing"
    )
    yield "desk revealed", page
    workshop.run_to(session, "end")
    expect(page.locator("#notice")).to_have_text(
        "This session has ended. Thank you for taking part."
    )
    yield "session ended", page


@page_case("phone, profile questions")
def _phone_profile(stage: Stage) -> Iterator[tuple[str, Page]]:
    page = stage.phone(stage.workshop.new_session(profile=True))
    expect(page.get_by_role("heading", name="About you (optional)")).to_be_visible()
    yield "asked", page
    page.locator("#sector").evaluate(
        "select => { select.options[1].value = 'Not a sector'; select.selectedIndex = 1; }"
    )
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#profile-status")).to_have_text("Choose your sector from the list.")
    yield "refused", page


@page_case("phone, offline with a vote waiting")
def _phone_offline(stage: Stage) -> Page:
    session = stage.workshop.new_session()
    stage.workshop.run_to(session, "start", "open")
    page = stage.phone(session)
    stage.errors.allow(r"net::ERR_INTERNET_DISCONNECTED")  # its attempts to reconnect
    page.context.set_offline(True)
    page.locator(f'label[for="opt-{FAMILY}-3"]').click()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Waiting to send: you are offline.")
    expect(page.locator("#vote-bar")).to_contain_text("Waiting to send: Maturing")
    return page


@page_case("self-paced: console, presenter and phone")
def _self_paced(stage: Stage) -> Iterator[tuple[str, Page]]:
    session = stage.workshop.new_session(pacing="self_paced", closes_at="2099-06-14T16:00")
    stage.workshop.run_to(session, "start", "votes", "results")
    console = stage.console(session)
    expect(console.locator("#strand-rows td.num").first).to_have_text("3 of 3")
    yield "console", console
    presenter = stage.presenter(session)
    expect(presenter.locator(".presenter-row")).to_have_count(3)
    expect(presenter.locator(".presenter-row .bars").first).to_be_visible()
    yield "presenter list", presenter
    phone = stage.phone(session)
    expect(phone.locator(".strand-card")).to_have_count(3)
    expect(phone.locator(f"#results-{FAMILY} .bar-row")).to_have_count(len(LEVELS))
    yield "phone", phone


# The results: what the facilitator takes to the board.


def _results_stage(stage: Stage) -> tuple[Workshop, Session]:
    """A fresh workshop with two forums, votes on two strands and a re-vote round, and last
    year's assessment of the same area, so the pages have the trend over years too."""
    workshop = stage.fresh_workshop()
    workshop.new_assessment(period="2016")
    first = workshop.new_session("Conference workshop")
    second = workshop.new_session("District group", strands=[FAMILY])
    workshop.run_to(first, "start", "open")
    workshop.votes(first, FAMILY, [1, 1, 1, 4, 4, 4])
    workshop.control(first, "close", strand=FAMILY)
    workshop.control(first, "revote", strand=FAMILY)
    workshop.votes(first, FAMILY, [2, 2, 2, 3, 3])
    workshop.run_to(second, "start", "open")
    workshop.votes(second, FAMILY, [2, 3, 3])
    return workshop, first


@page_case("results across forums")
def _results(stage: Stage) -> Page:
    workshop, _ = _results_stage(stage)
    page = stage.facilitator(f"/facilitator/assessments/{workshop.assessment()}/results", workshop)
    expect(page.locator("#trend-chart")).to_be_attached()
    return h1(page, "Results across all forums")


@page_case("results of one session")
def _session_results(stage: Stage) -> Page:
    workshop, first = _results_stage(stage)
    page = stage.facilitator(f"/facilitator/sessions/{first.id}/results", workshop)
    return h1(page, "Results: Conference workshop")


@page_case("report")
def _report(stage: Stage) -> Page:
    workshop, _ = _results_stage(stage)
    page = stage.facilitator(f"/facilitator/assessments/{workshop.assessment()}/report", workshop)
    expect(page.get_by_role("heading", level=1)).to_contain_text("maturity self-assessment")
    expect(page.locator("#trend-chart")).to_be_attached()
    return page


@page_case("agreed ratings")
def _agreed(stage: Stage) -> Page:
    page = stage.facilitator(f"/facilitator/assessments/{stage.workshop.assessment()}/agreed")
    return h1(page, "Agreed ratings and next steps")


@page_case("delete a session, confirmation")
def _delete(stage: Stage) -> Page:
    session = stage.workshop.new_session("To be deleted")
    page = stage.facilitator(f"/facilitator/sessions/{session.id}/delete")
    return h1(page, "Delete the session To be deleted?")


@page_case("votes recorded by hand")
def _hand_counts(stage: Stage) -> Page:
    session = stage.workshop.new_session("Paper forum")
    page = stage.facilitator(f"/facilitator/sessions/{session.id}/hand-counts")
    return h1(page, "Votes recorded by hand")


@page_case("sectors and core partners")
def _sectors(stage: Stage) -> Page:
    page = stage.facilitator(f"/facilitator/assessments/{stage.workshop.assessment()}/sectors")
    return h1(page, "Sectors and core partners")


@page_case("partners' comments")
def _comments(stage: Stage) -> Page:
    workshop, _ = _results_stage(stage)
    page = stage.facilitator(f"/facilitator/assessments/{workshop.assessment()}/comments", workshop)
    return h1(page, "Partners' comments")


@page_case("action plan")
def _actions(stage: Stage) -> Page:
    page = stage.facilitator(f"/facilitator/assessments/{stage.workshop.assessment()}/actions")
    return h1(page, "Action plan")


# ------------------------------------------------------------------ running axe


@cache
def axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def axe(page: Page) -> dict[str, Any]:
    """Run axe-core on the page as it is now. evaluate() runs outside the page's CSP, so the
    script needs no bypass (add_script_tag would be an inline script, which the CSP forbids).
    Text must reach 4.5:1 at every size: WCAG AA lets large text have 3:1, but a projector at
    the back of a hall, or a phone in daylight, loses contrast."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
        page.evaluate(
            "() => axe.configure({ checks: [{ id: 'color-contrast', options: { contrastRatio:"
            " { normal: { expected: 4.5 }, large: { expected: 4.5 } } } }] })"
        )
    return page.evaluate(
        "tags => axe.run(document, { runOnly: { type: 'tag', values: tags },"
        " resultTypes: ['violations'] })",
        AXE_TAGS,
    )


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:10]:
            lines.append(f"    {json.dumps(node['target'])}: {node['failureSummary']}")
            lines.append(f"      {node['html'][:200]}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_meets_wcag_22_aa_by_axe(stage: Stage, name: str) -> None:
    made = PAGES[name](stage)
    states = [("", made)] if not isinstance(made, Iterator) else made
    failures = []
    for state, page in states:
        label = f"{name}: {state}" if state else name
        violations = axe(page)["violations"]
        if violations:
            ARTIFACTS.mkdir(exist_ok=True)
            shot = "".join(c if c.isalnum() else "-" for c in label)
            page.screenshot(path=str(ARTIFACTS / f"failed-axe-{shot}.png"), full_page=True)
            failures.append(f"{label}:\n{describe(violations)}")
    assert failures == [], "\n\n".join(failures)
    assert stage.errors.errors == []


# ------------------------------------------------------------------ the keyboard alone


def test_a_participant_joins_and_votes_with_the_keyboard_alone(stage: Stage) -> None:
    session = stage.workshop.new_session("Keyboard workshop", profile=True)
    stage.workshop.run_to(session, "start", "open")
    page = stage.context("keyboard", **DESKTOP).new_page()
    page.goto(f"{stage.url}/")
    keyboard = page.keyboard

    def tab_to(selector: str, limit: int = 20) -> None:
        """Tab forward until the element matching selector has the focus."""
        for _ in range(limit):
            keyboard.press("Tab")
            if page.evaluate("s => document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}")

    # The skip link comes first and is visible when focused.
    keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    expect(page.get_by_role("link", name="Skip to main content")).to_be_visible()
    tab_to("#code")
    keyboard.type(session.code.lower())
    keyboard.press("Enter")
    expect(page).to_have_url(f"{stage.url}/s/{session.code}")
    expect(page.locator("#connection")).to_have_text("Connected")

    # The optional questions: choose a role with the arrow keys, then Continue.
    expect(page.get_by_role("heading", name="About you (optional)")).to_be_visible()
    tab_to("#role-strategic")
    keyboard.press("Space")
    expect(page.locator("#role-strategic")).to_be_checked()
    keyboard.press("ArrowDown")
    expect(page.locator("#role-operational")).to_be_checked()
    tab_to("button[type=submit]")
    keyboard.press("Enter")
    # Focus moves to the strand's heading, so the next Tab continues from there.
    expect(page.locator(f"#title-{FAMILY}")).to_be_focused()

    # Space chooses the focused level; an arrow key moves to (and chooses) the next one.
    tab_to(f"#opt-{FAMILY}-1")
    keyboard.press("Space")
    expect(page.locator(f"#opt-{FAMILY}-1")).to_be_checked()
    keyboard.press("ArrowDown")
    expect(page.locator(f"#opt-{FAMILY}-2")).to_be_checked()
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Developing.")
    # The confirmation is spoken: it goes into a polite live region.
    live = page.locator("[aria-live=polite]", has_text="Saved: Developing")
    expect(live).to_have_text(f"Saved: Developing for {FAMILY_NAME}.")
    expect(live).to_have_attribute("role", "status")

    # "More about" opens with Enter, and a comment is saved from the keyboard too.
    tab_to(f"#card-{FAMILY} .level-option-2 summary")
    keyboard.press("Enter")
    expect(page.locator(f"#card-{FAMILY} .level-option-2 details")).to_have_attribute("open", "")
    tab_to(f"#comment-{FAMILY}")
    keyboard.type("Keyworkers named in most plans.")
    tab_to(f"#save-comment-{FAMILY}")
    keyboard.press("Enter")
    expect(page.locator(f"#status-{FAMILY}")).to_have_text("Your vote is saved: Developing.")
    expect(page.locator("#announce")).to_have_text(f"Comment saved for {FAMILY_NAME}.")
    expect(page.locator(f"#comment-status-{FAMILY}")).to_have_text("Comment saved")
    assert stage.errors.errors == []


# ------------------------------------------------------------------ what axe cannot see


def test_live_changes_are_announced_and_the_phone_keeps_its_place(stage: Stage) -> None:
    """Screen reader users hear that voting opened or closed (a status message, WCAG 4.1.3),
    and the focus goes to the strand's heading when that happens; a new snapshot leaves open
    descriptors open, and one that changes nothing on screen leaves the focus where it was;
    the console's row buttons say which strand they act on."""
    workshop = stage.workshop
    session = workshop.new_session()
    page = stage.phone(session)
    announce = page.locator("#announce")
    expect(announce).to_have_attribute("aria-live", "polite")
    summary = page.locator(f"#more-{FAMILY}-3")
    summary.click()
    summary.focus()
    workshop.run_to(session, "start")
    expect(summary).to_be_focused()  # starting changes nothing on the phone's screen
    workshop.run_to(session, "open")
    expect(announce).to_have_text(f"Voting is open on {FAMILY_NAME}.")
    expect(page.locator(f"#opt-{FAMILY}-1")).to_be_enabled()
    expect(page.locator(f"#card-{FAMILY} .level-option-3 details")).to_have_attribute("open", "")
    expect(page.locator(f"#title-{FAMILY}")).to_be_focused()
    summary.focus()
    workshop.votes(session, FAMILY, [2])
    workshop.control(session, "goto", strand=FAMILY)  # a snapshot with nothing new to show
    page.wait_for_timeout(300)
    expect(summary).to_be_focused()
    workshop.run_to(session, "close")
    expect(announce).to_have_text(
        f"Voting on {FAMILY_NAME} is closed. The room's results are shown."
    )
    expect(page.locator(f"#title-{FAMILY}")).to_be_focused()
    workshop.run_to(session, "reveal")
    expect(announce).to_have_text(f"The programme team's desk rating for {FAMILY_NAME} is shown.")
    workshop.control(session, "next")
    expect(announce).to_have_text("Now showing 2. Leadership.")

    console = stage.console(session)
    expect(console.get_by_role("button", name="Reopen voting, 1. " + FAMILY_NAME)).to_be_visible()
    expect(console.get_by_role("button", name="Open voting, 2. Leadership")).to_be_visible()
    expect(console.locator("#connection")).to_have_attribute("role", "status")
    assert stage.errors.errors == []


@pytest.mark.parametrize("path", ["join", "phone"])
def test_pages_for_phones_reflow_at_320_css_pixels(stage: Stage, path: str) -> None:
    """WCAG 1.4.10: no sideways scrolling at 320 CSS pixels wide (a small phone, or 400% zoom)."""
    narrow = {**PHONE, "viewport": {"width": 320, "height": 640}}
    if path == "join":
        page = stage.visitor("/", **narrow)
    else:
        session = stage.workshop.new_session()
        stage.workshop.run_to(session, "start", "open", "votes", "results", "close", "reveal")
        page = stage.context("phone", **narrow).new_page()
        page.goto(f"{stage.url}/s/{session.code}")
        expect(page.locator(f"#desk-{FAMILY}")).to_be_visible()
        page.locator(f"#more-{FAMILY}-4").click()
    overflow = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert overflow[0] <= overflow[1], f"page is {overflow[0]}px wide in a {overflow[1]}px window"


def test_presenter_bars_carry_text_and_use_the_checked_colours(stage: Stage) -> None:
    """Each bar says its level and its figures in text; the fills are the level colours checked
    for colour vision deficiencies in tests/test_colours.py (voting/colours.py), on a white
    track."""
    session = stage.workshop.new_session()
    stage.workshop.run_to(session, "start", "open", "votes", "results", "close", "reveal")
    page = stage.presenter(session)
    rows = page.locator("#strand-results .bar-row")
    expect(rows).to_have_count(len(LEVELS))
    expect(rows.locator(".bar-label")).to_have_text(LEVELS)
    expect(rows.locator(".bar-value")).to_have_text(["0 (0%)", "2 (67%)", "1 (33%)", "0 (0%)"])
    hidden = rows.locator(".bar-track").evaluate_all("ts => ts.map(t => t.ariaHidden)")
    assert hidden == ["true"] * len(LEVELS)  # the drawing is hidden; the text is read
    styles = page.evaluate(
        """() => {
            const fills = [...document.querySelectorAll('#strand-results .bar-fill')];
            return {
                fills: fills.map(f => getComputedStyle(f).backgroundColor),
                track: getComputedStyle(document.querySelector('.bar-track')).backgroundColor,
            };
        }"""
    )
    assert [parse(c) for c in styles["fills"]] == [parse(c) for c in level_colours(len(LEVELS))]
    assert parse(styles["track"]) == parse("#ffffff")
    for colour in styles["fills"]:
        assert contrast(colour, styles["track"]) >= 3, colour
