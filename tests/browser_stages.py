"""Putting a real server's sessions into any state quickly, for browser checks of one page in
one state (accessibility, weak connections, shortcuts).

A `Workshop` drives the server the way its own clients do, but without a browser: the
facilitator's forms over HTTP (with the CSRF token of the page), console actions as a Socket.IO
`control` event, and anonymous phones as Socket.IO clients. The browser then only opens the
page under test. A test module makes its fixtures with `module_browser()` and
`module_workshop(...)`; Chromium is found and skipped as in tests/browser_support.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests
import socketio

from tests.browser_support import CHROMIUM, LAUNCH_ARGS, TIMEOUT_MS, require_browser
from tests.helpers import csrf_from

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Response, WebSocket

    from tests.servers import RunningServer

FAMILY = "family-experience"
STRANDS = [FAMILY, "leadership", "culture"]
LEVELS = ["Early", "Developing", "Maturing", "Mature"]
# Desk ratings for the shared assessment (option values of the desk form's selects):
# Developing, Maturing, and Developing/Maturing.
DESK = {FAMILY: "2", "leadership": "3", "culture": "2-3"}


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium through Playwright, or a skip (a failure with VOTING_REQUIRE_BROWSER=1)."""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def public_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, **env: Any
) -> Iterator[RunningServer]:
    """A real server on a free port whose public URL is its own address (the QR code's), on a
    fresh SQLite database: what each browser test module starts once."""
    from tests.servers import free_port, running_server

    tmp = tmp_path_factory.mktemp(name)
    port = free_port()
    with running_server(
        f"sqlite:///{tmp / 'voting.sqlite3'}",
        tmp,
        port=port,
        VOTING_PUBLIC_URL=f"http://127.0.0.1:{port}",
        **env,
    ) as server:
        yield server


def module_browser() -> Callable[..., Iterator[Browser]]:
    """A `browser` fixture: one Chromium for the whole test module."""

    @pytest.fixture(scope="module")
    def browser() -> Iterator[Browser]:
        with chromium() as launched:
            yield launched

    return browser


def module_workshop(name: str, **env: Any) -> Callable[..., Iterator[Workshop]]:
    """A `workshop` fixture: a `Workshop` on its own public server for the whole test module;
    `env` adds server settings (VOTING_…)."""

    @pytest.fixture(scope="module")
    def workshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workshop]:
        with public_server(tmp_path_factory, name, **env) as server:
            made = Workshop(server)
            yield made
            made.close()

    return workshop


@dataclass
class Session:
    id: int
    code: str


class Workshop:
    """One server, one facilitator login, and the sessions made on it."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.url = server.url
        self.http = server.facilitator()
        self._assessment: int | None = None
        self._consoles: dict[int, socketio.SimpleClient] = {}

    def close(self) -> None:
        for console in self._consoles.values():
            console.disconnect()
        self._consoles.clear()

    # ------------------------------------------------------------ the facilitator's forms

    def post_form(self, path: str, data: dict[str, Any]) -> requests.Response:
        """POST a form with the CSRF token of the page it is on; no redirects followed."""
        page = self.http.get(f"{self.url}{path}", timeout=10)
        page.raise_for_status()
        return self.http.post(
            f"{self.url}{path}",
            timeout=10,
            allow_redirects=False,
            data={**data, "csrf_token": csrf_from(page.text)},
        )

    def new_assessment(self, area: str = "Hertfordshire", period: str = "2017") -> int:
        made = self.post_form(
            "/facilitator/assessments/new",
            {
                "area": area,
                "period": period,
                "framework": "early-help-2016",
                "localities": "North Herts\nDacorum",
            },
        )
        assert made.status_code == 302, made.text
        assessment_id = int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        form = {f"level-{key}": level for key, level in DESK.items()}
        form.update({f"evidence-{key}": f"Evidence for {key}." for key in DESK})
        saved = self.post_form(f"/facilitator/assessments/{assessment_id}/desk", form)
        assert saved.status_code == 302, saved.text
        return assessment_id

    def assessment(self) -> int:
        """The shared assessment (made on first use): desk ratings on the first three strands."""
        if self._assessment is None:
            self._assessment = self.new_assessment()
        return self._assessment

    def new_session(
        self,
        name: str = "Partnership workshop",
        strands: list[str] | None = None,
        pacing: str = "live",
        profile: bool = False,
        closes_at: str = "",
        live_results: bool = False,
    ) -> Session:
        data: dict[str, Any] = {
            "name": name,
            "held_on": "2017-06-14",
            "forum_type": "mixed",
            "locality": "North Herts",
            "strands": strands or STRANDS,
            "pacing": pacing,
            "closes_at": closes_at,
        }
        if profile:
            data["collect_profile"] = "yes"
        if live_results:
            data["live_results"] = "yes"
        made = self.post_form(f"/facilitator/assessments/{self.assessment()}/sessions/new", data)
        assert made.status_code == 302, made.text
        session_id = int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        console = self.http.get(f"{self.url}{made.headers['Location']}", timeout=10).text
        code = re.search(r'class="code">([A-Z0-9]{6})<', console)
        assert code, console
        return Session(session_id, code.group(1))

    # ------------------------------------------------------------ live actions

    def control(self, session: Session, action: str, **payload: Any) -> str:
        """A console action; returns the console's message line (and fails on a refusal)."""
        console = self._consoles.get(session.id)
        if console is None:
            console = socketio.SimpleClient()
            console.connect(
                self.url,
                headers=self.server.cookie_header(self.http),
                auth={"role": "console", "session_id": session.id},
                transports=["websocket"],
            )
            self._consoles[session.id] = console
        ack = console.call("control", {"action": action, **payload}, timeout=10)
        assert ack["ok"], ack
        return str(ack["message"])

    def votes(self, session: Session, strand: str, levels: list[int]) -> None:
        """One anonymous phone per level, each voting once."""
        for level in levels:
            with socketio.SimpleClient() as phone:
                phone.connect(
                    self.url, auth={"role": "phone", "code": session.code}, transports=["websocket"]
                )
                ack = phone.call("vote", {"strand": strand, "level": level}, timeout=10)
                assert ack["ok"], ack

    def run_to(self, session: Session, *steps: str, strand: str = FAMILY) -> None:
        """Walk a session through named steps on one strand: start, open, votes (three phones:
        Developing, Developing, Maturing), results, close, reveal, end."""
        actions: dict[str, Any] = {
            "start": lambda: self.control(session, "start"),
            "open": lambda: self.control(session, "open", strand=strand),
            "votes": lambda: self.votes(session, strand, [2, 2, 3]),
            "results": lambda: self.control(session, "results", show=True),
            "close": lambda: self.control(session, "close", strand=strand),
            "reveal": lambda: self.control(session, "reveal", strand=strand, reveal=True),
            "end": lambda: self.control(session, "end"),
        }
        for step in steps:
            actions[step]()

    # ------------------------------------------------------------ browser contexts

    def log_in(self, context: BrowserContext) -> BrowserContext:
        """Give a browser context this workshop's facilitator login (its cookie)."""
        context.add_cookies(
            [{"name": c.name, "value": c.value or "", "url": self.url} for c in self.http.cookies]
        )
        return context


class SocketMessages:
    """Every Socket.IO event a page receives, over WebSocket frames and long-polling responses
    alike, as (name, payload) pairs: what the server really sent the page, not what it drew."""

    def __init__(self, page: Page) -> None:
        self._frames: list[str] = []
        self._polls: list[Response] = []
        page.on("websocket", self._socket)
        page.on("response", self._response)

    def _socket(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda frame: self._frames.append(str(frame)))

    def _response(self, response: Response) -> None:
        if "/socket.io/" in response.url and response.request.method == "GET":
            self._polls.append(response)

    def events(self) -> list[tuple[str, Any]]:
        import json

        texts = list(self._frames)
        for response in self._polls:
            try:
                texts.extend(response.text().split("\x1e"))
            except Exception:  # a poll cut off by a closing page has no body to read
                continue
        found = []
        for text in texts:
            if text.startswith("42"):
                name, *args = json.loads(text[2:])
                found.append((name, args[0] if args else None))
        return found

    def counts(self) -> dict[str, list[list[int]]]:
        """Every count of every strand received, from `state` snapshots and `tally` updates."""
        seen: dict[str, list[list[int]]] = {}
        for name, payload in self.events():
            if not isinstance(payload, dict):
                continue
            if name == "state":
                for strand in payload["strands"]:
                    if strand.get("counts") is not None:
                        seen.setdefault(strand["key"], []).append(strand["counts"])
            elif name == "tally":
                for key, counts in (payload.get("counts") or {}).items():
                    seen.setdefault(key, []).append(counts)
        return seen
