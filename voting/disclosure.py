"""Statistical disclosure control for linked tables of vote counts: which cells to hide.

A *cell* is one group of people (a forum, a kind of forum, the strategic partners, the
participants of one locality who were at one forum, a strand's total...) with its count of
people and its votes per level. Cells are hidden whole: a hidden cell shows neither its count
nor any of its votes.

Tables published together are linked by additive *relations*: a strand's total is the sum of
its forums, a kind of forum is the sum of its forums, the groups of one breakdown (with those
who did not say) add up to the total, and so on. A relation is written as two lists of cells
whose sums are equal. Every level's counts obey the same relations as the people counts, and a
cell is hidden whole, so one pattern of hidden cells serves them all.

The rule (docs/analysis.md explains it and its limits):

1. Primary suppression: every cell of 1 to `min_size - 1` people is hidden ("fewer than 5").
   An empty cell is not: there is nobody in it to single out.
2. Secondary suppression, repeated until nothing changes: in every relation, a hidden cell must
   not be worked out from the rest. A relation with exactly one hidden cell gives it away by
   subtraction; one whose hidden cells' sum is known can still pin a small cell by its bounds
   (a reader knows a small cell holds 1 to `min_size - 1` people and a cell hidden to protect
   another at least `min_size`: two small forums adding up to 8 are both 4). Either way the
   smallest cell still shown in that relation (the cheapest by `cost`) is hidden too.

Nothing here touches the database or Flask; the reporting layer builds the cells and relations
of an assessment (voting/reporting/disclosure.py) and checks them with this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

SMALL = "small"  # fewer than the minimum group size: primary suppression
PROTECTS = "protects"  # hidden so that a small group's votes cannot be worked out: secondary
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Relation:
    """sum(left) == sum(right), for the people counts and for every level's votes."""

    left: tuple[Hashable, ...]
    right: tuple[Hashable, ...]

    def members(self) -> list[tuple[Hashable, int]]:
        return [(k, 1) for k in self.left] + [(k, -1) for k in self.right]


def _bounds(reason: str, min_size: int) -> tuple[float, float]:
    """What a reader knows of a hidden cell's size from the words shown in its place."""
    if reason == SMALL:
        return 1.0, float(min_size - 1)
    return float(min_size), math.inf


def _pins_a_small_cell(
    relation: Relation, sizes: Mapping[K, int], hidden: Mapping[K, str], min_size: int
) -> bool:
    """True when this relation alone fixes the size of one of its small hidden cells.

    With the shown cells' sizes known, the hidden cells' signed sum is known; each hidden
    cell's size is then bounded by that sum and the others' bounds (interval arithmetic)."""
    members: list[tuple[K, int]] = relation.members()  # type: ignore[assignment]
    known = -sum(sign * sizes[k] for k, sign in members if k not in hidden)
    concealed = [(k, sign) for k, sign in members if k in hidden]
    for key, sign in concealed:
        if hidden[key] != SMALL:
            continue
        low_rest = high_rest = 0.0
        for other, other_sign in concealed:
            if other == key:
                continue
            lo, hi = _bounds(hidden[other], min_size)
            if other_sign > 0:
                low_rest, high_rest = low_rest + lo, high_rest + hi
            else:
                low_rest, high_rest = low_rest - hi, high_rest - lo
        # sign * x = known - rest
        low, high = known - high_rest, known - low_rest
        if sign < 0:
            low, high = -high, -low
        own_low, own_high = _bounds(SMALL, min_size)
        if max(low, own_low) >= min(high, own_high):
            return True
    return False


def suppress(
    sizes: Mapping[K, int],
    relations: Sequence[Relation],
    min_size: int,
    cost: Callable[[K], float] | None = None,
) -> dict[K, str]:
    """Which cells to hide, and why (SMALL or PROTECTS): `sizes` are the people per cell."""
    price = cost or (lambda key: float(sizes[key]))
    hidden: dict[K, str] = {k: SMALL for k, n in sizes.items() if 0 < n < min_size}
    if not hidden:
        return hidden
    changed = True
    while changed:
        changed = False
        for relation in relations:
            members: list[K] = [k for k, _ in relation.members()]  # type: ignore[misc]
            concealed = [k for k in members if k in hidden]
            if not concealed:
                continue
            if len(concealed) > 1 and not _pins_a_small_cell(relation, sizes, hidden, min_size):
                continue
            # Empty cells are never hidden: a cell hidden to protect another is known to hold
            # at least min_size people, which an empty one does not.
            candidates = [k for k in members if k not in hidden and sizes[k] > 0]
            if not candidates:
                continue
            hidden[min(candidates, key=lambda k: (price(k), repr(k)))] = PROTECTS
            changed = True
    return hidden
