"""Charts as SVG, drawn on the server: no script needed to see them, the same file downloads,
and each carries a title and a text description (the page also shows the data as a table)."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from voting.colours import WARNING, level_colours

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
    width = max(left + group_width * max(len(series), 1) + 20, legend_width, 420)
    height = top + plot_height + label_room + 16
    peak = max([max(c) for _, c in series if c] or [0]) or 1
    scale = plot_height / peak
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'font-family="{FONT}" font-size="12">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
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
