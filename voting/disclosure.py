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
2. Secondary suppression, repeated until nothing changes: a relation with exactly one hidden
   cell gives it away by subtraction, so the smallest cell still shown in it (the cheapest by
   `cost`) is hidden too.
3. The audit: relations can pin a cell together that none pins alone, and a reader also knows
   bounds (a cell shown as "fewer than 5 people" holds 1 to 4, one hidden to protect another at
   least 5), so every small hidden cell's votes are bounded by linear programming over all the
   relations at once (`pinned_cells`). While one small cell's votes are pinned, the cheapest cell
   still shown beside it is hidden too and rule 2 runs again.

A cell is protected when its votes cannot be worked out exactly; its number of people alone may
be (six forum members from six sectors are one per sector), which tells nothing of any vote.

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


def _secondary(
    sizes: Mapping[K, int],
    relations: Sequence[Relation],
    hidden: dict[K, str],
    min_size: int,
    price: Callable[[K], float],
) -> None:
    """Rule 2, repeated until nothing changes (hidden is updated in place)."""
    changed = True
    while changed:
        changed = False
        for relation in relations:
            members: list[K] = [k for k, _ in relation.members()]  # type: ignore[misc]
            concealed = [k for k in members if k in hidden]
            if not concealed:
                continue
            if len(concealed) > 1:
                continue
            # Empty cells are never hidden: a cell hidden to protect another is known to hold
            # at least min_size people, which an empty one does not.
            candidates = [k for k in members if k not in hidden and sizes[k] > 0]
            if not candidates:
                continue
            hidden[min(candidates, key=lambda k: (price(k), repr(k)))] = PROTECTS
            changed = True


def pinned_cells(
    cells: Mapping[K, Sequence[int]],
    relations: Sequence[Relation],
    hidden: Mapping[K, str],
    min_size: int,
) -> list[K]:
    """The small hidden cells whose votes a reader can work out exactly.

    The audit tau-Argus does: the hidden cells' votes per level are the unknowns, every
    relation gives one equation per level with the shown cells' votes as constants, each hidden
    cell's people are bounded as its words say, and every vote count is at least 0. A small
    cell is pinned when, at every level, the largest and smallest count it can hold are the
    same. (Its number of people alone may be pinned: six forum members from six sectors are one
    per sector, which says nothing of how anyone voted.) Integrality is relaxed, as tau-Argus
    does.
    """
    small = [k for k, why in hidden.items() if why == SMALL]
    cap = 10.0 * max(sum(v) for v in cells.values()) + 100.0
    if not small:
        return []
    from scipy.optimize import linprog  # only the pages and downloads need it

    order = list(hidden)
    index = {k: i for i, k in enumerate(order)}
    levels = len(next(iter(cells.values())))
    width = len(order) * levels
    a_eq: list[list[float]] = []
    b_eq: list[float] = []
    for relation in relations:
        members: list[tuple[K, int]] = relation.members()  # type: ignore[assignment]
        if not any(k in hidden for k, _ in members):
            continue
        for level in range(levels):
            row = [0.0] * width
            constant = 0.0
            for k, sign in members:
                if k in hidden:
                    row[index[k] * levels + level] += sign
                else:
                    constant -= sign * cells[k][level]
            a_eq.append(row)
            b_eq.append(constant)
    a_ub: list[list[float]] = []
    b_ub: list[float] = []
    for k, why in hidden.items():
        row = [0.0] * width
        for level in range(levels):
            row[index[k] * levels + level] = 1.0
        low, high = _bounds(why, min_size)
        a_ub.append([-v for v in row])
        b_ub.append(-low)
        if math.isfinite(high):
            a_ub.append(row)
            b_ub.append(high)

    def objective(pairs: Sequence[tuple[K, int]], sign: float) -> list[float]:
        found = [0.0] * width
        for k, level in pairs:
            found[index[k] * levels + level] = sign
        return found

    def solve(goal: list[float]) -> list[float] | None:
        result = linprog(
            goal,
            A_ub=a_ub,
            b_ub=b_ub,
            A_eq=a_eq or None,
            b_eq=b_eq or None,
            # A cap far above any real count keeps every program bounded: a cell that can reach
            # it is certainly not pinned.
            bounds=(0, cap),
            method="highs",
        )
        return list(result.x) if result.status == 0 else None

    def moves(solution: list[float] | None, k: K, level: int) -> bool:
        if solution is None:
            return False
        return abs(solution[index[k] * levels + level] - cells[k][level]) > 1e-6

    # A cell's votes are worked out when every level's count is pinned: each level that can
    # move, up or down, frees the cell. One program for all the undecided cells at a time
    # first (most move, and one solution shows it), then one per cell for the rest.
    pinned = list(small)
    for level in range(levels):
        for direction in (-1.0, 1.0):
            if not pinned:
                return []
            together = solve(objective([(k, level) for k in pinned], direction))
            pinned = [k for k in pinned if not moves(together, k, level)]
    for level in range(levels):
        for direction in (-1.0, 1.0):
            pinned = [
                k for k in pinned if not moves(solve(objective([(k, level)], direction)), k, level)
            ]
    return pinned


def _nearest_shown(
    pinned: set[K], relations: Sequence[Relation], hidden: Mapping[K, str], sizes: Mapping[K, int]
) -> list[K]:
    """The shown cells closest to the pinned ones: those in a relation with one of them, or,
    when all of those are hidden already, in a relation with those, and so on outwards."""
    reached, frontier = set(pinned), set(pinned)
    while frontier:
        near: list[K] = []
        further: set[K] = set()
        for relation in relations:
            members: list[K] = [k for k, _ in relation.members()]  # type: ignore[misc]
            if not any(k in frontier for k in members):
                continue
            near += [k for k in members if k not in hidden and sizes[k] > 0]
            further |= {k for k in members if k in hidden and k not in reached}
        if near:
            return near
        reached |= further
        frontier = further
    return []


def suppress(
    cells: Mapping[K, Sequence[int]],
    relations: Sequence[Relation],
    min_size: int,
    cost: Callable[[K], float] | None = None,
) -> dict[K, str]:
    """Which cells to hide, and why (SMALL or PROTECTS): `cells` are the votes per level."""
    sizes = {k: sum(v) for k, v in cells.items()}
    price = cost or (lambda key: float(sizes[key]))
    hidden: dict[K, str] = {k: SMALL for k, n in sizes.items() if 0 < n < min_size}
    while hidden:
        _secondary(sizes, relations, hidden, min_size, price)
        pinned = set(pinned_cells(cells, relations, hidden, min_size))
        if not pinned:
            break
        near = _nearest_shown(pinned, relations, hidden, sizes)
        if not near:
            break  # everything around it is hidden already (cannot happen with a shown total)
        hidden[min(near, key=lambda k: (price(k), repr(k)))] = PROTECTS
    return hidden
