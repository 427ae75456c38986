"""Helpers for the real-browser tests: finding Chromium, page setups, and the facilitator's
form-filling steps. The fixtures themselves live in tests/test_browser.py.

Playwright drives Debian's Chromium (`apt-get install chromium`); its own browser download is
never used. Without Chromium or the playwright package the browser tests skip, unless
VOTING_REQUIRE_BROWSER=1 (as CI sets), in which case they fail.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers import PASSPHRASE

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page

    from tests.servers import RunningServer

CHROMIUM = os.environ.get("VOTING_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = (
    "Browser tests need Debian's Chromium and the playwright package: "
    "`apt-get install chromium` and `.venv/bin/pip install -e '.[test]'` "
    "(Playwright's own browser download is not used)."
)
TIMEOUT_MS = 10_000
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 375, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}

# Ignored in the console-error check: Chromium reports a socket.io WebSocket cut off by a page
# reload or a closing page, which is not a fault of the page.
HARMLESS_CONSOLE = re.compile(r"WebSocket is closed before the connection is established")


def require_browser() -> None:
    """Skip (or, with VOTING_REQUIRE_BROWSER=1, fail) when the browser tests cannot run."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"no Chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is not installed")
    if not missing:
        return
    message = f"{'; '.join(missing)}. {INSTALL_HINT}"
    if os.environ.get("VOTING_REQUIRE_BROWSER") == "1":
        pytest.fail(f"required browser missing: {message}")
    pytest.skip(message)


class PageErrors:
    """Collects uncaught JavaScript errors and console errors (CSP violations and failed
    loads among them) from every page of the contexts it watches."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.expected: list[re.Pattern[str]] = [HARMLESS_CONSOLE]

    def allow(self, pattern: str) -> None:
        """Expect console errors matching `pattern` (matched against "text [url]")."""
        self.expected.append(re.compile(pattern))

    def watch(self, context: BrowserContext, name: str) -> BrowserContext:
        context.on("weberror", lambda error: self.errors.append(f"{name}: uncaught {error.error}"))
        context.on("console", lambda msg: self._console(name, msg))
        return context

    def _console(self, name: str, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        text = f"{msg.text} [{msg.location.get('url', '')}]"
        if not any(p.search(text) for p in self.expected):
            self.errors.append(f"{name}: console error: {text}")


@contextmanager
def diagnostics(server: RunningServer, pages: dict[str, Page]) -> Iterator[None]:
    """On a failure, save a screenshot of every page and print the server's log (pytest shows
    captured output of a failing test)."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        for name, page in pages.items():
            try:
                page.screenshot(path=str(ARTIFACTS / f"failed-{name}.png"), full_page=True)
            except Exception as exc:  # best effort: the real failure is what matters
                print(f"could not screenshot {name}: {exc}")
        print(f"----- server log ({server.log_path}) -----\n{server.log()}")
        raise


# ---------------------------------------------------------------- facilitator steps


def log_in(page: Page, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}/login")
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base_url}/facilitator/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Assessments")


def create_assessment(page: Page, base_url: str) -> int:
    """From the dashboard: Hertfordshire 2017 on the default framework, two localities."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="New assessment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New assessment")
    page.get_by_label("Area", exact=True).fill("Hertfordshire")
    page.get_by_label("Period", exact=True).fill("2017")
    expect(page.locator("#framework-early-help-2016")).to_be_checked()
    page.get_by_label("Localities (optional)").fill("North Herts\nDacorum")
    page.get_by_role("button", name="Create assessment").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base_url)}/facilitator/assessments/\d+$"))
    expect(page.locator(".banner")).to_contain_text("Assessment created")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hertfordshire 2017")
    expect(page.get_by_text("Localities: North Herts, Dacorum")).to_be_visible()
    return int(page.url.rsplit("/", 1)[1])


def edit_desk(page: Page, ratings: dict[str, str]) -> None:
    """From the assessment page: set each strand's desk rating by its option label."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="Edit the desk assessment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Desk assessment")
    for key, label in ratings.items():
        page.locator(f"#level-{key}").select_option(label=label)
        page.locator(f"#evidence-{key}").fill(f"Evidence for {key}.")
    page.get_by_role("button", name="Save desk assessment").click()
    expect(page.locator(".banner")).to_contain_text("Desk assessment saved")


def create_session(page: Page, base_url: str, name: str, strands: list[str]) -> int:
    """From the assessment page: a live session on the given strands that asks participants
    about themselves; ends on the console."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="New session").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New session")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Locality (optional)").fill("North Herts")
    page.locator("#forum_type-mixed").check()
    boxes = page.locator("input[name=strands]")
    for i in range(boxes.count()):
        box = boxes.nth(i)
        box.set_checked(box.get_attribute("value") in strands)
    page.locator("#pacing-live").check()
    page.get_by_label("Ask participants about themselves").check()
    page.get_by_role("button", name="Create session").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base_url)}/facilitator/sessions/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator("#connection")).to_have_text("Connected")
    return int(page.url.rsplit("/", 1)[1])
