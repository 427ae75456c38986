"""The assessment as an Excel workbook for the board paper: a summary per strand, a sheet per
session, the groups and native charts. For the board, safe to circulate: it holds no vote and no
figure the results page hides (the raw votes are a separate download, docs/privacy.md).

The figures come from `results.gather` and `exports.summary_rows`, the same as the pages, the
summary CSV and the JSON, so nothing here works out a figure of its own. Hidden forums, groups
and strands are hidden exactly as on screen: the reason in words and no counts.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from voting import analysis
from voting.colours import RATING_COLOURS, level_colours
from voting.labels import FORUM_LABELS
from voting.reporting import disclosure, exports
from voting.reporting.results import Results, StrandResult

SUMMARY, DESK, CHARTS, GROUPS, FORUMS = "Summary", "Desk", "Charts", "Groups", "Forums"
ACTIONS, TRENDS = "Actions", "Trends"
MAX_SHEET_NAME = 31
NOT_GIVEN = "Did not say"  # the Groups sheet's row for those who skipped the question
# Excel refuses these in a sheet name; "History" is reserved for its change tracking.
FORBIDDEN_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
RESERVED_SHEET_NAMES = {"history"}
# Excel's own limit on the text of one cell.
MAX_CELL_TEXT = 32767

# Figures of exports.summary_rows that are numbers: written as numbers so they can be sorted
# and charted, from the same rounded text the CSV has, so the two files agree to the digit.
_WHOLE = {"votes", "forums"}
_DECIMAL = {
    "mean": "0.000",
    "sd": "0.000",
    "consensus": "0.000",
    "iqr": "0.000",
    "gap_median_minus_desk": "0.0",
    "pct_below_desk": "0.0",
    "pct_at_desk": "0.0",
    "pct_above_desk": "0.0",
}
_HEADINGS = {
    "strand_key": "Strand key",
    "strand": "Strand",
    "desk_rating": "Desk rating",
    "desk_evidence": "Key evidence",
    "desk_sources": "Sources of evidence",
    "agreed_rating": "Agreed rating",
    "votes": "Votes",
    "median": "Median",
    "modes": "Most chosen",
    "mean": "Mean",  # completed with the scale by summary_columns: "Mean (Early = 1 to …)"
    "sd": "Standard deviation",
    "consensus": "Consensus",
    "iqr": "Interquartile range",
    "split": "Split",
    "split_reason": "Split reason",
    "split_forums": "Forums where it split",
    "pct_below_desk": "% below desk",
    "pct_at_desk": "% at desk",
    "pct_above_desk": "% above desk",
    "gap_median_minus_desk": "Median minus desk (levels)",
    "forums": "Forums",
    "not_shown": "Not shown because",
    "summary": "Summary",
    "next_steps": "Next steps",
}
# What a board reader looks at first, then the sentence, then the rest of the figures.
_LEADING = ("strand", "desk_rating", "agreed_rating", "votes")
_MIDDLE = (
    "median",
    "consensus",
    "split",
    "split_reason",
    "split_forums",
    "pct_below_desk",
    "pct_at_desk",
    "pct_above_desk",
    "not_shown",
    "summary",
    "desk_evidence",
    "desk_sources",
    "next_steps",
)
_TRAILING = ("modes", "mean", "sd", "iqr", "gap_median_minus_desk", "forums", "strand_key")
_WIDE = {
    "summary": 70,
    "desk_evidence": 60,
    "desk_sources": 40,
    "next_steps": 50,
    "split_reason": 30,
    "split_forums": 30,
    "strand": 40,
}


def assessment_workbook(results: Results) -> bytes:
    """The .xlsx file for the board."""
    out = io.BytesIO()
    # No automatic conversions: a participant's "=1+1" or a URL-looking session name stays the
    # text it was. Text is also written with write_string throughout; this is the backstop.
    book = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    title = f"{results.assessment.area} {results.assessment.period}: maturity self-assessment"
    book.set_properties({"title": title, "subject": results.framework.name})
    styles = _Styles(book)
    taken = {name.casefold() for name in (SUMMARY, DESK, CHARTS, GROUPS, FORUMS, ACTIONS, TRENDS)}

    summary = book.add_worksheet(SUMMARY)
    desk = book.add_worksheet(DESK)
    charts_sheet = book.add_worksheet(CHARTS)
    session_sheets = []
    for session in results.sessions:
        name = sheet_name(session.name, taken)
        taken.add(name.casefold())
        session_sheets.append((session, book.add_worksheet(name)))
    groups = book.add_worksheet(GROUPS)
    forums = book.add_worksheet(FORUMS)
    actions = book.add_worksheet(ACTIONS)
    trends = book.add_worksheet(TRENDS) if results.trend else None

    _summary_sheet(summary, results, styles, title)
    _desk_sheet(desk, results, styles)
    _charts_sheet(book, charts_sheet, results, styles)
    for session, sheet in session_sheets:
        _session_sheet(sheet, results, session, styles)
    _groups_sheet(groups, results, styles)
    _forums_sheet(forums, results, styles)
    _actions_sheet(actions, results, styles)
    if trends is not None:
        _trends_sheet(book, trends, results, styles)
    book.close()
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Sheet names


def _utf16_length(text: str) -> int:
    # Excel counts a sheet name's length in UTF-16 units, so an emoji takes two of the 31.
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> str:
    while _utf16_length(text) > limit:
        text = text[:-1]
    return text.rstrip()


def sheet_name(raw: str, taken: Iterable[str]) -> str:
    """A session name made into a sheet name Excel accepts: no []:*?/\\, no control
    characters, no apostrophe at either end, at most 31 characters, not "History", and unique
    (ignoring case, as Excel does) among `taken`, which holds casefolded names."""
    taken = set(taken)
    text = FORBIDDEN_IN_SHEET_NAME.sub(" ", raw)
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = " ".join(text.split()).strip("'").strip()
    if not text or text.casefold() in RESERVED_SHEET_NAMES:
        text = f"Session {text}".strip()
    base = _fit(text, MAX_SHEET_NAME).strip("'").strip() or "Session"
    candidate, number = base, 1
    while candidate.casefold() in taken:
        number += 1
        suffix = f" ({number})"
        candidate = _fit(base, MAX_SHEET_NAME - len(suffix)).strip("'") + suffix
    return candidate


# --------------------------------------------------------------------------------------------
# Cells


class _Styles:
    def __init__(self, book: Workbook) -> None:
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.note = book.add_format({"italic": True, "text_wrap": True, "valign": "top"})
        self.header = book.add_format(
            {
                "bold": True,
                "bottom": 1,
                "text_wrap": True,
                "valign": "bottom",
                "bg_color": "#F3F2F1",
            }
        )
        self.text = book.add_format({"valign": "top"})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.whole = book.add_format({"num_format": "0", "valign": "top"})
        self.split = book.add_format({"bold": True, "bg_color": "#FCE4D6", "valign": "top"})
        self.suppressed = book.add_format({"italic": True, "valign": "top"})
        self.decimals: dict[str, Format] = {}
        for pattern in set(_DECIMAL.values()):
            self.decimals[pattern] = book.add_format({"num_format": pattern, "valign": "top"})


def _text(sheet: Worksheet, row: int, col: int, value: str, fmt: Format | None = None) -> None:
    # write_string, never write: text beginning = + - @ must stay text, not become a formula.
    sheet.write_string(row, col, value[:MAX_CELL_TEXT], fmt)


# What XlsxWriter takes for a cell reference in a chart's title or series name ("Sheet!A1").
_LOOKS_LIKE_REFERENCE = re.compile(r"^=?[^!]+!\$?[A-Z]+\$?\d+")


def _chart_text(text: str) -> str:
    """Chart text that XlsxWriter (and so Excel) keeps as text: an invisible word joiner after
    each "!" of a title that would otherwise be read as a reference to another sheet."""
    return text.replace("!", "!\u2060") if _LOOKS_LIKE_REFERENCE.match(text) else text


def _cell(sheet: Worksheet, row: int, col: int, value: Any, fmt: Format | None = None) -> None:
    if value is None or value == "":
        sheet.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        _text(sheet, row, col, "yes" if value else "no", fmt)
    elif isinstance(value, int | float) and math.isfinite(value):
        sheet.write_number(row, col, value, fmt)
    else:
        _text(sheet, row, col, str(value), fmt)


def _header(sheet: Worksheet, row: int, headings: Sequence[str], styles: _Styles) -> None:
    for col, heading in enumerate(headings):
        _text(sheet, row, col, heading, styles.header)


def _hidden_label(reason: str | None, results: Results) -> str:
    """What a hidden forum, group or strand shows instead of its counts, and why."""
    return "not shown: " + disclosure.hidden_words(reason, results.min_group_size)


# --------------------------------------------------------------------------------------------
# Summary


def summary_columns(results: Results) -> list[tuple[str, str]]:
    """(key of exports.summary_rows, heading) in the order the Summary sheet shows them."""
    levels = results.framework.levels
    counts = [(f"n_{level.key}", level.name) for level in levels]
    shares = [(f"pct_{level.key}", f"% {level.name}") for level in levels]
    headings = {**_HEADINGS, "mean": f"Mean ({analysis.scale_words(results.level_names)})"}
    return [
        *((k, headings[k]) for k in _LEADING),
        *counts,
        *((k, headings[k]) for k in _MIDDLE),
        *shares,
        *((k, headings[k]) for k in _TRAILING),
    ]


def _summary_sheet(sheet: Worksheet, results: Results, styles: _Styles, title: str) -> None:
    columns = summary_columns(results)
    shares = {key for key, _ in columns if key.startswith("pct_")}
    _text(sheet, 0, 0, title, styles.title)
    forums = len(results.sessions)
    # No grand total of votes: with one strand hidden, it would give that strand's away.
    _text(
        sheet,
        1,
        0,
        f"{results.framework.name}. Votes from {forums} forum{'s' if forums != 1 else ''}, "
        "compared with the desk assessment. Counts are of each strand's latest round; "
        "percentages are of the votes (0 to 100).",
        styles.note,
    )
    _text(sheet, 2, 0, exports.FOR_THE_BOARD.format(min_size=results.min_group_size), styles.note)
    header_row = 3
    rounds_col = len(columns)
    _header(sheet, header_row, [heading for _, heading in columns], styles)
    _text(sheet, header_row, rounds_col, "After discussion", styles.header)
    rows = exports.summary_rows(results)
    for offset, (values, strand) in enumerate(zip(rows, results.strands, strict=True), start=1):
        row = header_row + offset
        if strand.rounds:
            # Not a column of the summary CSV: the round sentences already name their session.
            changes = "\n".join(f"{label}: {change.sentence}" for label, change in strand.rounds)
            _text(sheet, row, rounds_col, changes, styles.wrap)
        split = values["split"] == "yes"
        for col, (key, _) in enumerate(columns):
            value = values[key]
            if key == "split":
                _text(sheet, row, col, value, styles.split if split else styles.text)
            elif key in _WHOLE or key.startswith("n_"):
                _cell(sheet, row, col, value, styles.whole)
            elif key in _DECIMAL or key in shares:
                pattern = _DECIMAL.get(key, "0.0")
                number = float(value) if value != "" else None
                _cell(sheet, row, col, number, styles.decimals[pattern])
            else:
                _cell(sheet, row, col, value, styles.wrap if key in _WIDE else styles.text)
    for col, (key, _) in enumerate(columns):
        sheet.set_column(col, col, _WIDE.get(key, 12))
    sheet.set_column(rounds_col, rounds_col, 60)
    sheet.freeze_panes(header_row + 1, 1)
    if rows:
        sheet.autofilter(header_row, 0, header_row + len(rows), rounds_col)

    notes = [
        f"A strand, forum or group of fewer than {results.min_group_size} people is not shown "
        f'("fewer than {results.min_group_size} people"), nor is one whose figures would let a '
        "small group's votes be worked out from the other figures of this workbook, the "
        "results pages or the other downloads for the board.",
        "The votes themselves are not in this workbook: they are raw data, for the programme "
        "team only, in a separate download.",
        "Consensus is Tastle and Wierman's ordinal measure (1 = everyone chose one level, 0 = "
        "split between the extremes); a strand is split when votes cluster at two non-adjacent "
        "levels or consensus is below 0.5, in all the votes or in any forum shown.",
        results.framework.attribution,
    ]
    first = header_row + len(rows) + 2
    for i, note in enumerate(n for n in notes if n):
        _text(sheet, first + i, 0, note, styles.text)


# --------------------------------------------------------------------------------------------
# Desk assessment


def _desk_sheet(sheet: Worksheet, results: Results, styles: _Styles) -> None:
    """The programme team's self-assessment as Devon's table has it: per strand the rating,
    the key evidence and where that evidence comes from."""
    _text(sheet, 0, 0, "Desk assessment: rating, key evidence and sources", styles.title)
    _header(sheet, 2, ["Strand", "Desk rating", "Key evidence", "Sources of evidence"], styles)
    for row, strand in enumerate(results.strands, start=3):
        _text(sheet, row, 0, strand.label, styles.wrap)
        _text(sheet, row, 1, strand.desk_label or "not recorded", styles.text)
        _cell(sheet, row, 2, strand.desk_evidence, styles.wrap)
        _cell(sheet, row, 3, strand.desk_sources, styles.wrap)
    sheet.set_column(0, 0, 40)
    sheet.set_column(1, 1, 20)
    sheet.set_column(2, 2, 80)
    sheet.set_column(3, 3, 50)
    sheet.freeze_panes(3, 1)


# --------------------------------------------------------------------------------------------
# Forum register

REGISTER_HEADINGS = (
    "Forum",
    "Date",
    "Kind",
    "Locality",
    "How they voted",
    "Strands",
    "Joined",
    "Voted",
    "Sectors that took part",
)


def _forums_sheet(sheet: Worksheet, results: Results, styles: _Styles) -> None:
    """The forum register, as the report's appendix has it."""
    register = results.register
    _text(sheet, 0, 0, "Forum register", styles.title)
    _header(sheet, 2, REGISTER_HEADINGS, styles)
    row = 3
    for r in register.rows if register else []:
        _text(sheet, row, 0, r.name, styles.wrap)
        _cell(sheet, row, 1, r.held_on, styles.text)
        _text(sheet, row, 2, r.kind, styles.text)
        _cell(sheet, row, 3, r.locality, styles.text)
        _text(sheet, row, 4, r.method, styles.text)
        _text(sheet, row, 5, ", ".join(r.strands), styles.text)
        if r.head_count_note:
            _text(sheet, row, 6, r.head_count_note, styles.suppressed)
            _text(sheet, row, 7, r.head_count_note, styles.suppressed)
        else:
            _cell(sheet, row, 6, r.joined, styles.whole)
            _cell(sheet, row, 7, r.voted, styles.whole)
        _cell(sheet, row, 8, "; ".join(r.sectors), styles.wrap)
        row += 1
    if register is not None:
        row += 1
        _text(sheet, row, 0, "Core partners: " + "; ".join(register.core_partners), styles.text)
        missing = "; ".join(register.not_heard) or "none: every core partner took part"
        _text(sheet, row + 1, 0, f"Core partners not heard at any forum: {missing}", styles.text)
    sheet.set_column(0, 0, 36)
    sheet.set_column(1, 7, 13)
    sheet.set_column(8, 8, 60)
    sheet.freeze_panes(3, 1)


# --------------------------------------------------------------------------------------------
# Trends


TREND_HEADINGS = (
    "Strand",
    "Year",
    "Desk rating",
    "Partners (median)",
    "Agreed",
    "Desk (level)",
    "Partners (level)",
    "Agreed (level)",
)


def _trends_sheet(book: Workbook, sheet: Worksheet, results: Results, styles: _Styles) -> None:
    """Desk, partners' median and agreed rating per strand, one row per strand and year, in
    words and as levels (Developing/Maturing is 2.5), and a line chart per strand of the levels."""
    _text(sheet, 0, 0, "Ratings over the years", styles.title)
    scale = analysis.scale_words(results.level_names)
    _text(sheet, 1, 0, f"Levels: {scale}; halfway between two levels for a split.", styles.note)
    _header(sheet, 2, TREND_HEADINGS, styles)
    row = 3
    charted: list[tuple[StrandResult, int]] = []
    for strand in results.strands:
        first = row
        for year in results.trend:
            words = year.ratings.get(strand.key, ("", "", ""))
            levels = year.values.get(strand.key, (None, None, None))
            for col, value in enumerate((strand.label, year.label, *words, *levels)):
                _cell(sheet, row, col, value, styles.text)
            row += 1
        if any(v is not None for year in results.trend for v in year.values.get(strand.key, ())):
            charted.append((strand, first))
    sheet.set_column(0, 0, 40)
    sheet.set_column(1, 7, 18)
    for place, (strand, first) in enumerate(charted):
        chart = _trend_chart(book, results, strand, first, first + len(results.trend) - 1)
        # Beside the table, two charts to a row, each about 7 columns by 16 rows.
        sheet.insert_chart(2 + (place // 2) * 17, 9 + (place % 2) * 8, chart)


_TREND_MARKERS = {"desk": "square", "partners": "circle", "agreed": "diamond"}


def _trend_chart(
    book: Workbook, results: Results, strand: StrandResult, first: int, last: int
) -> Any:
    chart = book.add_chart({"type": "line"})
    assert chart is not None  # "line" is a type XlsxWriter knows
    for place, kind in enumerate(RATING_COLOURS):
        colour = RATING_COLOURS[kind]
        chart.add_series(
            {
                # The heading's cell, as the Charts sheet does: never a name XlsxWriter parses.
                "name": [TRENDS, 2, 5 + place],
                "categories": [TRENDS, first, 1, last, 1],
                "values": [TRENDS, first, 5 + place, last, 5 + place],
                "line": {"color": colour, "width": 2},
                # The same colours and shapes as the SVG chart, so no one needs the colours.
                "marker": {
                    "type": _TREND_MARKERS[kind],
                    "size": 8,
                    "fill": {"color": colour},
                    "border": {"color": "#FFFFFF"},
                },
            }
        )
    chart.set_title({"name": _chart_text(strand.label), "name_font": {"size": 11}})
    levels = len(results.level_names)
    chart.set_y_axis(
        {
            "name": analysis.scale_words(results.level_names),
            "name_font": {"size": 9, "bold": False},
            "min": 1,
            "max": levels,
            "major_unit": 1,
            "num_format": "0",
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
        }
    )
    chart.set_legend({"position": "bottom"})
    # A year with no rating leaves a gap in its line, rather than a drop to zero.
    chart.show_blanks_as("gap")
    return chart


# --------------------------------------------------------------------------------------------
# Action plan

ACTION_HEADINGS = ("Strand", "Action", "Owner", "Due", "Status")
PREVIOUS_HEADINGS = ("Strand", "Action", "Owner", "Status then", "Now")


def _actions_sheet(sheet: Worksheet, results: Results, styles: _Styles) -> None:
    """The action plan per strand, then what happened to the last assessment's actions."""
    _text(sheet, 0, 0, "Action plan", styles.title)
    _header(sheet, 2, ACTION_HEADINGS, styles)
    row = 3
    for strand in results.strands:
        for a in strand.actions:
            for col, value in enumerate((strand.label, a.text, a.owner, a.due, a.status)):
                _cell(sheet, row, col, value, styles.wrap)
            row += 1
    if row == 3:
        _text(sheet, row, 0, "No actions yet.", styles.note)
        row += 1
    last = results.actions_from
    if last is not None:
        row += 1
        _text(sheet, row, 0, f"Last time's actions ({last.area} {last.period})", styles.title)
        _header(sheet, row + 2, PREVIOUS_HEADINGS, styles)
        row += 3
        for strand in results.strands:
            for a in strand.previous_actions:
                now = a.now or "Not carried over"
                for col, value in enumerate((strand.label, a.text, a.owner, a.status, now)):
                    _cell(sheet, row, col, value, styles.wrap)
                row += 1
    sheet.set_column(0, 0, 36)
    sheet.set_column(1, 1, 60)
    sheet.set_column(2, 4, 16)


# --------------------------------------------------------------------------------------------
# Charts


def _charts_sheet(book: Workbook, sheet: Worksheet, results: Results, styles: _Styles) -> None:
    names = results.level_names
    _text(sheet, 0, 0, "Votes per level, all forums", styles.title)
    _header(sheet, 2, ["Strand", *names, "Votes", "Desk rating"], styles)
    for offset, strand in enumerate(results.strands, start=1):
        row = 2 + offset
        _text(sheet, row, 0, strand.label)
        if strand.hidden:
            _text(sheet, row, len(names) + 1, _hidden_label(strand.hidden, results), styles.note)
        else:
            for col, n in enumerate(strand.counts, start=1):
                sheet.write_number(row, col, n)
            sheet.write_number(row, len(names) + 1, strand.figures.n)
        _text(sheet, row, len(names) + 2, strand.desk_label or "not recorded")
    sheet.set_column(0, 0, 40)
    sheet.set_column(1, len(names) + 2, 12)

    voted = [(i, s) for i, s in enumerate(results.strands) if s.figures.n and not s.hidden]
    top = 2 + len(results.strands) + 2
    if not voted:
        # A chart with no data is an empty frame (XlsxWriter also warns and drops it), so say
        # so in words instead.
        _text(sheet, top, 0, "No votes yet, so there are no charts.", styles.note)
        return
    for place, (index, strand) in enumerate(voted):
        chart = _strand_chart(book, results, strand, data_row=3 + index)
        # Two charts side by side, each about 7 columns by 16 rows.
        sheet.insert_chart(
            top + (place // 2) * 17, 0 if place % 2 == 0 else 4, chart, {"x_offset": 0}
        )


def _strand_chart(book: Workbook, results: Results, strand: StrandResult, data_row: int) -> Any:
    levels = len(results.level_names)
    chart = book.add_chart({"type": "column"})
    assert chart is not None  # "column" is a type XlsxWriter knows
    chart.add_series(
        {
            # A reference to the strand's cell on this sheet, never the name as given: XlsxWriter
            # would read a name such as "x!A1" as a reference itself.
            "name": [CHARTS, data_row, 0],
            "categories": [CHARTS, 2, 1, 2, levels],
            "values": [CHARTS, data_row, 1, data_row, levels],
            # One colour per level, the same as the SVG charts on the pages.
            "points": [
                {"fill": {"color": colour}, "border": {"none": True}}
                for colour in level_colours(levels)
            ],
            # Excel's default for a column chart puts each count above its bar, in black on
            # white, never on a dark fill: keep it so.
            "data_labels": {"value": True},
            "gap": 60,
        }
    )
    votes = "1 vote" if strand.figures.n == 1 else f"{strand.figures.n} votes"
    chart.set_title({"name": _chart_text(f"{strand.label} ({votes})"), "name_font": {"size": 11}})
    desk = f"Desk rating: {strand.desk_label}" if strand.desk_label else "No desk rating"
    chart.set_x_axis({"name": desk, "name_font": {"size": 9, "bold": False}})
    peak = max(strand.counts)
    chart.set_y_axis(
        {
            "name": "Votes",
            "min": 0,
            "major_unit": max(1, math.ceil(peak / 5)),
            "num_format": "0",
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
        }
    )
    chart.set_legend({"none": True})
    return chart


# --------------------------------------------------------------------------------------------
# Sessions


def _session_sheet(sheet: Worksheet, results: Results, session: Any, styles: _Styles) -> None:
    names = results.level_names
    _text(sheet, 0, 0, session.name, styles.title)
    details = [
        session.held_on.isoformat() if session.held_on else "",
        FORUM_LABELS.get(session.forum_type, session.forum_type),
        session.locality or "",
    ]
    _text(sheet, 1, 0, " · ".join(d for d in details if d), styles.text)
    headings = [
        "Strand",
        *names,
        "Votes",
        "Median",
        "Consensus",
        "% below desk",
        "% at desk",
        "% above desk",
    ]
    _header(sheet, 3, headings, styles)
    row = 4
    share = styles.decimals["0.0"]
    for strand in results.strands:
        forum = next((f for f in strand.forums if f.session_id == session.id), None)
        if forum is None:
            continue
        _text(sheet, row, 0, strand.label, styles.text)
        votes_col = len(names) + 1
        if forum.suppressed:
            # The count itself would give the small group away, so it is words, not a number.
            _text(sheet, row, votes_col, _hidden_label(forum.hidden, results), styles.suppressed)
        else:
            fig, cmp = forum.figures, forum.comparison
            for col, n in enumerate(forum.counts, start=1):
                sheet.write_number(row, col, n, styles.whole)
            sheet.write_number(row, votes_col, fig.n, styles.whole)
            if fig.n:
                _text(sheet, row, votes_col + 1, analysis.level_label(fig.median, names))
                # Rounded as the Summary sheet and the CSV round it, so the sheets agree.
                consensus = None if fig.consensus is None else round(fig.consensus, 3)
                _cell(sheet, row, votes_col + 2, consensus, styles.decimals["0.000"])
                if cmp is not None:
                    _cell(sheet, row, votes_col + 3, round(cmp.pct_below, 1), share)
                    _cell(sheet, row, votes_col + 4, round(cmp.pct_at, 1), share)
                    _cell(sheet, row, votes_col + 5, round(cmp.pct_above, 1), share)
        row += 1
    if row == 4:
        _text(sheet, row, 0, "This session covered no strands.", styles.note)
    sheet.set_column(0, 0, 40)
    sheet.set_column(1, len(headings) - 1, 11)
    sheet.freeze_panes(4, 1)


# --------------------------------------------------------------------------------------------
# Groups


def _groups_sheet(sheet: Worksheet, results: Results, styles: _Styles) -> None:
    names = results.level_names
    headings = ["Strand", "Compared by", "Group", "People", *names, "Median", "Test"]
    _header(sheet, 0, headings, styles)
    row = 1
    for strand in results.strands:
        for seg in strand.segments:
            for group in seg.groups:
                _text(sheet, row, 0, strand.label)
                _text(sheet, row, 1, seg.heading)
                _text(sheet, row, 2, group.label)
                if group.hidden or group.counts is None or group.n is None:
                    _text(sheet, row, 3, _hidden_label(group.hidden, results), styles.suppressed)
                else:
                    sheet.write_number(row, 3, group.n, styles.whole)
                    for col, n in enumerate(group.counts, start=4):
                        sheet.write_number(row, col, n, styles.whole)
                    _text(sheet, row, 4 + len(names), analysis.level_label(group.median, names))
                _text(sheet, row, 5 + len(names), seg.test.sentence, styles.wrap)
                row += 1
            if seg.not_given or seg.not_given_hidden:
                # Those who did not say: their number only (their votes are the rest).
                _text(sheet, row, 0, strand.label)
                _text(sheet, row, 1, seg.heading)
                _text(sheet, row, 2, NOT_GIVEN)
                if seg.not_given_hidden:
                    _text(
                        sheet,
                        row,
                        3,
                        _hidden_label(seg.not_given_hidden, results),
                        styles.suppressed,
                    )
                else:
                    sheet.write_number(row, 3, seg.not_given, styles.whole)
                row += 1
    if row == 1:
        _text(sheet, row, 0, "No votes yet.", styles.note)
    sheet.set_column(0, 0, 40)
    sheet.set_column(1, 2, 24)
    sheet.set_column(3, 4 + len(names), 11)
    sheet.set_column(5 + len(names), 5 + len(names), 70)
    sheet.freeze_panes(1, 0)
    if row > 1:
        sheet.autofilter(0, 0, row - 1, len(headings) - 1)
