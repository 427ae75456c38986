"""The product as a council's IT team gets it: the wheel built from this checkout, installed
into a fresh virtualenv outside it (tests/installs.py), and its `voting serve` started from an
empty folder with nothing set but a passphrase. Every page renders and every file downloads
from the installed package alone; instance data lands under that folder's `sessions/`, never in
site-packages; the command line answers `--version` and `--help` for every command.

A wheel that left out templates/ or static/ fails here (pages answer 500, files 404), as an
editable install (`make serve`) cannot show."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import sqlite3
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from werkzeug.exceptions import NotFound

import voting
from tests.helpers import PASSPHRASE, csrf_from
from tests.installs import ROOT, Install, build_wheel, install
from tests.servers import (
    RunningServer,
    create_workshop,
    free_port,
    phone_clients,
    screen_client,
    serving,
)
from voting import create_app

pytestmark = pytest.mark.server

COMMANDS = (
    "serve",
    "migrate",
    "backup",
    "export-all",
    "import",
    "purge",
    "add-facilitator",
    "reset-passphrase",
    "logout-all",
)
# More phones than VOTING_MIN_GROUP_SIZE (5), so the results show figures, not "fewer than 5".
PHONES = 6
STRANDS = ("leadership", "culture")  # the session create_workshop makes
HTML = "text/html; charset=utf-8"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
}


@dataclass(frozen=True)
class Installed:
    install: Install
    # Every file under site-packages right after the install, relative to it.
    files: frozenset[str]


def _files_under(folder: Path) -> frozenset[str]:
    return frozenset(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """One build and one virtualenv for the module (about a minute: the install fetches the
    dependencies through pip)."""
    work = tmp_path_factory.mktemp("install")
    assert not work.is_relative_to(ROOT)
    done = install(build_wheel(work / "build"), work / "venv")
    return Installed(done, _files_under(done.site_packages()))


def bare_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any VOTING_* setting (nor a PYTHONPATH that could
    reach the checkout), plus `settings`."""
    kept = {
        k: v for k, v in os.environ.items() if not k.startswith("VOTING_") and k != "PYTHONPATH"
    }
    return {**kept, "PYTHONUNBUFFERED": "1", **settings}


def voting_command(installed: Installed, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(installed.install.voting), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=bare_environment(),
        timeout=60,
    )


def test_the_wheel_carries_every_template_static_file_framework_and_migration(
    installed: Installed,
) -> None:
    with zipfile.ZipFile(installed.install.wheel) as wheel:
        names = set(wheel.namelist())
    wanted = {
        *(f"voting/templates/{p.name}" for p in (ROOT / "templates").glob("*.html")),
        *(
            f"voting/static/{p.relative_to(ROOT / 'static')}"
            for p in (ROOT / "static").rglob("*")
            if p.is_file() and "scss" not in p.parts
        ),
        *(f"voting/data/frameworks/{p.name}" for p in (ROOT / "voting/data/frameworks").iterdir()),
        *(
            f"voting/migrations/versions/{p.name}"
            for p in (ROOT / "voting/migrations/versions").glob("*.py")
        ),
        "voting/migrations/script.py.mako",
    }
    assert sorted(wanted - names) == []
    # The Sass sources are not served, and the suite is not part of the product.
    assert not [n for n in names if "/scss/" in n or n.startswith("tests/")]


def test_voting_version_and_help_for_every_command(installed: Installed, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    version = voting_command(installed, "--version", cwd=empty)
    assert (version.returncode, version.stdout.strip()) == (0, f"voting {voting.__version__}")

    listing = voting_command(installed, "--help", cwd=empty)
    assert listing.returncode == 0, listing.stderr
    listed = re.findall(r"^    (\S+)\s", listing.stdout, flags=re.MULTILINE)
    assert sorted(listed) == sorted(COMMANDS), listing.stdout
    for command in COMMANDS:
        helped = voting_command(installed, command, "--help", cwd=empty)
        assert helped.returncode == 0, (command, helped.stderr)
        assert helped.stdout.startswith(f"usage: voting {command}"), helped.stdout
    # Asking for help creates nothing, here or in the installed package.
    assert list(empty.iterdir()) == []
    assert _files_under(installed.install.site_packages()) - installed.files == set()


@dataclass
class Visitor:
    """Requests against the installed server, each checked for its status and content type,
    and remembered so that the routes left unvisited can be named."""

    server: RunningServer
    visited: list[tuple[str, str]] = field(default_factory=list)
    static: set[str] = field(default_factory=set)

    def get(
        self,
        http: requests.Session,
        path: str,
        content_type: str = HTML,
        title: str | None = None,
        status: int = 200,
    ) -> requests.Response:
        response = http.get(f"{self.server.url}{path}", timeout=30)
        self.visited.append(("GET", path.split("?")[0]))
        assert response.status_code == status, (path, response.status_code, response.text[:800])
        assert response.headers["Content-Type"] == content_type, (path, response.headers)
        if content_type == HTML:
            found = re.search(r"<title>(.*?)</title>", response.text, flags=re.DOTALL)
            assert found and title is not None and title in found.group(1), (path, found)
            self.static |= set(re.findall(r'(?:href|src)="(/static/[^"?]+)', response.text))
        return response

    def post(
        self, http: requests.Session, path: str, data: dict[str, str], form: str | None = None
    ) -> requests.Response:
        """A form posted as a browser does, with the CSRF token of the page it is on (`form`,
        by default the page at `path`); answered with a redirect."""
        page = http.get(f"{self.server.url}{form or path}", timeout=30)
        response = http.post(
            f"{self.server.url}{path}",
            data={**data, "csrf_token": csrf_from(page.text)},
            timeout=30,
            allow_redirects=False,
        )
        self.visited.append(("POST", path))
        assert response.status_code in (302, 303), (path, response.status_code, response.text)
        return response


async def _vote_with_phones(
    server: RunningServer, http: requests.Session, session_id: int, code: str
) -> None:
    """Phones vote on both strands, from the console opening each to its revealing the desk
    rating, as a workshop runs."""
    console = await screen_client(server, http, "console", session_id)
    presenter = await screen_client(server, http, "presenter", session_id)
    phones = await phone_clients(server, code, PHONES)
    started = await console.call("control", {"action": "start"}, timeout=10)
    assert started["ok"], started
    for strand in STRANDS:
        opened = await console.call("control", {"action": "open", "strand": strand}, timeout=10)
        assert opened["ok"], opened
        acks = await asyncio.gather(
            *(
                p.call("vote", {"strand": strand, "level": 1 + i % 4}, timeout=10)
                for i, p in enumerate(phones)
            )
        )
        assert all(a["ok"] for a in acks), acks
        for action in (
            {"action": "close", "strand": strand},
            {"action": "reveal", "strand": strand, "reveal": True},
        ):
            done = await console.call("control", action, timeout=10)
            assert done["ok"], (action, done)
    ended = await console.call("control", {"action": "end"}, timeout=10)
    assert ended["ok"], ended
    for client in [*phones, console, presenter]:
        await client.disconnect()


def _assessment_of(server: RunningServer, http: requests.Session, session_id: int) -> str:
    """The address of the session's assessment, as its console links to it."""
    console = http.get(f"{server.url}/facilitator/sessions/{session_id}", timeout=10).text
    found = re.search(r'href="(/facilitator/assessments/\d+)"', console)
    assert found, console
    return found.group(1)


def _visit_every_page(
    visitor: Visitor, http: requests.Session, session_id: int, code: str, assessment: str
) -> None:
    """Every page type, the participant's and the facilitator's."""
    phone = requests.Session()
    page = visitor.get
    page(phone, "/", title="Join a session")
    page(phone, f"/join?code={code.lower()}", title="Conference workshop")  # redirected
    page(phone, f"/s/{code}", title="Conference workshop")
    page(phone, f"/qr/{code}.svg", content_type="image/svg+xml; charset=utf-8")
    page(phone, "/login", title="Facilitator log in")
    page(
        phone,
        "/no-such-page",
        title="Not Found",
        status=404,
    )
    page(http, "/facilitator/assessments/999999", title="Not Found", status=404)

    page(http, "/facilitator/", title="Assessments")
    page(http, "/facilitator/assessments/new", title="New assessment")
    page(http, f"/facilitator/sessions/{session_id}", title="Console")
    page(http, assessment, title="Devon 2017")
    page(http, f"{assessment}/desk", title="Desk assessment")
    page(http, f"{assessment}/sessions/new", title="New session")
    page(http, f"/facilitator/sessions/{session_id}/present", title="Conference workshop")
    page(http, f"{assessment}/results", title="Results \u2013 Devon 2017")
    page(http, f"/facilitator/sessions/{session_id}/results", title="Results: Conference")
    page(http, f"{assessment}/report", title="Devon 2017")
    # The trend chart needs an earlier assessment of the same area; Devon has none here.
    page(http, f"{assessment}/trend.svg", title="Not Found", status=404)
    page(http, f"{assessment}/report-pages.css", content_type="text/css; charset=utf-8")
    page(http, f"{assessment}/agreed", title="Agreed ratings")
    page(http, f"{assessment}/actions", title="Action plan")
    page(http, f"{assessment}/sectors", title="Sectors and core partners")
    page(http, f"/facilitator/sessions/{session_id}/hand-counts", title="Votes recorded by hand")
    page(http, f"{assessment}/comments", title="comments \u2013 Devon 2017")
    page(http, f"{assessment}/delete", title="Delete the assessment")
    page(http, f"/facilitator/sessions/{session_id}/delete", title="Delete the session")


def _download_every_file(
    visitor: Visitor, http: requests.Session, session_id: int, assessment: str
) -> None:
    def download(path: str, content_type: str) -> requests.Response:
        response = visitor.get(http, path, content_type=content_type)
        assert response.headers["Content-Disposition"].startswith("attachment; filename="), path
        return response

    csv = "text/csv; charset=utf-8"
    votes = download(f"{assessment}/votes.csv", csv).text.splitlines()
    # One row per vote (the file's first lines say what it holds, then its header).
    assert len([row for row in votes if row.startswith("Devon,2017,")]) == PHONES * len(STRANDS)
    in_session = download(f"/facilitator/sessions/{session_id}/votes.csv", csv)
    assert in_session.text.splitlines() == votes
    for name in ("assessment.json", "raw.json"):
        exported = download(f"{assessment}/{name}", "application/json")
        assert "Devon" in exported.text and exported.json(), name
    summary = download(f"{assessment}/summary.csv", csv).text
    assert "Leadership" in summary and "Culture" in summary
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert zipfile.is_zipfile(io.BytesIO(download(f"{assessment}/assessment.xlsx", xlsx).content))
    for strand in STRANDS:
        chart = download(f"{assessment}/charts/{strand}.svg", "image/svg+xml; charset=utf-8")
        assert "<svg" in chart.text
    for path in sorted(visitor.static):
        visitor.get(requests.Session(), path, content_type=STATIC_TYPES[Path(path).suffix])


def _unvisited_routes(visitor: Visitor, instance: Path) -> list[str]:
    """The app's routes (its url_map) that no request reached."""
    app = create_app({"DATABASE_URL": "sqlite://", "INSTANCE_DIR": str(instance)})
    routes = app.url_map.bind("127.0.0.1")
    reached = set()
    for method, path in visitor.visited:
        with contextlib.suppress(NotFound):
            reached.add(routes.match(path, method=method)[0])
    return sorted({rule.endpoint for rule in app.url_map.iter_rules()} - reached)


def test_the_installed_server_renders_every_page_and_file_from_an_empty_folder(
    installed: Installed, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    port = free_port()
    command = [str(installed.install.voting), "serve", "--host", "127.0.0.1", "--port", str(port)]
    environment = bare_environment(VOTING_FACILITATOR_PASSPHRASE=PASSPHRASE)
    with serving(command, environment, port, tmp_path / "server.log", cwd=empty) as server:
        assert "running (eventlet)" in server.log()
        visitor = Visitor(server)
        http = server.facilitator()
        session_id, code = create_workshop(server, http)
        assessment = _assessment_of(server, http, session_id)
        visitor.post(http, f"{assessment}/desk", {"level-leadership": "2", "level-culture": "2-3"})
        asyncio.run(_vote_with_phones(server, http, session_id, code))
        _visit_every_page(visitor, http, session_id, code, assessment)
        visitor.post(http, f"{assessment}/agreed", {"level-leadership": "2"})
        visitor.post(http, f"{assessment}/retention", {"retention_days": ""}, form=assessment)
        _download_every_file(visitor, http, session_id, assessment)
        assert {"/static/vendor/socket.io.min.js", "/static/css/app.css"} <= visitor.static
        # The database is under the empty folder's sessions/, with every vote in it.
        database = empty / "sessions" / "voting.sqlite3"
        with contextlib.closing(sqlite3.connect(database)) as db:
            assert db.execute("SELECT count(*) FROM votes").fetchone() == (PHONES * 2,)
        visitor.post(http, f"/facilitator/sessions/{session_id}/delete", {})
        visitor.post(http, f"{assessment}/delete", {})
        visitor.post(http, "/logout", {}, form="/facilitator/")
        log = server.log()
    assert "Traceback" not in log, log
    unvisited = _unvisited_routes(visitor, tmp_path)
    # A new page or download: visit it in _visit_every_page or _download_every_file.
    assert unvisited == [], f"routes no request reached: {unvisited}"
    # Nothing was made anywhere but there: not in the folder itself, not in the installed package.
    assert [p.name for p in empty.iterdir()] == ["sessions"]
    assert _files_under(installed.install.site_packages()) - installed.files == set()
