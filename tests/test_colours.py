"""The level colours of the bars and charts (voting/colours.py) stay apart for people with colour
vision deficiencies, and stand out from what they are drawn on, for every number of levels a
framework may have (2 to 7). The bars only illustrate: every bar also carries its level's name
and its figures in text (checked in the browser by tests/test_accessibility.py), so nobody needs
the colours to read the results.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from tests.colour_vision import DICHROMACIES, ciede2000, contrast, difference
from voting import colours, frameworks
from voting.colours import level_colours
from voting.reporting import charts

CSS = Path(__file__).resolve().parent.parent / "static" / "css" / "app.css"
VISIONS = ["normal", *DICHROMACIES]
SCALES = range(frameworks.MIN_LEVELS, frameworks.MAX_LEVELS + 1)
# CIEDE2000 of 2 is a just-noticeable difference; 10 or more is apart at a glance. 15 leaves room
# for a projector's washed-out colours.
MIN_DIFFERENCE = 15.0
MIN_NON_TEXT_CONTRAST = 3.0  # WCAG 1.4.11
MIN_TEXT_CONTRAST = 4.5  # WCAG 1.4.3
WHITE = "#ffffff"


def track_background() -> str:
    rule = re.search(r"^\.bar-track \{([^}]*)\}", CSS.read_text(), re.MULTILINE)
    assert rule, "no .bar-track rule"
    background = re.search(r"background:\s*(#[0-9a-fA-F]{6})", rule.group(1))
    assert background, rule.group(0)
    return background.group(1)


def test_the_colour_difference_matches_the_published_test_data() -> None:
    # Pairs 1, 7 and 17 of Sharma, Wu and Dalal (2005), table 1.
    assert ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000((50, 0, 0), (50, -1, 2)) == pytest.approx(2.3669, abs=1e-4)
    assert ciede2000((50, 2.5, 0), (73, 25, -18)) == pytest.approx(27.1492, abs=1e-4)
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("levels", SCALES)
def test_there_is_one_colour_per_level_and_no_repeats(levels: int) -> None:
    chosen = level_colours(levels)
    assert len(chosen) == levels
    assert len(set(chosen)) == levels
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in chosen), chosen


def test_four_levels_keep_the_colours_they_always_had() -> None:
    assert level_colours(4) == ("#a23b0c", "#d47500", "#4a90c8", "#1d4f91")


@pytest.mark.parametrize("levels", [0, 1, 8])
def test_a_scale_outside_two_to_seven_has_no_colours(levels: int) -> None:
    with pytest.raises(ValueError, match="2 to 7"):
        level_colours(levels)


@pytest.mark.parametrize("vision", VISIONS)
@pytest.mark.parametrize("levels", SCALES)
def test_every_two_levels_look_different_with_each_kind_of_colour_vision(
    levels: int, vision: str
) -> None:
    chosen = level_colours(levels)
    close = [
        (a, b, round(difference(a, b, vision), 1))
        for a, b in itertools.combinations(chosen, 2)
        if difference(a, b, vision) < MIN_DIFFERENCE
    ]
    assert close == [], f"{levels} levels, {vision}: levels too alike (CIEDE2000): {close}"


@pytest.mark.parametrize("levels", SCALES)
def test_every_bar_stands_out_from_its_track_and_the_page(levels: int) -> None:
    track = track_background()
    weak = [
        (colour, ground, round(contrast(colour, ground), 2))
        for colour in level_colours(levels)
        for ground in (track, WHITE)
        if contrast(colour, ground) < MIN_NON_TEXT_CONTRAST
    ]
    assert weak == [], weak


def test_text_on_the_charts_is_readable() -> None:
    """Labels are never drawn on a bar: counts sit above their bar and names in the legend, in
    the text colour on white; the split note is in the warning colour on white."""
    for colour in (charts.TEXT, colours.WARNING):
        assert contrast(colour, WHITE) >= MIN_TEXT_CONTRAST, colour
    svg = charts.grouped_bars("c", "t", "d", ["A", "B", "C"], [("Forum", [1, 2, 3])], note="n")
    fills = re.findall(r'<text [^>]*fill="([^"]+)"', svg)
    assert fills and set(fills) <= {charts.TEXT, colours.WARNING}, set(fills)


@pytest.mark.parametrize("levels", SCALES)
def test_the_svg_chart_colours_each_level_with_its_colour(levels: int) -> None:
    names = [f"Level {i}" for i in range(1, levels + 1)]
    svg = charts.grouped_bars("c", "t", "d", names, [("Forum", list(range(1, levels + 1)))])
    legend = re.findall(r'<rect x="\d+" y="14" width="12" height="12" fill="([^"]+)"/>', svg)
    bars = re.findall(
        r'<rect x="[\d.]+" y="[\d.]+" width="18" height="[\d.]+" fill="([^"]+)"/>', svg
    )
    assert legend == list(level_colours(levels))
    assert bars == list(level_colours(levels))


def test_the_colours_match_the_frameworks_level_limits() -> None:
    assert colours.MIN_LEVELS == frameworks.MIN_LEVELS == 2
    assert colours.MAX_LEVELS == frameworks.MAX_LEVELS == 7


@pytest.mark.parametrize("vision", VISIONS)
def test_the_three_kinds_of_rating_look_different_and_stand_out_on_white(vision: str) -> None:
    """Desk, partners' median and agreed rating on the trend chart (each also has its own
    marker shape and a name in the legend)."""
    chosen = colours.RATING_COLOURS
    assert list(chosen) == ["desk", "partners", "agreed"]
    close = [
        (a, b, round(difference(chosen[a], chosen[b], vision), 1))
        for a, b in itertools.combinations(chosen, 2)
        if difference(chosen[a], chosen[b], vision) < MIN_DIFFERENCE
    ]
    assert close == [], f"{vision}: kinds of rating too alike (CIEDE2000): {close}"
    weak = [c for c in chosen.values() if contrast(c, WHITE) < MIN_NON_TEXT_CONTRAST]
    assert weak == [], weak
    svg = charts.trend_lines(
        "t", "t", "d", ["A", "B", "C"], ["2016", "2017"], [("s", "S", [(1, 2, 3), (2, 2.5, 3)])]
    )
    fills = re.findall(r'<text [^>]*fill="([^"]+)"', svg)
    assert fills and set(fills) == {charts.TEXT}, set(fills)
    marks = re.findall(
        r'<g class="trend-mark" data-kind="(\w+)"[^>]*><title>[^<]*</title>'
        r'<\w+ [^>]*fill="([^"]+)"',
        svg,
    )
    assert sorted(set(marks)) == sorted(chosen.items())
