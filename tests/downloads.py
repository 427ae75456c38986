"""Every download of one assessment fetched through the real routes, and readers for what
comes back: tables of an HTML page, a sheet of the workbook, a section of the report."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import xml.etree.ElementTree as ET
from html import unescape
from html.parser import HTMLParser
from typing import Any

import openpyxl
from flask import Flask
from flask.testing import FlaskClient
from openpyxl.worksheet.worksheet import Worksheet

from tests.helpers import post_form
from voting.assessments import DeskEntry, create_assessment, save_desk_ratings
from voting.database import get_database
from voting.validation import parse_rating

SVG = "{http://www.w3.org/2000/svg}"
LABELS = {
    "family-experience": "1. The family experience of transformed services",
    "leadership": "2. Leadership",
    "strategy": "3. Strategy",
    "culture": "4. Culture",
    "workforce-development": "5. Workforce development",
    "delivery": "6. Delivery structures and processes",
}


def new_assessment(app: Flask, localities: list[str], desk: dict[str, str]) -> int:
    with app.app_context():
        framework = app.extensions["voting_frameworks"]["early-help-2016"]
        aid = create_assessment(get_database(), "Hertfordshire", "2017", framework, localities)
        entries = [
            DeskEntry(key, *parse_rating(rating), f"Evidence for {key}.", "Audit")
            for key, rating in desk.items()
        ]
        save_desk_ratings(get_database(), aid, entries)
    return aid


def save_agreed(
    facilitator: FlaskClient, assessment_id: int, agreed: dict[str, tuple[str, str]]
) -> Any:
    data: dict[str, str] = {}
    for key, (level, steps) in agreed.items():
        data[f"level-{key}"] = level
        data[f"next-{key}"] = steps
    return post_form(facilitator, f"/facilitator/assessments/{assessment_id}/agreed", data)


class Downloads:
    """Every view of one assessment, fetched once."""

    def __init__(self, facilitator: FlaskClient, assessment_id: int) -> None:
        base = f"/facilitator/assessments/{assessment_id}"
        self.results_html = ok(facilitator.get(f"{base}/results")).get_data(True)
        self.report_html = ok(facilitator.get(f"{base}/report")).get_data(True)
        summary = ok(facilitator.get(f"{base}/summary.csv"))
        assert summary.mimetype == "text/csv"
        self.summary_label, rows = labelled_csv(summary.get_data(True))
        self.summary = {r["strand_key"]: r for r in rows}
        votes = ok(facilitator.get(f"{base}/votes.csv")).get_data(True)
        self.votes_label, self.votes = labelled_csv(votes)
        book = ok(facilitator.get(f"{base}/assessment.xlsx"))
        assert book.mimetype == (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        assert "attachment" in book.headers["Content-Disposition"]
        self.workbook = openpyxl.load_workbook(io.BytesIO(book.get_data()))
        self.json = json.loads(ok(facilitator.get(f"{base}/assessment.json")).get_data(True))
        self.raw_json = json.loads(ok(facilitator.get(f"{base}/raw.json")).get_data(True))

    @property
    def analysis(self) -> dict[str, Any]:
        return self.json["analysis"]["strands"]  # type: ignore[no-any-return]


def labelled_csv(text: str) -> tuple[str, list[dict[str, str]]]:
    """A download's first row (what kind of file it is) and the rows under its header."""
    label, rest = text.split("\r\n", 1)
    return next(csv.reader([label]))[0], list(csv.DictReader(io.StringIO(rest)))


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.get_data(True)[:2000]
    return response


def sheet_table(ws: Worksheet, header_row: int) -> tuple[list[Any], list[dict[str, Any]]]:
    """The header cells of a sheet's table, and its rows (as heading -> value) down to the
    first row with an empty first cell."""
    header = [c.value for c in ws[header_row]]
    while header and header[-1] is None:
        header.pop()
    rows = []
    for cells in ws.iter_rows(min_row=header_row + 1, values_only=True):
        if cells[0] is None:
            break
        rows.append(dict(zip(header, cells, strict=False)))
    return header, rows


def header_row_of(ws: Worksheet, first: str = "Strand") -> int:
    return next(row[0].row for row in ws.iter_rows(max_col=1) if row[0].value == first)


def by_strand(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows keyed by strand key, from a Strand column holding the label or the bare name."""
    keys = {label: key for key, label in LABELS.items()}
    keys |= {label.split(". ", 1)[1]: key for key, label in LABELS.items()}
    return {keys.get(r["Strand"], r["Strand"]): r for r in rows}


class Tables(HTMLParser):
    """Every <table> of a page as rows of cell text (th and td), with each row's class."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[list[tuple[str, list[str]]]] = []
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append((dict(attrs).get("class") or "", []))
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def section(html: str, marker: str) -> str:
    """The HTML of the <section> whose opening tag contains `marker` (strand sections hold
    no nested sections)."""
    match = re.search(rf"<section[^>]*{re.escape(marker)}[^>]*>(.*?)</section>", html, re.S)
    assert match, f"no section {marker!r}"
    return match.group(1)


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def summary_table(html: str) -> dict[str, list[str]]:
    """The results page's summary table: strand label -> cells."""
    table = Tables(html).tables[0]
    assert table[0][1][0] == "Strand"
    keys = {label: key for key, label in LABELS.items()}
    return {keys[cells[0]]: cells for _, cells in table[1:]}


def forum_table(html: str, key: str) -> dict[str, list[str]]:
    """A strand's distribution table on the results page: forum -> cells."""
    table = Tables(section(html, f'id="strand-{key}"')).tables[0]
    return {cells[0]: cells[1:] for _, cells in table[1:]}


def groups_table(html: str, key: str, caption: str) -> dict[str, list[str]]:
    body = section(html, f'id="strand-{key}"')
    match = re.search(
        rf"<table[^>]*>\s*<caption>{re.escape(caption)}</caption>.*?</table>", body, re.S
    )
    assert match, f"no {caption!r} table for {key}"
    table = Tables(match.group(0)).tables[0]
    return {cells[0]: cells[1:] for _, cells in table[1:]}


def trend_chart(html: str) -> ET.Element:
    """The trend over years chart of a page, as XML."""
    found = re.search(r'<svg [^>]*id="trend-chart".*?</svg>', html, re.DOTALL)
    assert found, "no trend chart on the page"
    return ET.fromstring(found.group(0))


def trend_marks(svg: ET.Element, level_names: tuple[str, ...]) -> dict[tuple[str, str, str], float]:
    """(strand, year, kind) -> the level each mark is drawn at, read from its position between
    the panel's own level lines (the text labels of the y axis)."""
    found = {}
    for panel in svg.iter(f"{SVG}g"):
        if panel.get("class") != "trend-panel":
            continue
        strand = panel.get("data-strand", "")
        ticks = {
            t.text: float(t.get("y", "0")) - 4
            for t in panel.iter(f"{SVG}text")
            if t.get("class") == "trend-level"
        }
        assert list(ticks) == list(level_names), ticks
        ys = [ticks[name] for name in level_names]
        per_level = ys[0] - ys[1]
        assert per_level > 0 and all(
            abs((a - b) - per_level) < 0.2 for a, b in itertools.pairwise(ys)
        ), ys
        for mark in panel.iter(f"{SVG}g"):
            if mark.get("class") != "trend-mark":
                continue
            move = re.fullmatch(r"translate\(([\d.]+) ([\d.]+)\)", mark.get("transform", ""))
            assert move, mark.attrib
            level = 1 + (ys[0] - float(move.group(2))) / per_level
            key = (strand, mark.get("data-year", ""), mark.get("data-kind", ""))
            assert key not in found, key
            found[key] = round(level * 2) / 2
            # Every mark's tooltip names its rating in words too.
            assert mark.find(f"{SVG}title") is not None
    return found
