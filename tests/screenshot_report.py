"""Take docs/screenshots/report.png, the README's picture of the printable report.

Run: `.venv/bin/python -m tests.screenshot_report` (needs Debian's Chromium and playwright, as
the browser tests do). It starts the real server on a throwaway SQLite database, builds an
assessment through the facilitator's forms, plays the three forums of tests/workshops.py
through real Socket.IO clients (the phones and the console), records the agreed ratings, and
photographs the report's first page (its heading, the ratings table and the summary chart),
1000 px wide.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests
import socketio

from tests.browser_support import CHROMIUM, LAUNCH_ARGS, log_in
from tests.helpers import csrf_from
from tests.servers import RunningServer, running_server
from tests.workshops import REPORT_AGREED, REPORT_DESK, REPORT_FORUMS, ForumPlan

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "report.png"
WIDTH = 1000
TIMEOUT = 10


def post_form(
    server: RunningServer, http: requests.Session, path: str, data: dict[str, Any]
) -> requests.Response:
    """POST a facilitator form with the CSRF token of its page; the forms answer a redirect."""
    page = http.get(f"{server.url}{path}", timeout=TIMEOUT)
    response = http.post(
        f"{server.url}{path}",
        data={**data, "csrf_token": csrf_from(page.text)},
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:2000]
    return response


def create_assessment(server: RunningServer, http: requests.Session, period: str = "2017") -> int:
    made = post_form(
        server,
        http,
        "/facilitator/assessments/new",
        {
            "area": "Hertfordshire",
            "period": period,
            "framework": "early-help-2016",
            "localities": "Dacorum\nStevenage\nNorth Herts",
        },
    )
    assessment_id = int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    desk: dict[str, str] = {}
    for key, rating in REPORT_DESK.items():
        desk |= {f"level-{key}": rating, f"evidence-{key}": f"Desk evidence for {key}."}
    post_form(server, http, f"/facilitator/assessments/{assessment_id}/desk", desk)
    return assessment_id


def create_session(
    server: RunningServer, http: requests.Session, assessment_id: int, plan: ForumPlan
) -> tuple[int, str]:
    data: dict[str, Any] = {
        "name": plan.name,
        "held_on": plan.held_on.isoformat(),
        "forum_type": plan.forum_type,
        "locality": plan.locality,
        "strands": list(plan.votes),
        "pacing": "live",
    }
    if plan.collect_profile:
        data["collect_profile"] = "yes"
    made = post_form(server, http, f"/facilitator/assessments/{assessment_id}/sessions/new", data)
    console_path = made.headers["Location"]
    session_id = int(console_path.rstrip("/").rsplit("/", 1)[1])
    page = http.get(f"{server.url}{console_path}", timeout=TIMEOUT).text
    code = re.search(r'class="code">([A-Z0-9]{6})<', page)
    assert code, "no join code on the console"
    return session_id, code.group(1)


def connect(server: RunningServer, auth: dict[str, Any], headers: dict[str, str]) -> Any:
    client = socketio.Client()
    client.connect(
        server.url, auth=auth, headers=headers, transports=["websocket"], wait_timeout=TIMEOUT
    )
    return client


def call(client: Any, event: str, payload: dict[str, Any]) -> None:
    ack = client.call(event, payload, timeout=TIMEOUT)
    assert ack.get("ok"), ack


def play(
    server: RunningServer, http: requests.Session, assessment_id: int, plan: ForumPlan
) -> None:
    session_id, code = create_session(server, http, assessment_id, plan)
    console = connect(
        server, {"role": "console", "session_id": session_id}, server.cookie_header(http)
    )
    phones = [connect(server, {"role": "phone", "code": code}, {}) for _ in plan.profiles]
    try:
        for p, profile in zip(phones, plan.profiles, strict=True):
            if profile is not None:
                call(p, "profile", profile.payload())
        for strand, levels in plan.votes.items():
            rounds = [("open", levels)]
            if strand in plan.revotes:
                rounds.append(("revote", plan.revotes[strand]))
            for action, round_levels in rounds:
                if action == "revote":
                    call(console, "control", {"action": "close", "strand": strand})
                call(console, "control", {"action": action, "strand": strand})
                comments = plan.comments.get(strand, {})
                for index, (p, level) in enumerate(zip(phones, round_levels, strict=False)):
                    if level is None:
                        continue
                    payload: dict[str, Any] = {"strand": strand, "level": level}
                    if index in comments:
                        payload["comment"] = comments[index]
                    call(p, "vote", payload)
        call(console, "control", {"action": "end"})
    finally:
        for client in [*phones, console]:
            client.disconnect()


def screenshot(server: RunningServer, assessment_id: int, output: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 800})
            log_in(page, server.url)
            page.goto(f"{server.url}/facilitator/assessments/{assessment_id}/report")
            page.get_by_role("heading", level=1).wait_for()
            output.parent.mkdir(parents=True, exist_ok=True)
            # The first page: the heading, the ratings table and the summary chart.
            box = page.locator(".report-summary").bounding_box()
            assert box, "no summary on the report"
            height = box["y"] + box["height"] + 24
            page.screenshot(
                path=str(output),
                full_page=True,
                clip={"x": 0, "y": 0, "width": WIDTH, "height": height},
            )
        finally:
            browser.close()


def main(output: Path = OUTPUT) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with running_server(f"sqlite:///{workdir / 'voting.sqlite3'}", workdir) as server:
            http = server.facilitator()
            assessment_id = create_assessment(server, http)
            for plan in REPORT_FORUMS:
                play(server, http, assessment_id, plan)
            agreed: dict[str, str] = {}
            for key, (level, steps) in REPORT_AGREED.items():
                agreed |= {f"level-{key}": level, f"next-{key}": steps}
            post_form(server, http, f"/facilitator/assessments/{assessment_id}/agreed", agreed)
            screenshot(server, assessment_id, output)
    print(f"saved {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT)
