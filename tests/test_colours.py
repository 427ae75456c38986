"""The four level colours of the bars (static/css/app.css) stay apart for people with colour
vision deficiencies, and stand out from what they are drawn on. The bars only illustrate: every
bar also carries its level's name and its figures in text (checked in the browser by
tests/test_accessibility.py), so nobody needs the colours to read the results.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from tests.colour_vision import DICHROMACIES, ciede2000, contrast, difference

CSS = Path(__file__).resolve().parent.parent / "static" / "css" / "app.css"
VISIONS = ["normal", *DICHROMACIES]
# CIEDE2000 of 2 is a just-noticeable difference; 10 or more is apart at a glance. 15 leaves room
# for a projector's washed-out colours.
MIN_DIFFERENCE = 15.0
MIN_NON_TEXT_CONTRAST = 3.0  # WCAG 1.4.11


def level_colours() -> dict[str, str]:
    found = dict(re.findall(r"--(level-\d):\s*(#[0-9a-fA-F]{6})\s*;", CSS.read_text()))
    assert sorted(found) == ["level-1", "level-2", "level-3", "level-4"], found
    return found


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


@pytest.mark.parametrize("vision", VISIONS)
def test_every_two_levels_look_different_with_each_kind_of_colour_vision(vision: str) -> None:
    colours = level_colours()
    close = [
        (a, b, round(difference(colours[a], colours[b], vision), 1))
        for a, b in itertools.combinations(sorted(colours), 2)
        if difference(colours[a], colours[b], vision) < MIN_DIFFERENCE
    ]
    assert close == [], f"{vision}: levels too alike (CIEDE2000): {close}"


def test_every_bar_stands_out_from_its_track_and_the_page() -> None:
    track = track_background()
    weak = [
        (name, colour, ground, round(contrast(colour, ground), 2))
        for name, colour in sorted(level_colours().items())
        for ground in (track, "#ffffff")
        if contrast(colour, ground) < MIN_NON_TEXT_CONTRAST
    ]
    assert weak == [], weak
