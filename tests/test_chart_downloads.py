"""Every results chart downloads as SVG (from the server) and as PNG (drawn in the browser from
the same SVG), in a real Chromium against the real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.browser_stages import FAMILY, Workshop, chromium
from tests.browser_support import DESKTOP
from tests.servers import RunningServer, running_server

pytestmark = [pytest.mark.browser, pytest.mark.server]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("charts")
    with running_server(f"sqlite:///{tmp / 'voting.sqlite3'}", tmp) as running:
        yield running


def test_a_chart_downloads_as_svg_and_as_png(server: RunningServer, tmp_path: Path) -> None:
    workshop = Workshop(server)
    try:
        session = workshop.new_session("Conference workshop")
        workshop.run_to(session, "start", "open")
        workshop.votes(session, FAMILY, [1, 2, 2, 3, 4])
        assessment = workshop.assessment()
        svg = workshop.http.get(
            f"{server.url}/facilitator/assessments/{assessment}/charts/{FAMILY}.svg", timeout=10
        )
        assert svg.status_code == 200 and svg.text.startswith("<svg")
        assert "attachment" in svg.headers["Content-Disposition"]
        with chromium() as browser:
            context = workshop.log_in(browser.new_context(accept_downloads=True, **DESKTOP))
            page = context.new_page()
            page.goto(f"{server.url}/facilitator/assessments/{assessment}/results")
            button = page.locator(f'.png-download[data-chart="chart-{FAMILY}"]')
            with page.expect_download() as download_info:
                button.click()
            download = download_info.value
            assert download.suggested_filename == f"{FAMILY}.png"
            target = tmp_path / download.suggested_filename
            download.save_as(target)
            data = target.read_bytes()
            assert data.startswith(PNG_SIGNATURE) and len(data) > 2000
            context.close()
    finally:
        workshop.close()
    assert requests.get(f"{server.url}/", timeout=10).status_code == 200


def test_the_trend_chart_downloads_as_svg_and_as_png(server: RunningServer, tmp_path: Path) -> None:
    workshop = Workshop(server)
    try:
        earlier = workshop.new_assessment(area="Dacorum", period="2016")
        assessment = workshop.new_assessment(area="Dacorum", period="2017")
        assert earlier < assessment
        svg = workshop.http.get(
            f"{server.url}/facilitator/assessments/{assessment}/trend.svg", timeout=10
        )
        assert svg.status_code == 200 and svg.text.startswith("<svg")
        assert 'id="trend-chart"' in svg.text and "attachment" in svg.headers["Content-Disposition"]
        with chromium() as browser:
            context = workshop.log_in(browser.new_context(accept_downloads=True, **DESKTOP))
            page = context.new_page()
            page.goto(f"{server.url}/facilitator/assessments/{assessment}/results")
            button = page.locator('.png-download[data-chart="trend-chart"]')
            with page.expect_download() as download_info:
                button.click()
            download = download_info.value
            assert download.suggested_filename == "trend.png"
            target = tmp_path / download.suggested_filename
            download.save_as(target)
            data = target.read_bytes()
            assert data.startswith(PNG_SIGNATURE) and len(data) > 2000
            context.close()
    finally:
        workshop.close()
