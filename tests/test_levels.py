"""A framework of 2, 3, 5, 6 or 7 levels runs end to end through the real vote path: the screens
are told one colour per level, and the results page, its chart, the report, the workbook (its
sheets and its native charts), the summary CSV, the votes CSV and the JSON all show every level
by name with its count. The five-level workshop also runs in Chromium (tests/test_browser.py).

Expected counts come from tests/scales.py's plan (level k gets k + 1 votes), not from the code
under test.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from html.parser import HTMLParser
from typing import Any

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import control, last, make_session, phone, post_form, received, screen, vote
from tests.scales import LEVEL_NAMES, STRANDS, framework_yaml, level_keys, planned_votes
from voting.colours import level_colours

SCALES = [2, 3, 5, 6, 7]
FIRST, SECOND = (key for key, _ in STRANDS)


class Tables(HTMLParser):
    """Every <table> of a page: its caption and its rows of cell text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[tuple[list[str], list[list[str]]]] = []
        self._text: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append(([], []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th", "caption") and self.tables:
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "caption") and self._text is not None:
            text = " ".join("".join(self._text).split())
            caption, rows = self.tables[-1]
            (caption if tag == "caption" else rows[-1]).append(text)
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def captioned(self, caption: str) -> list[list[str]]:
        found = [rows for captions, rows in self.tables if captions == [caption]]
        assert len(found) == 1, [c for c, _ in self.tables]
        return found[0]


def csv_rows(text: str) -> list[dict[str, str]]:
    """A download's rows by column name. A first line of one cell says who the file is for;
    the column names follow it."""
    lines = list(csv.reader(io.StringIO(text)))
    while lines and len(lines[0]) == 1:
        lines.pop(0)
    return [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]


def expected_counts(levels: int, strand: str) -> list[int]:
    """Level k has k + 1 votes on the first strand; the second strand is voted upside down."""
    counts = [level + 1 for level in range(1, levels + 1)]
    return counts if strand == FIRST else counts[::-1]


def run_workshop(app: Flask, facilitator: FlaskClient, levels: int) -> tuple[int, Any]:
    """Upload the framework, record desk ratings at the top of the scale, and have the phones
    vote on both strands. Returns the assessment id and the console's last state."""
    made = post_form(
        facilitator,
        "/facilitator/assessments/new",
        {
            "area": "Borsetshire",
            "period": "2026",
            "framework_file": (io.BytesIO(framework_yaml(levels)), f"local-{levels}.yaml"),
        },
        content_type="multipart/form-data",
    )
    assert made.status_code == 302, made.get_data(True)
    aid = int(re.search(r"/assessments/(\d+)", made.headers["Location"]).group(1))  # type: ignore[union-attr]
    desk = post_form(
        facilitator,
        f"/facilitator/assessments/{aid}/desk",
        {f"level-{FIRST}": str(levels), f"level-{SECOND}": f"{levels - 1}-{levels}"},
    )
    assert desk.status_code == 302, desk.get_data(True)

    session = make_session(
        app, aid, strand_keys=[FIRST, SECOND], locality="", collect_profile=False
    )
    console = screen(app, facilitator, "console", session.id)
    plan = planned_votes(levels)
    phones = [phone(app, session.join_code) for _ in plan]
    assert control(console, action="open", strand=FIRST)["ok"]
    for p, level in zip(phones, plan, strict=True):
        assert vote(p, FIRST, level)["ok"]
    assert control(console, action="open", strand=SECOND)["ok"]
    for p, level in zip(phones, plan, strict=True):
        assert vote(p, SECOND, levels + 1 - level)["ok"]
    state = last(received(console), "state")
    for client in [*phones, console]:
        client.disconnect()
    return aid, state


@pytest.fixture(params=SCALES, ids=[f"{n}-levels" for n in SCALES])
def workshop(request: pytest.FixtureRequest, app: Flask, facilitator: FlaskClient) -> Any:
    levels = request.param
    aid, state = run_workshop(app, facilitator, levels)
    return levels, aid, state


def test_the_screens_get_one_colour_per_level(workshop: Any) -> None:
    levels, _aid, state = workshop
    assert [lv["name"] for lv in state["levels"]] == list(LEVEL_NAMES[levels])
    assert [lv["colour"] for lv in state["levels"]] == list(level_colours(levels))
    by_key = {s["key"]: s for s in state["strands"]}
    assert by_key[FIRST]["counts"] == expected_counts(levels, FIRST)


def test_results_page_and_chart_show_every_level(workshop: Any, facilitator: FlaskClient) -> None:
    levels, aid, _ = workshop
    names = list(LEVEL_NAMES[levels])
    html = facilitator.get(f"/facilitator/assessments/{aid}/results").get_data(True)
    tables = Tables(html)
    for key, name in STRANDS:
        rows = tables.captioned(f"Votes per level for {name}, by forum")
        assert rows[0][: levels + 2] == ["Forum", *names, "Votes"]
        total = next(r for r in rows if r[0] == "All forums")
        counts = expected_counts(levels, key)
        assert total[1 : levels + 2] == [str(n) for n in counts] + [str(sum(counts))]
        chart = re.search(rf'<svg[^>]*id="chart-{key}".*?</svg>', html, re.S)
        assert chart, f"no chart for {key}"
        legend = re.findall(
            r'width="12" height="12" fill="(#[0-9a-f]{6})"/><text[^>]*>([^<]*)</text>',
            chart.group(0),
        )
        assert [c for c, _ in legend] == list(level_colours(levels))
        assert [n.removesuffix(" (desk)") for _, n in legend] == names
    scale = f"Mean score ({names[0]} = 1 to {names[-1]} = {levels})"
    assert scale in html
    assert "Early" not in html and "Mature" not in html
    svg = facilitator.get(f"/facilitator/assessments/{aid}/charts/{FIRST}.svg").get_data(True)
    assert sorted(set(re.findall(r'width="18"[^>]*fill="(#[0-9a-f]{6})"', svg))) == sorted(
        level_colours(levels)
    )


def test_report_shows_every_level(workshop: Any, facilitator: FlaskClient) -> None:
    levels, aid, _ = workshop
    names = list(LEVEL_NAMES[levels])
    html = facilitator.get(f"/facilitator/assessments/{aid}/report").get_data(True)
    rows = Tables(html).captioned("Ratings per strand")
    assert rows[0][3 : 3 + levels] == names
    first = next(r for r in rows if r[0].startswith("1. One family plan"))
    counts = expected_counts(levels, FIRST)
    assert first[1] == names[-1]  # the desk rating at the top of the scale
    assert first[3 : 3 + levels] == [f"{100 * n / sum(counts):.0f}%" for n in counts]
    assert first[3 + levels] == str(sum(counts))
    assert f"Median of partners' votes ({names[0]} = 1 to {names[-1]} = {levels})" in html
    assert "Early" not in html and "Mature" not in html


def test_workbook_shows_every_level(workshop: Any, facilitator: FlaskClient) -> None:
    levels, aid, _ = workshop
    names = list(LEVEL_NAMES[levels])
    data = facilitator.get(f"/facilitator/assessments/{aid}/assessment.xlsx").data
    book = openpyxl.load_workbook(io.BytesIO(data))
    summary = list(book["Summary"].iter_rows(values_only=True))
    header = summary[3]
    assert header[4 : 4 + levels] == tuple(names)
    assert f"Mean ({names[0]} = 1 to {names[-1]} = {levels})" in header
    shares = header.index(f"% {names[0]}")
    assert header[shares : shares + levels] == tuple(f"% {n}" for n in names)
    rows = {r[0]: r for r in summary[4:6]}
    assert list(rows["One family plan"][4 : 4 + levels]) == expected_counts(levels, FIRST)
    assert list(rows["A shared workforce"][4 : 4 + levels]) == expected_counts(levels, SECOND)
    charts = list(book["Charts"].iter_rows(values_only=True))
    assert charts[2][: levels + 2] == ("Strand", *names, "Votes")
    assert list(charts[3][1 : levels + 1]) == expected_counts(levels, FIRST)
    # The native charts: one bar colour per level, the pages' colours, labels above the bars.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = [archive.read(n).decode() for n in archive.namelist() if "charts/chart" in n]
    assert len(xml) == 2
    for chart in xml:
        fills = re.findall(r'<c:dPt>.*?<a:srgbClr val="([0-9A-Fa-f]{6})"', chart, re.S)
        assert ["#" + f.lower() for f in fills] == list(level_colours(levels))
        # No position is Excel's default for columns, outside the end: never on a dark fill.
        assert set(re.findall(r'<c:dLblPos val="(\w+)"', chart)) <= {"outEnd"}
        assert '<c:showVal val="1"/>' in chart


def test_summary_csv_votes_csv_and_json_show_every_level(
    workshop: Any, facilitator: FlaskClient
) -> None:
    levels, aid, _ = workshop
    names = list(LEVEL_NAMES[levels])
    base = f"/facilitator/assessments/{aid}"
    summary = csv_rows(facilitator.get(f"{base}/summary.csv").get_data(True))
    first = next(r for r in summary if r["strand_key"] == FIRST)
    counts = expected_counts(levels, FIRST)
    keys = level_keys(levels)
    assert [first[f"n_{k}"] for k in keys] == [str(n) for n in counts]
    assert [float(first[f"pct_{k}"]) for k in keys] == [
        round(100 * n / sum(counts), 1) for n in counts
    ]
    assert first["desk_rating"] == names[-1]

    votes = csv_rows(facilitator.get(f"{base}/votes.csv").get_data(True))
    chosen = sorted((int(r["level_number"]), r["level"]) for r in votes if r["strand_key"] == FIRST)
    assert chosen == sorted((lv, names[lv - 1]) for lv in planned_votes(levels))

    for download in ("assessment.json", "raw.json"):
        document = json.loads(facilitator.get(f"{base}/{download}").get_data(True))
        assert [lv["name"] for lv in document["framework"]["levels"]] == names, download
    raw = json.loads(facilitator.get(f"{base}/raw.json").get_data(True))
    assert raw["tallies"][FIRST]["counts"] == counts
    board = json.loads(facilitator.get(f"{base}/assessment.json").get_data(True))
    analysed = board["analysis"]["strands"][SECOND]
    assert analysed["counts"] == expected_counts(levels, SECOND)
    assert analysed["median_label"] in names or "/" in analysed["median_label"]
    assert analysed["desk"] == f"{names[-2]}/{names[-1]}"
    assert analysed["desk_comparison"]["at"] == 2 + 3  # the two lowest levels, voted upside down


def test_votes_counted_by_hand_add_to_every_level(workshop: Any, facilitator: FlaskClient) -> None:
    """A paper count, entered per level on the hand counts form, adds to each of the N levels."""
    levels, aid, state = workshop
    url = f"/facilitator/sessions/{state['session']['id']}/hand-counts"
    page = facilitator.get(url).get_data(True)  # one box per level and strand
    for number in range(1, levels + 1):
        assert f'name="count-{FIRST}-{number}"' in page
    assert f'name="count-{FIRST}-{levels + 1}"' not in page
    paper = {f"count-{FIRST}-{n}": str(n) for n in range(1, levels + 1)}
    saved = post_form(facilitator, url, {"record": "counts", "method": "paper", **paper})
    assert saved.status_code == 302, saved.get_data(True)
    rows = csv_rows(facilitator.get(f"/facilitator/assessments/{aid}/summary.csv").get_data(True))
    first = next(r for r in rows if r["strand_key"] == FIRST)
    expected = [n + level for level, n in enumerate(expected_counts(levels, FIRST), start=1)]
    assert [first[f"n_{k}"] for k in level_keys(levels)] == [str(n) for n in expected]
