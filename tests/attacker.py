"""The attacker of issue #12: an analyst with only the circulated pages and downloads.

`read_everything` fetches what an assessment circulates (the results page across forums, every
session's results page, the printable report, the summary CSV, the workbook and the JSON
analysis) and parses each the way a reader would: HTML tables and chart descriptions, CSV rows,
openpyxl cells, JSON fields. Nothing is taken from the application's own objects.

Two parts of every output are about forums and years rather than strands, and are read too:
- the forum register (results pages, report appendix, workbook Forums sheet, JSON): a forum's
  head count of voters bounds its cell on each strand it covered (equals it when it covered one
  strand), "fewer than N people" bounds it below N, and a sector not listed for a forum means
  nobody of that sector was there;
- the trend over years (tables, the SVG chart's marks and description, the workbook Trends
  sheet and its chart's cells, JSON): this year's partners' median of a strand is a figure of
  its total, so it must be absent wherever the total is hidden, and agree with it elsewhere.

What it finds is a set of *cells*, each shown with its votes per level (or only its number of
people), or hidden with the reason given in words. Cells are keyed per strand:
    ("T",)                          the strand's total
    ("F", forum)                    one forum
    ("G", attribute, label)         a breakdown across forums (label None: did not say)
    ("S", forum, attribute, label)  the same breakdown on one forum's own page

`attack` then does what tau-Argus's audit does: every cell is a sum of *atoms* (the votes of
the people of one forum with one role, sector and locality), so every figure shown is a linear
equation on the atoms' votes per level; a cell hidden as "fewer than 5 people" holds 1 to 4,
one hidden "so that a small group's votes cannot be worked out" at least 5. For each truly
small cell it minimises and maximises the cell (people, then each level) by linear programming
(scipy's linprog, integrality relaxed) and reports it when every figure of it is pinned.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import numpy as np
import openpyxl
from flask.testing import FlaskClient
from scipy import sparse

from tests.downloads import Tables, section, trend_chart, trend_marks

HEADINGS = {
    "Role level": "role",
    "Sector or agency": "sector",
    "Participant's locality": "locality",
    "Kind of forum": "forum_type",
    "Session": "session",
}
SMALL, PROTECTS = "small", "protects"
Cell = tuple[Any, ...]


def reason_of(text: str) -> str:
    if "fewer than" in text:
        return SMALL
    assert "hidden so that a small group's votes cannot be worked out" in text, text
    return PROTECTS


@dataclass
class Published:
    """Everything one assessment circulates, per strand key."""

    levels: tuple[str, ...]
    counts: dict[str, dict[Cell, tuple[int, ...]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    people: dict[str, dict[Cell, int]] = field(default_factory=lambda: defaultdict(dict))
    hidden: dict[str, dict[Cell, str]] = field(default_factory=lambda: defaultdict(dict))
    # Breakdown tables as shown: (strand, scope forum or None, attribute) -> labels listed,
    # and whether "did not say" was given (a number or hidden) under it.
    listed: dict[tuple[str, str | None, str], set[str | None]] = field(default_factory=dict)
    rounds: list[tuple[str, list[int], list[int]]] = field(default_factory=list)
    # From the forum register: upper bounds on cells' people (a forum's voters bound its cell on
    # every strand it covered), and per forum the sectors listed as having taken part.
    at_most: dict[str, dict[Cell, int]] = field(default_factory=lambda: defaultdict(dict))
    sectors_of: dict[str, set[str]] = field(default_factory=dict)
    registers_read: list[str] = field(default_factory=list)
    # From the trend over years: this year's partners' median per strand (as a level, 2.5 for
    # halfway), and where each was read.
    medians: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))

    def show(self, strand: str, cell: Cell, counts: list[int], where: str) -> None:
        counts_t = tuple(counts)
        seen = self.counts[strand].get(cell)
        assert seen is None or seen == counts_t, f"{where}: {strand} {cell} {counts_t} != {seen}"
        self.counts[strand][cell] = counts_t
        self.size(strand, cell, sum(counts_t), where)

    def size(self, strand: str, cell: Cell, n: int, where: str) -> None:
        seen = self.people[strand].get(cell)
        assert seen is None or seen == n, f"{where}: {strand} {cell} has {n} people, not {seen}"
        assert strand not in self.hidden or cell not in self.hidden[strand], (
            f"{where}: {strand} {cell} shown here, hidden elsewhere"
        )
        self.people[strand][cell] = n

    def hide(self, strand: str, cell: Cell, text: str, where: str) -> None:
        assert cell not in self.people[strand], f"{where}: {strand} {cell} hidden, shown elsewhere"
        self.hidden[strand][cell] = reason_of(text)

    def bound(self, strand: str, cell: Cell, n: int) -> None:
        self.at_most[strand][cell] = min(n, self.at_most[strand].get(cell, n))

    def median(self, strand: str, value: float, where: str) -> None:
        self.medians[strand][where] = value


# --------------------------------------------------------------------------------------------
# The forum register


def _read_register_row(
    pub: Published,
    forum: str,
    covered: list[str],
    voted: int | None,
    note: str,
    sectors: set[str],
    where: str,
) -> None:
    """One forum's row: `covered` the strand keys it lists, `voted` its head count of voters
    (None when not shown, with `note` saying why)."""
    seen = pub.sectors_of.get(forum)
    assert seen is None or seen == sectors, f"{where}: {forum} sectors {sectors} != {seen}"
    pub.sectors_of[forum] = sectors
    pub.registers_read.append(where)
    if voted is not None:
        assert not note, (where, forum, note)
        if len(covered) == 1:
            # One strand: its voters are the forum's cell on that strand, as a number of people.
            if voted:
                pub.size(covered[0], ("F", forum), voted, f"register in {where}")
        else:
            for key in covered:
                pub.bound(key, ("F", forum), voted)
    elif "fewer than" in note.lower():
        small = int(re.search(r"fewer than (\d+)", note, re.I).group(1))  # type: ignore[union-attr]
        for key in covered:
            pub.bound(key, ("F", forum), small - 1)
    else:
        assert note.lower() == "not shown", (where, forum, note)


def _strand_keys(listed: str, strands: dict[str, str]) -> list[str]:
    """The register's strands column ("1, 4"): numbers, or names where a strand has none."""
    by_number = {label.split(". ", 1)[0]: key for key, label in strands.items()}
    by_name = {label.split(". ", 1)[-1]: key for key, label in strands.items()}
    return [by_number.get(s) or by_name[s] for s in listed.split(", ") if s]


def _read_register_html(pub: Published, html: str, strands: dict[str, str], where: str) -> None:
    match = re.search(r'<table[^>]*id="forum-register".*?</table>', html, re.S)
    assert match, f"no forum register in {where}"
    for _cls, cells in Tables(match.group(0)).tables[0][1:]:
        if len(cells) == 1:  # "No forums yet."
            continue
        forum, strands_text = cells[0], cells[5]
        if len(cells) == 9:
            voted, note, sectors_text = int(cells[7]), "", cells[8]
        else:  # the two head counts share one cell saying why they are not shown
            voted, note, sectors_text = None, cells[6], cells[7]
        sectors = (
            set() if sectors_text == "Not asked or not given" else set(sectors_text.split("; "))
        )
        _read_register_row(
            pub, forum, _strand_keys(strands_text, strands), voted, note, sectors, where
        )


# --------------------------------------------------------------------------------------------
# The trend over years


def _level_of(words: str, levels: tuple[str, ...]) -> float:
    """ "Developing" -> 2, "Developing/Maturing" -> 2.5."""
    parts = [levels.index(w) + 1 for w in words.split("/")]
    return sum(parts) / len(parts)


def _read_trend_html(pub: Published, html: str, strands: dict[str, str], where: str) -> None:
    """This year's partners' median from the trend table and from the chart (its marks and its
    description). This year is the trend's last column."""
    if 'id="trend-table"' not in html:
        return
    match = re.search(r'<table[^>]*id="trend-table".*?</table>', html, re.S)
    assert match
    rows = Tables(match.group(0)).tables[0]
    years = rows[0][1][1:]
    keys = {label: key for key, label in strands.items()}
    for _cls, cells in rows[2:]:
        partners = cells[1 + 3 * (len(years) - 1) + 1]
        if partners != "\u2013":
            pub.median(keys[cells[0]], _level_of(partners, pub.levels), f"trend table in {where}")
    svg = trend_chart(html)
    for (key, year, kind), value in trend_marks(svg, pub.levels).items():
        if year == years[-1] and kind == "partners":
            pub.median(key, value, f"trend chart in {where}")
    desc = svg.find("{http://www.w3.org/2000/svg}desc")
    assert desc is not None and desc.text
    for label, key in keys.items():
        found = re.search(
            rf"{re.escape(label)}: [^;]*{re.escape(years[-1])} desk rating .+? / "
            r"partners' median (.+?) / agreed rating",
            desc.text,
        )
        if found and found.group(1) != "none":
            pub.median(key, _level_of(found.group(1), pub.levels), f"trend chart text in {where}")


def _median_of(counts: tuple[int, ...]) -> float:
    votes = [level for level, n in enumerate(counts, start=1) for _ in range(n)]
    middle = len(votes) // 2
    return float(votes[middle]) if len(votes) % 2 else (votes[middle - 1] + votes[middle]) / 2


def check_medians(pub: Published) -> None:
    """A median shown for a strand whose total is hidden gives away a figure of a hidden cell;
    one shown beside the total's counts must be theirs."""
    for key, shown in pub.medians.items():
        assert ("T",) not in pub.hidden[key], f"{key}: total hidden, median shown in {shown}"
        assert pub.people[key].get(("T",)) != 0, f"{key}: nobody voted, median shown in {shown}"
        if ("T",) in pub.counts[key]:
            expected = _median_of(pub.counts[key][("T",)])
            wrong = {where: v for where, v in shown.items() if v != expected}
            assert not wrong, f"{key}: median {expected} from the counts, but {wrong}"


# --------------------------------------------------------------------------------------------
# Reading


def _numbers(cells: list[str]) -> list[int]:
    return [int(c) for c in cells]


def _forum_name(header: str, forums: set[str]) -> str:
    # A forum's row heading carries its locality after it (a line break in the page).
    return next(f for f in sorted(forums, key=len, reverse=True) if header.startswith(f))


def _read_page(
    pub: Published, html: str, strands: dict[str, str], forums: set[str], scope: str | None
) -> None:
    levels = len(pub.levels)
    where = f"results page {scope or 'across forums'}"
    keys = {label: key for key, label in strands.items()}
    for _cls, cells in Tables(html).tables[0][1:]:  # the summary table, one row per strand
        key = keys[cells[0]]
        if cells[2].startswith("Not voted on"):  # says so in words: nobody voted, so 0
            if scope is None:
                pub.size(key, ("T",), 0, where)
        elif cells[2].startswith("Not shown"):
            pub.hide(key, ("T",) if scope is None else ("F", scope), cells[2], where)
        elif scope is None:
            pub.size(key, ("T",), int(cells[2]), where)
        elif cells[2] != "0":
            pub.size(key, ("F", scope), int(cells[2]), where)
    for key in strands:
        body = section(html, f'id="strand-{key}"')
        tables = Tables(body).tables
        if not tables:
            continue
        for _cls, cells in tables[0][1:]:
            name = cells[0]
            cell: Cell = ("T",) if name == "All forums" else ("F", _forum_name(name, forums))
            if cells[1].startswith("Not shown"):
                pub.hide(key, cell, cells[1], where)
            else:
                counts = _numbers(cells[1 : levels + 1])
                assert int(cells[levels + 1]) == sum(counts)
                pub.show(key, cell, counts, where)
        for match in re.finditer(
            r"<caption>([^<]*)</caption>((?:(?!<caption>).)*?)</table>\s*"
            r"<p class=\"govuk-body\">(.*?)</p>",
            body,
            re.S,
        ):
            if unescape(match.group(1)) not in HEADINGS:
                continue
            attribute = HEADINGS[unescape(match.group(1))]
            rows = Tables(f"<table>{match.group(2)}</table>").tables[0][1:]
            listed: set[str | None] = set()
            for _cls, cells in rows:
                label = cells[0]
                listed.add(label)
                cell = ("G", attribute, label) if scope is None else ("S", scope, attribute, label)
                if cells[1].startswith("Not shown"):
                    pub.hide(key, cell, cells[1], where)
                else:
                    counts = _numbers(cells[2 : levels + 2])
                    assert int(cells[1]) == sum(counts)
                    pub.show(key, cell, counts, where)
            note = unescape(match.group(3))
            nobody: Cell = (
                ("G", attribute, None) if scope is None else ("S", scope, attribute, None)
            )
            said = re.search(r"\((\d+) did not say\.\)", note)
            if said:
                pub.size(key, nobody, int(said.group(1)), where)
                listed.add(None)
            elif "How many did not say is not shown" in note:
                pub.hide(key, nobody, note, where)
                listed.add(None)
            pub.listed[(key, scope, attribute)] = listed
        _read_charts(pub, key, body, forums, where)
    _read_register_html(pub, html, strands, where)
    if scope is None:
        _read_trend_html(pub, html, strands, where)


_SERIES = re.compile(r"(?:^|; |\. )([^;]+?): ((?:not shown, [^;.]+)|(?:[A-Za-z]+ \d+(?:, )?)+)")


def _read_charts(pub: Published, key: str, html: str, forums: set[str], where: str) -> None:
    for desc in re.findall(r"<desc[^>]*>(.*?)</desc>", html, re.S):
        text = unescape(desc)
        for label, figures in _SERIES.findall(text):
            label = label.strip()
            if label != "All forums" and label not in forums:
                continue
            cell: Cell = ("T",) if label == "All forums" else ("F", label)
            if figures.startswith("not shown"):
                pub.hide(key, cell, figures, f"chart in {where}")
            else:
                counts = [int(n) for n in re.findall(r"\d+", figures)]
                assert len(counts) == len(pub.levels), text
                pub.show(key, cell, counts, f"chart in {where}")


def _read_report(pub: Published, html: str, strands: dict[str, str], forums: set[str]) -> None:
    table = Tables(html).tables[0]
    for _cls, cells in table[1:]:
        key = next(k for k, label in strands.items() if cells[0].startswith(label))
        if cells[2].startswith("Not shown"):
            pub.hide(key, ("T",), cells[2], "report")
        elif cells[2].startswith("Not voted on"):
            pub.size(key, ("T",), 0, "report")
        else:
            pub.size(key, ("T",), int(cells[3 + len(pub.levels)]), "report")
    for key in strands:
        match = re.search(
            rf'<section[^>]*aria-labelledby="r-{key}"[^>]*>(.*?)</section>', html, re.S
        )
        if match:
            _read_charts(pub, key, match.group(1), forums, "report")
    _read_register_html(pub, html, strands, "report")
    _read_trend_html(pub, html, strands, "report")


def _read_summary_csv(pub: Published, text: str) -> None:
    first, rest = text.split("\r\n", 1)
    label = next(csv.reader([first]))[0]
    assert label.startswith("For the board"), label
    for row in csv.DictReader(io.StringIO(rest)):
        key = row["strand_key"]
        if row["not_shown"]:
            pub.hide(key, ("T",), row["not_shown"], "summary CSV")
            assert row["votes"] == "" and all(row[f"n_{n.lower()}"] == "" for n in pub.levels)
        else:
            counts = [int(row[f"n_{n.lower()}"]) for n in pub.levels]
            assert int(row["votes"]) == sum(counts)
            pub.show(key, ("T",), counts, "summary CSV")


def _read_json(pub: Published, document: dict[str, Any], strands: dict[str, str]) -> None:
    assert document["circulation"].startswith("For the board")
    for session in document["sessions"]:
        for strand in session["strands"]:
            assert "counts" not in strand and "votes" not in strand
    for key, strand in document["analysis"]["strands"].items():
        if strand["suppressed"]:
            pub.hide(key, ("T",), strand["not_shown"], "JSON")
        elif strand["counts"] is not None:
            pub.show(key, ("T",), strand["counts"], "JSON")
        for forum in strand["forums"]:
            if forum["suppressed"]:
                pub.hide(key, ("F", forum["name"]), forum["not_shown"], "JSON")
            else:
                pub.show(key, ("F", forum["name"]), forum["counts"], "JSON")
        for seg in strand["segments"]:
            attribute = seg["attribute"]
            for g in seg["groups"]:
                if g["suppressed"]:
                    pub.hide(key, ("G", attribute, g["label"]), g["not_shown"], "JSON")
                else:
                    assert g["n"] == sum(g["counts"])
                    pub.show(key, ("G", attribute, g["label"]), g["counts"], "JSON")
            if seg["not_given_not_shown"]:
                pub.hide(key, ("G", attribute, None), seg["not_given_not_shown"], "JSON")
            elif seg["not_given"]:
                pub.size(key, ("G", attribute, None), seg["not_given"], "JSON")
        for r in strand["rounds"]:
            pub.rounds.append((key, r["before"], r["after"]))
    keys = list(document["analysis"]["strands"])
    for forum in document["analysis"]["register"]["forums"]:
        covered = _strand_keys(", ".join(forum["strands"]), strands)
        note = forum["not_shown"] or ""
        voted = None if note else forum["voted"]
        _read_register_row(pub, forum["name"], covered, voted, note, set(forum["sectors"]), "JSON")
    trend = document["analysis"]["trend"]
    if trend:
        for key in keys:
            partners = trend[-1]["strands"].get(key, {}).get("partners")
            if partners:
                pub.median(key, _level_of(partners, pub.levels), "JSON trend")


def _read_workbook(pub: Published, data: bytes, strands: dict[str, str], forums: set[str]) -> None:
    book = openpyxl.load_workbook(io.BytesIO(data))
    by_label = {label: key for key, label in strands.items()}
    by_name = {label.split(". ", 1)[1]: key for key, label in strands.items()}
    assert "Votes" not in book.sheetnames
    assert any(
        isinstance(c.value, str) and c.value.startswith("For the board")
        for row in book["Summary"].iter_rows(max_row=3)
        for c in row
    )
    levels = list(pub.levels)

    def table(ws: Any, first: str = "Strand") -> list[dict[str, Any]]:
        header_row = next(r[0].row for r in ws.iter_rows(max_col=1) if r[0].value == first)
        header = [c.value for c in ws[header_row]]
        rows = []
        for cells in ws.iter_rows(min_row=header_row + 1, values_only=True):
            if cells[0] is None:
                break
            rows.append(dict(zip(header, cells, strict=False)))
        return rows

    for row in table(book["Summary"]):
        key = by_name.get(row["Strand"]) or by_label[row["Strand"]]
        if row["Not shown because"]:
            pub.hide(key, ("T",), row["Not shown because"], "workbook Summary")
            assert all(row[n] is None for n in [*levels, "Votes"])
        else:
            pub.show(key, ("T",), [row[n] for n in levels], "workbook Summary")
    for row in table(book["Charts"]):
        key = by_label[row["Strand"]]
        if row["Votes"] is None or isinstance(row["Votes"], str):
            pub.hide(key, ("T",), row["Votes"] or "", "workbook Charts")
        else:
            pub.show(key, ("T",), [row[n] for n in levels], "workbook Charts")
    for ws in book.worksheets:
        if ws.title in ("Summary", "Desk", "Charts", "Groups", "Forums", "Actions", "Trends"):
            continue
        forum = ws["A1"].value
        assert forum in forums
        for row in table(ws):
            key = by_label[row["Strand"]]
            if isinstance(row["Votes"], str):
                pub.hide(key, ("F", forum), row["Votes"], f"workbook {forum}")
            else:
                pub.show(key, ("F", forum), [row[n] for n in levels], f"workbook {forum}")
    for row in table(book["Forums"], "Forum"):
        if row["Forum"] == "No forums yet.":
            break
        note = row["Voted"] if isinstance(row["Voted"], str) else ""
        listed = row["Sectors that took part"]
        _read_register_row(
            pub,
            row["Forum"],
            _strand_keys(row["Strands"] or "", strands),
            None if note else row["Voted"],
            note,
            set(listed.split("; ")) if listed else set(),
            "workbook Forums",
        )
    if "Trends" in book.sheetnames:
        _read_trends_sheet(pub, book, by_label)
    for row in table(book["Groups"]):
        if row["Strand"] == "No votes yet.":
            break
        key = by_label[row["Strand"]]
        attribute = HEADINGS[row["Compared by"]]
        label = None if row["Group"] == "Did not say" else row["Group"]
        cell: Cell = ("G", attribute, label)
        if isinstance(row["People"], str):
            pub.hide(key, cell, row["People"], "workbook Groups")
        elif label is None:
            pub.size(key, cell, row["People"], "workbook Groups")
        else:
            pub.show(key, cell, [row[n] for n in levels], "workbook Groups")


def _read_trends_sheet(pub: Published, book: Any, by_label: dict[str, str]) -> None:
    """This year's partners' median in words and as a level, and what the sheet's charts plot:
    each chart's values are read through its cell references, as Excel would."""
    ws = book["Trends"]
    header_row = next(r[0].row for r in ws.iter_rows(max_col=1) if r[0].value == "Strand")
    header = [c.value for c in ws[header_row]]
    rows = [
        dict(zip(header, cells, strict=False))
        for cells in ws.iter_rows(min_row=header_row + 1, values_only=True)
        if cells[0] is not None
    ]
    this_year = rows[-1]["Year"]
    for row in rows:
        if row["Year"] != this_year:
            continue
        key = by_label[row["Strand"]]
        if row["Partners (median)"]:
            pub.median(key, _level_of(row["Partners (median)"], pub.levels), "workbook Trends")
        if row["Partners (level)"] is not None:
            pub.median(key, float(row["Partners (level)"]), "workbook Trends levels")
    column = header.index("Partners (level)") + 1
    for chart in ws._charts:
        for series in chart.series:
            sheet, cells = series.val.numRef.f.rsplit("!", 1)
            first, last = (int(re.sub(r"\D", "", c)) for c in cells.split(":"))
            col = re.match(r"\$?([A-Z]+)", cells).group(1)  # type: ignore[union-attr]
            if openpyxl.utils.column_index_from_string(col) != column:
                continue
            for r in range(first, last + 1):
                value = book[sheet.strip("'")].cell(r, column).value
                if ws.cell(r, 2).value == this_year and value is not None:
                    key = by_label[ws.cell(r, 1).value]
                    pub.median(key, float(value), "workbook trend chart")


def read_everything(
    client: FlaskClient,
    assessment_id: int,
    sessions: dict[str, int],
    strands: dict[str, str],
    levels: tuple[str, ...],
) -> Published:
    """Every figure the circulated outputs of one assessment show. `sessions` maps forum names
    to session ids and `strands` strand keys to labels: what a reader sees on the pages."""
    pub = Published(levels)
    forums = set(sessions)
    base = f"/facilitator/assessments/{assessment_id}"

    def get(url: str) -> Any:
        response = client.get(url)
        assert response.status_code == 200, url
        return response

    _read_page(pub, get(f"{base}/results").get_data(True), strands, forums, None)
    for name, sid in sessions.items():
        page = get(f"/facilitator/sessions/{sid}/results").get_data(True)
        _read_page(pub, page, strands, forums, name)
    _read_report(pub, get(f"{base}/report").get_data(True), strands, forums)
    _read_summary_csv(pub, get(f"{base}/summary.csv").get_data(True))
    _read_json(pub, json.loads(get(f"{base}/assessment.json").get_data(True)), strands)
    _read_workbook(pub, get(f"{base}/assessment.xlsx").get_data(), strands, forums)
    check_medians(pub)
    return pub


# --------------------------------------------------------------------------------------------
# The attack


@dataclass(frozen=True)
class Person:
    forum: str
    kind: str  # the kind of forum's label, as the pages name it
    role: str | None  # labels as the pages name them
    sector: str | None
    locality: str | None


def _value(atom: tuple[str, str, str | None, str | None, str | None], attribute: str) -> str | None:
    forum, kind, role, sector, locality = atom
    return {
        "role": role,
        "sector": sector,
        "locality": locality,
        "forum_type": kind,
        "session": forum,
    }[attribute]


def _members(cell: Cell, atoms: list[Any]) -> list[int]:
    if cell[0] == "T":
        return list(range(len(atoms)))
    if cell[0] == "F":
        return [i for i, a in enumerate(atoms) if a[0] == cell[1]]
    if cell[0] == "G":
        return [i for i, a in enumerate(atoms) if _value(a, cell[1]) == cell[2]]
    return [i for i, a in enumerate(atoms) if a[0] == cell[1] and _value(a, cell[2]) == cell[3]]


def attack(
    pub: Published,
    strand: str,
    truth: dict[Cell, int],
    covering: dict[str, str],
    min_size: int,
) -> list[str]:
    """The small cells of `strand` whose votes the attacker pins down exactly.

    `truth` holds every cell's real number of people (to know which are small); `covering`
    maps the forums that covered the strand to their kind's label (both shown on the pages)."""
    from scipy.optimize import linprog

    levels = len(pub.levels)
    labels: dict[str, set[str | None]] = {a: {None} for a in ("role", "sector", "locality")}
    for cell in [*pub.counts[strand], *pub.people[strand], *pub.hidden[strand], *truth]:
        if cell[0] == "G" and cell[1] in labels:
            labels[cell[1]].add(cell[2])
        if cell[0] == "S":
            labels[cell[2]].add(cell[3])
    atoms = [
        (forum, kind, role, sector, locality)
        for forum, kind in covering.items()
        for role, sector, locality in itertools.product(
            *(sorted(labels[a], key=lambda v: v or "") for a in ("role", "sector", "locality"))
        )
    ]
    width = len(atoms) * levels
    membership = {}

    def row(cell: Cell, level: int | None) -> np.ndarray:
        if cell not in membership:
            membership[cell] = np.array(_members(cell, atoms), dtype=int)
        out = np.zeros(width)
        members = membership[cell]
        for lv in range(levels) if level is None else [level]:
            out[members * levels + lv] = 1.0
        return out

    a_eq, b_eq, a_ub, b_ub = [], [], [], []
    for cell, counts in pub.counts[strand].items():
        for lv, n in enumerate(counts):
            a_eq.append(row(cell, lv))
            b_eq.append(n)
    for cell, n in pub.people[strand].items():
        a_eq.append(row(cell, None))
        b_eq.append(n)
    # A breakdown table lists every group with anyone in it: the ones it leaves out are empty.
    for (key, scope, attribute), listed in pub.listed.items():
        if key != strand:
            continue
        for label in (labels.get(attribute) or set()) - listed:
            cell = ("G", attribute, label) if scope is None else ("S", scope, attribute, label)
            a_eq.append(row(cell, None))
            b_eq.append(0)
    for cell, n in pub.at_most[strand].items():
        a_ub.append(row(cell, None))
        b_ub.append(n)
    # The register lists every sector anyone at a forum gave: the others had nobody there.
    for forum, listed in pub.sectors_of.items():
        if forum not in covering:
            continue
        for label in labels["sector"] - {None} - listed:
            a_eq.append(row(("S", forum, "sector", label), None))
            b_eq.append(0)
    for cell, reason in pub.hidden[strand].items():
        whole = row(cell, None)
        if reason == SMALL:
            a_ub += [whole, -whole]
            b_ub += [min_size - 1, -1]
        else:
            a_ub.append(-whole)
            b_ub.append(-min_size)
    # Atoms no equation mentions are free; the LP only needs those some figure constrains.
    problem = {
        "A_ub": sparse.csr_array(np.array(a_ub)) if a_ub else None,
        "b_ub": b_ub or None,
        "A_eq": sparse.csr_array(np.array(a_eq)) if a_eq else None,
        "b_eq": b_eq or None,
    }

    def bounds(objective: np.ndarray) -> tuple[float, float]:
        found = []
        for sign in (1, -1):
            result = linprog(sign * objective, bounds=(0, None), method="highs", **problem)
            if result.status == 3:  # unbounded: nothing shown limits it
                found.append(sign * -np.inf)
                continue
            assert result.status == 0, (
                f"the figures shown for {strand} are inconsistent: {result.message}"
            )
            found.append(sign * result.fun)
        return found[0], found[1]

    pinned = []
    for cell, n in truth.items():
        if not 0 < n < min_size:
            continue
        assert cell not in pub.counts[strand] and cell not in pub.people[strand], (
            f"{strand} {cell} of {n} people is shown"
        )
        low, high = bounds(row(cell, None))
        if high - low > 1e-6:
            continue
        per_level = [bounds(row(cell, lv)) for lv in range(levels)]
        if all(hi - lo <= 1e-6 for lo, hi in per_level):
            votes = [round(lo) for lo, _ in per_level]
            pinned.append(f"{strand} {cell}: {n} people, votes {votes} worked out")
    return pinned
