"""The facilitator's keyboard: single-key shortcuts on the console (next and previous strand,
open or close voting on the strand on screen, live results, the desk rating) with a legend on
screen, which never act while typing in a field and can be turned off (WCAG 2.1.4); and the
presenter view's full-screen button. Real Chromium against the real server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser_stages import FAMILY, Session, Workshop, module_browser, module_workshop
from tests.browser_support import DESKTOP, TIMEOUT_MS, PageErrors

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with an install hint
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.server]

FAMILY_NAME = "The family experience of transformed services"


browser = module_browser()
workshop = module_workshop("keys")


@pytest.fixture
def errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def facilitator(
    browser: Browser, workshop: Workshop, errors: PageErrors
) -> Iterator[BrowserContext]:
    context = workshop.log_in(browser.new_context(**DESKTOP))
    context.set_default_timeout(TIMEOUT_MS)
    errors.watch(context, "facilitator")
    yield context
    context.close()


def open_console(context: BrowserContext, workshop: Workshop, session: Session) -> Page:
    page = context.new_page()
    page.goto(f"{workshop.url}/facilitator/sessions/{session.id}")
    expect(page.locator("#connection")).to_have_text("Connected")
    expect(page.locator("#strand-rows tr")).to_have_count(3)
    return page


def on_screen(page: Page) -> str:
    return page.locator("#strand-rows tr.is-current th").inner_text()


def test_console_shortcuts_run_the_strand_on_screen(
    facilitator: BrowserContext, workshop: Workshop, errors: PageErrors
) -> None:
    session = workshop.new_session()
    page = open_console(facilitator, workshop, session)
    message = page.locator("#console-message")
    family = page.locator("#strand-rows tr").filter(has_text=FAMILY_NAME)

    # The legend folds away; opened, it lists the keys, and the buttons tell assistive
    # technology their keys.
    legend = page.locator("#shortcut-list")
    expect(legend).to_be_hidden()
    page.get_by_role("group").filter(has_text="Keyboard shortcuts").locator("summary").click()
    expect(legend).to_be_visible()
    expect(legend.locator("dt")).to_have_text(["N or →", "P or ←", "O", "R", "D", "J"])
    expect(page.get_by_role("button", name="Next strand")).to_have_attribute(
        "aria-keyshortcuts", "N ArrowRight"
    )

    keys = page.keyboard
    keys.press("o")
    expect(message).to_have_text(f"Voting open on {FAMILY_NAME}.")
    expect(family.locator("td").first).to_have_text("Open")
    expect(page.locator("#status")).to_have_text("Running")
    workshop.votes(session, FAMILY, [2, 3])
    keys.press("r")
    expect(message).to_have_text(f"Results of {FAMILY_NAME} shown on the projector and phones.")
    expect(page.locator("#results-toggle")).to_have_text("Hide results")
    keys.press("d")  # refused while voting is open, as the button is
    expect(message).to_have_text(
        f"Close voting on {FAMILY_NAME} before revealing the desk rating, so that it cannot "
        "anchor the room's votes."
    )
    keys.press("O")  # Caps Lock or Shift makes no difference
    expect(message).to_have_text(f"Voting closed on {FAMILY_NAME}.")
    keys.press("d")
    expect(message).to_have_text(f"Desk rating for {FAMILY_NAME} revealed.")
    expect(family.locator("td").nth(3)).to_have_text("Developing (revealed)")
    keys.press("d")
    expect(message).to_have_text(f"Desk rating for {FAMILY_NAME} hidden.")
    keys.press("r")
    expect(message).to_have_text("Results of open voting hidden.")
    keys.press("j")
    expect(message).to_have_text("Join screen shown on the projector.")
    expect(page.locator("#join-toggle")).to_have_attribute("aria-pressed", "true")
    keys.press("j")
    expect(message).to_have_text("Join screen hidden.")

    keys.press("n")
    expect(message).to_have_text("Now showing Leadership.")
    assert on_screen(page).startswith("2. Leadership")
    keys.press("ArrowRight")
    expect(message).to_have_text("Now showing Culture.")
    keys.press("ArrowRight")
    expect(message).to_have_text("This is already the last strand.")
    keys.press("ArrowLeft")
    expect(message).to_have_text("Now showing Leadership.")
    keys.press("p")
    expect(message).to_have_text(f"Now showing {FAMILY_NAME}.")
    keys.press("o")
    expect(message).to_have_text(f"Voting reopened on {FAMILY_NAME}.")
    # A focused button keeps its own keys: Enter presses it, and it is not a shortcut.
    page.get_by_role("button", name="Next strand").focus()
    keys.press("Enter")
    expect(message).to_have_text("Now showing Leadership.")
    assert errors.errors == []


def test_shortcuts_do_nothing_while_typing_with_modifiers_or_when_turned_off(
    facilitator: BrowserContext, workshop: Workshop, errors: PageErrors
) -> None:
    session = workshop.new_session()
    page = open_console(facilitator, workshop, session)
    message = page.locator("#console-message")
    start = on_screen(page)
    page.locator("#shortcuts summary").click()  # unfold the legend, with its tick box

    # The console has no text field of its own; a field added to the page (by a browser
    # extension, or a later feature) stands in for one.
    page.evaluate(
        """() => {
            const field = document.createElement('input');
            field.id = 'note'; field.setAttribute('aria-label', 'Note');
            document.querySelector('main').appendChild(field);
            const box = document.createElement('div');
            box.id = 'editable'; box.contentEditable = 'true'; box.textContent = 'x';
            document.querySelector('main').appendChild(box);
        }"""
    )
    page.locator("#note").click()
    page.keyboard.type("nordp")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#note")).to_have_value("nordp")
    page.locator("#editable").click()
    page.keyboard.type("no")
    page.locator("#shortcuts-on").focus()  # the checkbox is a field too
    page.keyboard.press("n")
    page.locator("body").click(position={"x": 5, "y": 400})
    page.keyboard.press("Alt+n")
    page.keyboard.press("Control+o")
    page.wait_for_timeout(500)  # any answer from the server would have come by now
    expect(message).to_have_text("")
    assert on_screen(page) == start
    expect(page.locator("#strand-rows tr").first.locator("td").first).to_have_text("Not opened")

    # Turned off, they stay off after a reload; the buttons no longer claim them.
    page.get_by_label("Use keyboard shortcuts").uncheck()
    page.reload()
    expect(page.locator("#connection")).to_have_text("Connected")
    page.locator("#shortcuts summary").click()
    expect(page.get_by_label("Use keyboard shortcuts")).not_to_be_checked()
    expect(page.get_by_role("button", name="Next strand")).not_to_have_attribute(
        "aria-keyshortcuts", re.compile(".")
    )
    page.locator("body").click(position={"x": 5, "y": 400})
    page.keyboard.press("n")
    page.wait_for_timeout(500)
    expect(message).to_have_text("")
    assert on_screen(page) == start

    page.get_by_label("Use keyboard shortcuts").check()
    page.locator("body").click(position={"x": 5, "y": 400})
    page.keyboard.press("n")
    expect(message).to_have_text("Now showing Leadership.")
    assert errors.errors == []


def test_self_paced_sessions_keep_only_the_results_shortcut(
    facilitator: BrowserContext, workshop: Workshop, errors: PageErrors
) -> None:
    session = workshop.new_session(pacing="self_paced", closes_at="2099-06-14T16:00")
    page = open_console(facilitator, workshop, session)
    page.locator("#shortcuts summary").click()
    expect(page.locator("#shortcut-list dt:visible")).to_have_text(["R", "J"])
    page.keyboard.press("n")
    expect(page.locator("#console-message")).to_have_text(
        "A self-paced session has no strand on screen: use the buttons in the table."
    )
    page.keyboard.press("r")
    expect(page.locator("#console-message")).to_have_text(
        "Results shown on the projector and phones."
    )
    assert errors.errors == []


def test_the_presenter_view_goes_full_screen_and_back(
    facilitator: BrowserContext, workshop: Workshop, errors: PageErrors
) -> None:
    session = workshop.new_session()
    page = facilitator.new_page()
    page.goto(f"{workshop.url}/facilitator/sessions/{session.id}/present")
    expect(page.locator("#join-screen")).to_be_visible()
    button = page.get_by_role("button", name="Full screen")
    expect(button).to_be_visible()
    button.click()
    page.wait_for_function("() => document.fullscreenElement === document.documentElement")
    expect(page.get_by_role("button", name="Exit full screen")).to_be_visible()
    page.get_by_role("button", name="Exit full screen").click()
    page.wait_for_function("() => document.fullscreenElement === null")
    expect(page.get_by_role("button", name="Full screen")).to_be_visible()
    # The keyboard reaches it first (after the skip link).
    page.reload()
    expect(page.get_by_role("button", name="Full screen")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Full screen")).to_be_focused()
    assert errors.errors == []
