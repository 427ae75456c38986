"""The board paper as it leaves the printer: the report printed to PDF by Chromium (what a
facilitator's Print, "Save as PDF" makes), read back page by page.

The assessment is the README screenshot's (tests/screenshot_report.py): Hertfordshire 2017,
three forums played through real Socket.IO clients on a real server, agreed ratings recorded,
with a desk assessment of 2016 before it so that the report has its years compared.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from html import unescape
from pathlib import Path

import pytest

from tests.browser_stages import chromium
from tests.browser_support import ARTIFACTS, log_in
from tests.downloads import LABELS, Tables, text_of
from tests.screenshot_report import create_assessment, play, post_form
from tests.servers import running_server
from tests.workshops import REPORT_AGREED, REPORT_FORUMS

pytestmark = [pytest.mark.browser, pytest.mark.server]

# A4 in PostScript points (1/72 inch): 210 mm x 297 mm.
A4_POINTS = (595.28, 841.89)
AREA, PERIOD = "Hertfordshire", "2017"


# Delivery's action plan is long enough to run over a page break.
ACTIONS = 36


def action(number: int) -> dict[str, str]:
    return {
        "do": "add",
        "strand": "delivery",
        "text": f"Action {number:02d}: agree one front door for families with each partner",
        "owner": f"Locality lead {number:02d}",
        "due_on": "2018-03-31",
        "status": "planned",
    }


@dataclass(frozen=True)
class Printed:
    html: str  # the report page as the server sent it
    pages: list[str]  # each PDF page's text
    sizes: list[tuple[float, float]]  # each page's width and height in points


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Printed]:
    from pypdf import PdfReader

    tmp = tmp_path_factory.mktemp("print")
    with running_server(f"sqlite:///{tmp / 'voting.sqlite3'}", tmp) as server:
        http = server.facilitator()
        # Last year's desk assessment: the report compares the years on a page of its own.
        create_assessment(server, http, period="2016")
        aid = create_assessment(server, http)
        for plan in REPORT_FORUMS:
            play(server, http, aid, plan)
        agreed: dict[str, str] = {}
        for key, (level, steps) in REPORT_AGREED.items():
            agreed |= {f"level-{key}": level, f"next-{key}": steps}
        post_form(server, http, f"/facilitator/assessments/{aid}/agreed", agreed)
        for number in range(1, ACTIONS + 1):
            post_form(server, http, f"/facilitator/assessments/{aid}/actions", action(number))
        report = f"{server.url}/facilitator/assessments/{aid}/report"
        html = http.get(report, timeout=10).text
        with chromium() as browser:
            page = browser.new_page()
            log_in(page, server.url)
            page.goto(report)
            page.get_by_role("heading", level=1).wait_for()
            pdf = page.pdf(format="A4", prefer_css_page_size=True)
    ARTIFACTS.mkdir(exist_ok=True)
    # To look at when a test below fails.
    Path(ARTIFACTS / "report.pdf").write_bytes(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    yield Printed(
        html=html,
        pages=[" ".join(p.extract_text().split()) for p in reader.pages],
        sizes=[(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages],
    )


def test_the_report_prints_on_a4_with_the_running_head_and_page_numbers_on_every_page(
    printed: Printed,
) -> None:
    today = date.today()
    printed_on = f"{today.day} {today:%B %Y}"
    total = len(printed.pages)
    # The summary, the years compared, a page per strand (six), then the forum register.
    assert total >= 9, total
    for width, height in printed.sizes:
        assert width == pytest.approx(A4_POINTS[0], abs=1)
        assert height == pytest.approx(A4_POINTS[1], abs=1)
    for number, text in enumerate(printed.pages, start=1):
        assert f"{AREA} {PERIOD}: maturity self-assessment" in text, number
        assert printed_on in text, number
        assert f"Page {number} of {total}" in text, number
    assert f"Report of {printed_on}" in printed.pages[0]


def test_the_first_page_holds_the_ratings_table_and_the_summary_chart(printed: Printed) -> None:
    first = printed.pages[0]
    assert "Ratings per strand" in first
    assert "Desk rating Partners (median)" in first
    for label in LABELS.values():
        assert label in first, label
    # The chart is on the same page: its legend and a split flag drawn in it.
    chart = unescape(printed.html.split('id="ratings-summary"', 1)[1].split("</svg>", 1)[0])
    assert "Desk rating" in chart and "Partners' median" in chart and "Agreed rating" in chart
    assert "Desk rating Partners' median Agreed rating" in first
    assert "Split: votes cluster at Early and Mature" in first
    # Nothing of the strands' own pages comes before them.
    assert "Key evidence" not in first and "Forums: who took part" not in first


def test_the_trend_then_each_strand_start_a_page_in_order_and_the_forum_register_is_last(
    printed: Printed,
) -> None:
    starts = []
    for label in LABELS.values():
        # A strand's page opens (after the running head) with its heading, then its desk
        # assessment: the first page names every strand too, but only in its table.
        pattern = re.escape(label) + r" Desk assessment Desk rating"
        found = [n for n, text in enumerate(printed.pages) if re.search(pattern, text)]
        assert len(found) == 1, (label, found)
        starts.append(found[0])
    assert starts == sorted(starts) and starts[0] >= 1
    # The trend has the page between the summary and the first strand.
    trend = [n for n, text in enumerate(printed.pages) if "Over the years" in text]
    assert trend == [1] and starts[0] == 2
    assert len(set(starts)) == len(starts)  # each on its own page
    register = [n for n, text in enumerate(printed.pages) if "Appendix: forum register" in text]
    assert register and register[0] > starts[-1]
    last = printed.pages[register[0] :]
    for plan in REPORT_FORUMS:
        assert any(plan.name in text for text in last), plan.name


def test_the_printed_tables_keep_their_rows_whole(printed: Printed) -> None:
    """A row cut by a page break would leave half its words on each page: each forum's row of
    the register is found whole on the page that prints its date, and each of Delivery's
    actions whole on one page, though the plan runs over two (its header repeated)."""
    register = next(t for t in Tables(printed.html).tables if t[0][1][:2] == ["Forum", "Date"])
    rows = [cells for _, cells in register[1:]]
    assert len(rows) == len(REPORT_FORUMS)
    # Without spaces: a narrow cell wraps its words (and a date at its hyphens).
    squashed = ["".join(text.split()) for text in printed.pages]
    for row in rows:
        pages = [text for text in squashed if row[1] in text]
        assert len(pages) == 1, row
        assert all("".join(cell.split()) in pages[0] for cell in row), row
    on_pages = set()
    for number in range(1, ACTIONS + 1):
        fields = action(number)
        row = "".join(f"{fields['text']} {fields['owner']} 2018-03-31 Planned".split())
        found = [n for n, text in enumerate(squashed) if row in text]
        assert len(found) == 1, (number, found)
        on_pages.add(found[0])
    assert len(on_pages) >= 2, on_pages  # the test saw a page break inside the plan
    for n in on_pages:
        assert "ActionOwnerDueStatus" in squashed[n], n


def test_the_html_report_is_the_same_document(printed: Printed) -> None:
    """The browser's own Print gets the same pages: the running head comes from a stylesheet
    the report links (Chromium has no string-set), served by the app like every asset."""
    assert 'href="/facilitator/assessments/' in printed.html
    head = r'<link rel="stylesheet" href="/facilitator/assessments/\d+/report-pages\.css"'
    assert re.search(head, printed.html)
    assert "cdn" not in text_of(printed.html).lower()
