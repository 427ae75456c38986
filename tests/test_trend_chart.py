"""The trend over years as a chart (issue 13): three assessments of the same area, each with
desk ratings, votes and (the earlier two) agreed ratings, drawn per strand and year in the
results page, the printable report, the SVG download and the workbook's native charts.

Each mark is read back from the real page and placed against the chart's own level lines, so a
mark drawn at the wrong level, for the wrong year or kind, or missing, fails.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.downloads import LABELS, SVG, Downloads, ok, save_agreed, trend_chart, trend_marks
from tests.workshops import LEVEL_NAMES, ForumPlan, run_forum
from voting.assessments import DeskEntry, create_assessment, save_desk_ratings
from voting.database import get_database
from voting.reporting import charts
from voting.validation import parse_rating

KINDS = ("desk", "partners", "agreed")

# Per year: desk ratings, the levels five phones vote (None: does not vote) and agreed ratings.
# Culture in 2016 has two votes only: too few to show, so its median is absent from the chart
# just as the table hides it.
PLAN: dict[str, dict[str, Any]] = {
    "2015": {
        "desk": {"delivery": "1", "culture": "2"},
        "votes": {"delivery": (1, 1, 1, 2, 2), "culture": (2, 2, 3, 3, 3)},
        "agreed": {"delivery": "1", "culture": "2-3"},
    },
    "2016": {
        "desk": {"delivery": "1-2", "culture": "2"},
        "votes": {"delivery": (2, 2, 2, 1, 3), "culture": (None, None, None, 2, 3)},
        "agreed": {"delivery": "2", "culture": "2"},
    },
    "2017": {
        "desk": {"delivery": "2", "culture": "3"},
        "votes": {"delivery": (2, 2, 3, 3, 4), "culture": (3, 3, 3, 4, 4)},
        "agreed": {},
    },
}
# The positions each mark must sit at: level, or halfway for a split rating (1-2 is 1.5).
EXPECTED = {
    ("delivery", "2015"): (1.0, 1.0, 1.0),
    ("delivery", "2016"): (1.5, 2.0, 2.0),
    ("delivery", "2017"): (2.0, 3.0, None),
    ("culture", "2015"): (2.0, 3.0, 2.5),
    ("culture", "2016"): (2.0, None, 2.0),
    ("culture", "2017"): (3.0, 3.0, None),
}


def three_years(app: Flask, facilitator: FlaskClient) -> int:
    """The three assessments, oldest first; returns the 2017 one's id."""
    aid = 0
    for period, plan in PLAN.items():
        with app.app_context():
            framework = app.extensions["voting_frameworks"]["early-help-2016"]
            aid = create_assessment(get_database(), "Hertfordshire", period, framework, [])
            entries = [
                DeskEntry(key, *parse_rating(rating), f"Evidence {period}.", "Audit")
                for key, rating in plan["desk"].items()
            ]
            save_desk_ratings(get_database(), aid, entries)
        forum = ForumPlan(f"Forum {period}", "mixed", "", (None,) * 5, plan["votes"])
        run_forum(app, facilitator, aid, forum)
        if plan["agreed"]:
            agreed = {key: (level, "") for key, level in plan["agreed"].items()}
            assert save_agreed(facilitator, aid, agreed).status_code in (200, 302)
    return aid


def expected_marks() -> dict[tuple[str, str, str], float]:
    return {
        (strand, year, kind): value
        for (strand, year), values in EXPECTED.items()
        for kind, value in zip(KINDS, values, strict=True)
        if value is not None
    }


def check_chart(svg: ET.Element) -> None:
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and title.text == "Ratings over the years, 2015, 2016 and 2017"
    assert desc is not None and desc.text
    assert f"{LABELS['delivery']}: 2015 desk rating Early" in desc.text
    assert svg.get("aria-labelledby") == "trend-chart-title trend-chart-desc"
    marks = trend_marks(svg, LEVEL_NAMES)
    mine = {k: v for k, v in marks.items() if k[0] in ("delivery", "culture")}
    assert mine == expected_marks()
    # Strands nobody rated in any year have a panel and no marks.
    assert {k[0] for k in marks} == {"delivery", "culture"}
    # The x position orders the years: each kind's marks run left to right, 2015 first.
    xs = {
        (m.get("data-kind"), m.get("data-year")): float(
            m.get("transform", "").split("(")[1].split()[0]
        )
        for p in svg.iter(f"{SVG}g")
        if p.get("data-strand") == "delivery"
        for m in p.iter(f"{SVG}g")
        if m.get("class") == "trend-mark"
    }
    assert xs[("desk", "2015")] < xs[("desk", "2016")] < xs[("desk", "2017")]


def test_the_trend_chart_shows_each_year_and_kind_in_the_results_report_and_svg(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = three_years(app, facilitator)
    got = Downloads(facilitator, aid)
    for html in (got.results_html, got.report_html):
        check_chart(trend_chart(html))
        # The table stays as the chart's text alternative, next to it.
        assert html.index('id="trend-chart"') < html.index('id="trend-table"')
    assert f'href="/facilitator/assessments/{aid}/trend.svg"' in got.results_html
    assert 'data-chart="trend-chart"' in got.results_html
    download = ok(facilitator.get(f"/facilitator/assessments/{aid}/trend.svg"))
    assert download.mimetype == "image/svg+xml"
    assert "attachment" in download.headers["Content-Disposition"]
    check_chart(ET.fromstring(download.get_data(True)))


def test_no_trend_chart_without_an_earlier_assessment(app: Flask, facilitator: FlaskClient) -> None:
    with app.app_context():
        framework = app.extensions["voting_frameworks"]["early-help-2016"]
        aid = create_assessment(get_database(), "Dacorum", "2017", framework, [])
    results = ok(facilitator.get(f"/facilitator/assessments/{aid}/results")).get_data(True)
    assert 'id="trend-chart"' not in results
    assert facilitator.get(f"/facilitator/assessments/{aid}/trend.svg").status_code == 404


def _cells(book: Any, formula: str) -> list[Any]:
    """The values a chart's reference ('Trends'!$F$4:$F$6) points at."""
    sheet, cells = formula.rsplit("!", 1)
    ws = book[sheet.strip("'")]
    found = ws[cells.replace("$", "")]
    if not isinstance(found, tuple):  # one cell
        return [found.value]
    return [c.value for row in found for c in row]


def _title(chart: Any) -> str:
    return "".join(run.t for p in chart.title.tx.rich.p for run in (p.r or []))


def test_the_workbook_trend_sheet_has_a_line_chart_per_strand_on_its_cells(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = three_years(app, facilitator)
    response = ok(facilitator.get(f"/facilitator/assessments/{aid}/assessment.xlsx"))
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    charts = {_title(c): c for c in book["Trends"]._charts}
    # A chart for each strand rated in some year, and none for a strand nobody rated.
    assert set(charts) == {LABELS["delivery"], LABELS["culture"]}
    for key in ("delivery", "culture"):
        chart = charts[LABELS[key]]
        assert chart.tagname == "lineChart"
        assert len(chart.series) == 3
        for kind, series in zip(KINDS, chart.series, strict=True):
            assert _cells(book, series.tx.strRef.f) == [
                {
                    "desk": "Desk (level)",
                    "partners": "Partners (level)",
                    "agreed": "Agreed (level)",
                }[kind]
            ]
            years = series.cat.strRef.f if series.cat.strRef else series.cat.numRef.f
            assert [str(y) for y in _cells(book, years)] == list(PLAN)
            values = _cells(book, series.val.numRef.f)
            place = KINDS.index(kind)
            assert values == [EXPECTED[(key, year)][place] for year in PLAN], (key, kind)
            # Rows the chart reads are this strand's rows, not a neighbour's.
            first = int(re.search(r"\$(\d+):", series.val.numRef.f).group(1))  # type: ignore[union-attr]
            assert book["Trends"].cell(first, 1).value == LABELS[key]
        assert chart.y_axis.scaling.min == 1 and chart.y_axis.scaling.max == len(LEVEL_NAMES)
    # The chart is in the file itself, as Excel reads it.
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as xlsx:
        drawn = [n for n in xlsx.namelist() if n.startswith("xl/charts/chart")]
        xml = "".join(xlsx.read(n).decode() for n in drawn)
    assert xml.count("<c:lineChart>") == 2


@pytest.mark.parametrize("levels", range(2, 8))
def test_the_trend_chart_places_marks_on_any_scale_of_two_to_seven_levels(levels: int) -> None:
    names = tuple(f"Level {chr(64 + i)}" for i in range(1, levels + 1))
    top, middle = float(levels), (1 + levels) / 2
    ratings = [(1.0, top, None), (1.5, None, middle), (top, 2.0, 1.0)]
    svg = charts.trend_lines(
        "trend-chart", "t", "d", names, ["2015", "2016", "2017"], [("s", "S", ratings)]
    )
    marks = trend_marks(ET.fromstring(svg), names)
    assert marks == {
        ("s", year, kind): value
        for year, values in zip(["2015", "2016", "2017"], ratings, strict=True)
        for kind, value in zip(KINDS, values, strict=True)
        if value is not None
    }
