"""Charts as SVG, drawn on the server: no script needed to see them, the same file downloads,
and each carries a title and a text description (the page also shows the data as a table)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from html import escape  # quotes too: names and years go into attributes
from typing import NamedTuple

from voting.analysis import level_label
from voting.colours import RATING_COLOURS, WARNING, level_colours

# Level colours come from voting/colours.py (the same on every page and in the workbook); every
# bar also has its level named in the legend and its count written above it.
TEXT = "#0b0c0c"
GRID = "#b1b4b6"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"


def grouped_bars(
    chart_id: str,
    title: str,
    description: str,
    level_names: Sequence[str],
    series: Sequence[tuple[str, Sequence[int] | None]],
    desk_levels: Sequence[int] = (),
    note: str | None = None,
) -> str:
    """One group of bars per series (a forum, say), one bar per level, coloured by level.

    A series whose counts are None is suppressed and drawn as a note instead of bars. `note` is
    a line printed on the chart itself, so that a split room shows in the picture too.
    """
    levels = len(level_names)
    colours = level_colours(levels)
    bar, gap, group_gap = 18, 4, 28
    group_width = levels * (bar + gap) + group_gap
    left, top, plot_height, label_room = 44, 56, 180, 64
    legend_width = left + sum(
        24 + 7 * len(n + (" (desk)" if i + 1 in desk_levels else ""))
        for i, n in enumerate(level_names)
    )
    # The note is bold and not wrapped: wide enough for it, so a forum it names is not cut off.
    note_width = left + 8 * len(note) if note else 0
    width = max(left + group_width * max(len(series), 1) + 20, legend_width, note_width, 420)
    height = top + plot_height + label_room + 16
    peak = max([max(c) for _, c in series if c] or [0]) or 1
    scale = plot_height / peak
    parts = [
        *_svg_open(chart_id, title, description, width, height),
    ]
    parts += _legend(level_names, colours, desk_levels, left)
    if note:
        parts.append(
            f'<text x="{left}" y="44" fill="{WARNING}" font-weight="700">{escape(note)}</text>'
        )
    baseline = top + plot_height
    for step in _ticks(peak):
        y = baseline - step * scale
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" '
            f'stroke-width="1"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="{TEXT}">{step}</text>'
        )
    for index, (label, counts) in enumerate(series):
        x0 = left + 10 + index * group_width
        if counts is None:
            parts.append(
                # Why it is hidden (a small group, or to protect one) is in the description.
                f'<text x="{x0}" y="{baseline - 10}" fill="{TEXT}">not shown</text>'
            )
        else:
            for level, n in enumerate(counts):
                x = x0 + level * (bar + gap)
                h = n * scale
                parts.append(
                    f'<rect x="{x}" y="{baseline - h:.1f}" width="{bar}" height="{h:.1f}" '
                    f'fill="{colours[level]}"/>'
                )
                parts.append(
                    f'<text x="{x + bar / 2}" y="{baseline - h - 3:.1f}" text-anchor="middle" '
                    f'fill="{TEXT}">{n}</text>'
                )
        parts += _wrapped_label(label, x0, baseline + 18, levels * (bar + gap))
    parts.append(
        f'<line x1="{left}" x2="{width - 10}" y1="{baseline}" y2="{baseline}" stroke="{TEXT}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


# The kinds of rating on the trend chart, in the order of a TrendYear's values: each with its
# colour and its own marker shape, so no one needs the colours to tell them apart.
TREND_KINDS = (
    ("desk", "Desk rating", "square"),
    ("partners", "Partners' median", "circle"),
    ("agreed", "Agreed rating", "diamond"),
)
Ratings = tuple[float | None, float | None, float | None]


def trend_lines(
    chart_id: str,
    title: str,
    description: str,
    level_names: Sequence[str],
    years: Sequence[str],
    strands: Sequence[tuple[str, str, Sequence[Ratings]]],
) -> str:
    """Small multiples, one panel per strand (key, label, one (desk, partners, agreed) per
    year): each kind of rating a line of marks across the years on the level scale.

    A rating of None (none recorded, or hidden) leaves a gap in its line. The marks of the three
    kinds sit a little apart within a year, so equal ratings stay visible side by side.
    """
    levels = len(level_names)
    step = 64
    names_width = min(120, 7 * max(len(n) for n in level_names) + 12)
    plot_width = step * max(len(years), 1)
    panel_width = names_width + plot_width + 24
    columns = max(1, min(len(strands), 3, 960 // panel_width))
    plot_height = max(96, 24 * (levels - 1))
    head, foot = 52, 28
    panel_height = head + plot_height + foot
    rows = math.ceil(len(strands) / columns)
    top = 40
    width = max(columns * panel_width + 16, 420)
    height = top + rows * panel_height + 8
    parts = [
        *_svg_open(chart_id, title, description, width, height),
    ]
    x = 16
    for kind, name, shape in TREND_KINDS:
        parts.append(_marker(shape, RATING_COLOURS[kind], x + 6, 20))
        parts.append(f'<text x="{x + 16}" y="24" fill="{TEXT}">{escape(name)}</text>')
        x += 32 + 7 * len(name)
    for index, (key, label, ratings) in enumerate(strands):
        row, column = divmod(index, columns)
        parts += _trend_panel(
            key,
            label,
            ratings,
            level_names,
            years,
            x0=8 + column * panel_width,
            y0=top + row * panel_height,
            names_width=names_width,
            plot=(plot_width, plot_height, head),
        )
    parts.append("</svg>")
    return "".join(parts)


def _trend_panel(
    key: str,
    label: str,
    ratings: Sequence[Ratings],
    level_names: Sequence[str],
    years: Sequence[str],
    x0: int,
    y0: int,
    names_width: int,
    plot: tuple[int, int, int],
) -> list[str]:
    plot_width, plot_height, head = plot
    levels = len(level_names)
    left, bottom = x0 + names_width, y0 + head + plot_height
    step = plot_width / max(len(years), 1)

    def y_of(value: float) -> float:
        return bottom - (value - 1) / (levels - 1) * plot_height

    parts = [f'<g class="trend-panel" data-strand="{escape(key)}">']
    parts += _wrapped_label(label, x0, y0 + 16, names_width + plot_width)[:2]
    for level, name in enumerate(level_names, start=1):
        y = y_of(level)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_width}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/><text class="trend-level" x="{left - 6}" '
            f'y="{y + 4:.1f}" text-anchor="end" fill="{TEXT}">{escape(name)}</text>'
        )
    for index, year in enumerate(years):
        parts.append(
            f'<text x="{left + step * (index + 0.5):.1f}" y="{bottom + 18}" '
            f'text-anchor="middle" fill="{TEXT}">{escape(year)}</text>'
        )
    for place, (kind, name, shape) in enumerate(TREND_KINDS):
        colour, nudge = RATING_COLOURS[kind], (place - 1) * 9
        values = [r[place] for r in ratings]
        points = [
            None if value is None else (left + step * (i + 0.5) + nudge, y_of(value), year, value)
            for i, (year, value) in enumerate(zip(years, values, strict=True))
        ]
        for a, b in itertools.pairwise(points):
            if a is not None and b is not None:
                parts.append(
                    f'<line x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" y2="{b[1]:.1f}" '
                    f'stroke="{colour}" stroke-width="2"/>'
                )
        for point in points:
            if point is None:
                continue
            x, y, year, value = point
            parts.append(
                f'<g class="trend-mark" data-kind="{kind}" data-year="{escape(year)}" '
                f'transform="translate({x:.1f} {y:.1f})"><title>{escape(label)}, '
                f"{escape(year)}: {escape(name)} {escape(level_label(value, level_names))}"
                f"</title>{_marker(shape, colour, 0, 0)}</g>"
            )
    parts.append("</g>")
    return parts


def _svg_open(chart_id: str, title: str, description: str, width: int, height: float) -> list[str]:
    """The opening every chart shares: the root with its accessible name and description, and
    a white background (the PNG downloads and print have no page behind them)."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'font-family="{FONT}" font-size="12">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]


def _marker(shape: str, colour: str, x: float, y: float) -> str:
    # A white edge keeps a mark distinct where it overlaps a line or another mark.
    edge = 'stroke="#ffffff" stroke-width="1"'
    if shape == "square":
        return f'<rect x="{x - 5}" y="{y - 5}" width="10" height="10" fill="{colour}" {edge}/>'
    if shape == "circle":
        return f'<circle cx="{x}" cy="{y}" r="6" fill="{colour}" {edge}/>'
    return (
        f'<polygon points="{x},{y - 7} {x + 7},{y} {x},{y + 7} {x - 7},{y}" '
        f'fill="{colour}" {edge}/>'
    )


def _legend(
    level_names: Sequence[str], colours: Sequence[str], desk_levels: Sequence[int], left: int
) -> list[str]:
    parts, x = [], left
    for index, name in enumerate(level_names):
        text = name + (" (desk)" if index + 1 in desk_levels else "")
        parts.append(
            f'<rect x="{x}" y="14" width="12" height="12" fill="{colours[index]}"/>'
            f'<text x="{x + 16}" y="24" fill="{TEXT}">{escape(text)}</text>'
        )
        x += 24 + 7 * len(text)
    return parts


def _ticks(peak: int) -> list[int]:
    step = max(1, round(peak / 4))
    return list(range(0, peak + 1, step))


def _wrapped_label(label: str, x: int, y: int, width: int) -> list[str]:
    """Up to three short lines under a group, so long forum names stay readable."""
    per_line = max(8, width // 7)
    words, lines, current = label.split(), [], ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if len(candidate) > per_line and current:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > 3:
        lines = [*lines[:2], lines[2][: per_line - 1] + "…"]
    return [
        f'<text x="{x}" y="{y + 14 * i}" fill="{TEXT}">{escape(line)}</text>'
        for i, line in enumerate(lines)
    ]


class RatingMarks(NamedTuple):
    """One strand's row of the ratings summary: positions on the level scale (1 = the first
    level; x.5 between two), None where there is no such rating."""

    label: str
    desk: float | None
    median: float | None
    agreed: float | None
    split: str | None = None  # the flag's words, e.g. "Split in Stevenage parents' forum"
    note: str | None = None  # why there is no partners' median, e.g. "not voted on"


def ratings_summary(
    chart_id: str,
    title: str,
    description: str,
    level_names: Sequence[str],
    rows: Sequence[RatingMarks],
) -> str:
    """The report's first-page chart: per strand, the desk rating, the partners' median and the
    agreed rating placed on the level scale, and the split flag at the end of the row."""
    label_width, plot_width, flag_width = 210, 380, 200
    top = 64
    left, right = label_width, label_width + plot_width
    width = right + flag_width
    step = plot_width / max(len(level_names), 1)
    labels = [_wrap(row.label, label_width - 16, 3) for row in rows]
    # The flag is never cut short: it names the forums, and a long name makes the row taller.
    flags = [_wrap(row.split, flag_width - 16) if row.split else [] for row in rows]
    heights = [max(52, 10 + 14 * max(len(a), len(b))) for a, b in zip(labels, flags, strict=True)]
    bottom = top + sum(heights)

    def x_of(value: float) -> float:
        return left + step * (value - 0.5)

    parts = [
        *_svg_open(chart_id, title, description, width, bottom + 12),
    ]
    # The trend chart's marks and colours: a rating looks the same on both charts.
    x = 10
    for kind, name, shape in TREND_KINDS:
        parts.append(_marker(shape, RATING_COLOURS[kind], x + 6, 18))
        parts.append(f'<text x="{x + 16}" y="22" fill="{TEXT}">{escape(name)}</text>')
        x += 36 + 7 * len(name)
    for level, name in enumerate(level_names, start=1):
        cx = x_of(level)
        parts.append(
            f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{top - 6}" y2="{bottom}" stroke="{GRID}"/>'
            f'<text x="{cx:.1f}" y="{top - 12}" text-anchor="middle" fill="{TEXT}" '
            f'font-weight="700">{escape(name)}</text>'
        )
    y0 = top
    for row, label, flag, height in zip(rows, labels, flags, heights, strict=True):
        parts.append(
            f'<line x1="10" x2="{width - 10}" y1="{y0}" y2="{y0}" stroke="{GRID}" '
            f'stroke-dasharray="2 3"/>'
        )
        parts += _text_lines(label, 10, y0 + 18)
        # Each kind on a line of its own within the row, so that none hides another.
        values = (row.desk, row.median, row.agreed)
        for place, (value, (kind, _, shape)) in enumerate(zip(values, TREND_KINDS, strict=True)):
            if value is not None:
                y = y0 + 12 + 14 * place
                parts.append(_marker(shape, RATING_COLOURS[kind], round(x_of(value), 1), y))
        if row.median is None and row.note:
            parts.append(
                f'<text x="{left + 6}" y="{y0 + 30}" fill="{TEXT}" font-style="italic">'
                f"Partners: {escape(row.note)}</text>"
            )
        parts += _text_lines(flag, right + 10, y0 + 18, WARNING, bold=True)
        y0 += height
    parts.append(f'<line x1="10" x2="{width - 10}" y1="{bottom}" y2="{bottom}" stroke="{TEXT}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _wrap(text: str, width: float, most: int | None = None) -> list[str]:
    """`text` in lines of `width` pixels (about 7 a character), cut to `most` lines if given."""
    per_line = max(8, int(width // 7))
    lines: list[str] = []
    for word in text.split():
        if lines and len(f"{lines[-1]} {word}") <= per_line:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if most is not None and len(lines) > most:
        lines = [*lines[: most - 1], lines[most - 1][: per_line - 1] + "…"]
    return lines


def _text_lines(
    lines: Sequence[str], x: float, y: float, colour: str = TEXT, bold: bool = False
) -> list[str]:
    weight = ' font-weight="700"' if bold else ""
    return [
        f'<text x="{x:.1f}" y="{y + 14 * i:.1f}" fill="{colour}"{weight}>{escape(line)}</text>'
        for i, line in enumerate(lines)
    ]
