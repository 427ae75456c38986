"""The colour of each level, for a scale of 2 to 7 levels: the one place it is decided.

The bars on the phone, console and projector (through the snapshots), the SVG charts and the
workbook's native charts all take their colours from `level_colours`, so a level has the same
colour everywhere. Colours only illustrate: every bar also carries its level's name and its
figures in text.

Seven colours in scale order, from dark red through orange, a neutral grey and light blue to dark
navy; a scale with fewer levels takes a symmetric selection of them. Four levels keep the colours
the national model has always had. tests/test_colours.py checks every selection: any two levels
stay apart (CIEDE2000 of at least 15) with normal vision and when simulated for protanopia,
deuteranopia and tritanopia, and every colour has at least 3:1 contrast with the white track
and page it is drawn on (WCAG 1.4.11). How they were chosen is in docs/frameworks.md.
"""

from __future__ import annotations

from voting.frameworks import MAX_LEVELS, MIN_LEVELS

PALETTE = (
    "#5a0c06",  # dark red
    "#a23b0c",  # rust (level 1 of four)
    "#d47500",  # orange (level 2 of four)
    "#8c8c8c",  # grey: the middle of an odd-sized scale
    "#4a90c8",  # light blue (level 3 of four)
    "#1d4f91",  # blue (level 4 of four)
    "#1e2a3c",  # dark navy
)

# Which of the seven each scale size uses, lowest level first. Symmetric about the grey, so the
# warm end is always the lowest level and the cool end the highest; the two darkest colours come
# in only at six and seven levels, when there is nothing else left that stays distinct.
_SELECTIONS: dict[int, tuple[int, ...]] = {
    2: (1, 5),
    3: (1, 3, 5),
    4: (1, 2, 4, 5),
    5: (1, 2, 3, 4, 5),
    6: (0, 1, 2, 4, 5, 6),
    7: (0, 1, 2, 3, 4, 5, 6),
}

# The three kinds of rating, where a chart shows them side by side (the trend over years): the
# desk team's, the partners' median and the agreed rating. Apart from each other with every kind
# of colour vision and at least 3:1 on white (tests/test_colours.py); each kind also has its own
# marker shape and is named in the legend, so the colour is never the only cue.
RATING_COLOURS = {
    "desk": "#0b0c0c",  # near black
    "partners": "#d47500",  # orange
    "agreed": "#4a90c8",  # light blue
}

# Text drawn in a colour of its own (the "Split: …" line on a chart), not a level: 6.6:1 on white.
WARNING = "#a23b0c"


def level_colours(levels: int) -> tuple[str, ...]:
    """One colour per level ('#rrggbb'), level 1 first, for a scale of `levels` levels."""
    if levels not in _SELECTIONS:
        # Framework files are held to 2-7 levels; anything else here is a programming error,
        # not something to paper over by repeating colours.
        raise ValueError(f"levels must be {MIN_LEVELS} to {MAX_LEVELS}, not {levels}")
    return tuple(PALETTE[i] for i in _SELECTIONS[levels])
