"""The one disclosure-control step every circulated output goes through.

`results.gather` collects, per strand, every table an assessment publishes together: the strand
total, the forums, the kinds of forum, the sessions, the role, sector and locality breakdowns
across all forums, and the same breakdowns within each forum (the session pages). This module
names each of those groups as a cell, writes down how the tables add up, and asks
`voting.disclosure.suppress` which cells to hide. The pages, the report, the charts, the summary
CSV, the workbook and the JSON analysis all show what `results` builds from that answer, so no
output can show a cell that another hides.

Cells are keyed by tuples:
    ("total",)                       the strand's total, every forum (kept totals included)
    ("forum", session_id)            one forum
    ("group", attribute, value)      a breakdown across forums; value None = did not say
    ("sgroup", session_id, attribute, value)   the same breakdown within one forum
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from voting.disclosure import PROTECTS, SMALL, Relation, suppress

# Breakdowns shown across forums, and the ones also shown within one forum's page.
ACROSS = ("role", "sector", "locality", "forum_type", "session")
WITHIN = ("role", "sector", "locality")
Key = tuple[Hashable, ...]


@dataclass(frozen=True)
class ForumFacts:
    session_id: int
    name: str
    kind: str  # the kind of forum as the breakdown names it
    purged: bool  # raw votes deleted under retention: in the totals, in no breakdown


Votes = tuple[int, ...]


@dataclass
class StrandCells:
    """One strand's cells, each with its votes per level, and how they add up."""

    votes: dict[Key, Votes] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)

    @property
    def sizes(self) -> dict[Key, int]:
        return {k: sum(v) for k, v in self.votes.items()}


def strand_cells(
    total: Votes,
    forums: Mapping[int, Votes],
    facts: Sequence[ForumFacts],
    groups: Mapping[tuple[str, str | None], Votes],
    session_groups: Mapping[tuple[int, str, str | None], Votes],
) -> StrandCells:
    """The cells of one strand and every additive relation between them."""
    cells = StrandCells()
    sizes, relations = cells.votes, cells.relations
    empty = (0,) * len(total)
    sizes[("total",)] = total
    covering = [f for f in facts if f.session_id in forums]
    for f in covering:
        sizes[("forum", f.session_id)] = forums[f.session_id]
    relations.append(Relation((("total",),), tuple(("forum", f.session_id) for f in covering)))

    live = [f for f in covering if not f.purged]
    # What the breakdowns add up to: the total, less the forums whose raw votes are gone.
    raw_total: tuple[Key, ...] = (
        (("total",),)
        if len(live) == len(covering)
        else tuple(("forum", f.session_id) for f in live)
    )
    by_attribute: dict[str, list[Key]] = defaultdict(list)
    for (attribute, value), n in groups.items():
        key = ("group", attribute, value)
        sizes[key] = n
        by_attribute[attribute].append(key)
    for attribute in ACROSS:
        relations.append(Relation(tuple(by_attribute.get(attribute, [])), raw_total))
    # A kind of forum, or a session name, is the sum of its forums.
    for attribute, of in (("forum_type", lambda f: f.kind), ("session", lambda f: f.name)):
        parts: dict[str, list[Key]] = defaultdict(list)
        for f in live:
            parts[of(f)].append(("forum", f.session_id))
        for value, forum_keys in parts.items():
            key = ("group", attribute, value)
            sizes.setdefault(key, empty)
            relations.append(Relation((key,), tuple(forum_keys)))

    within: dict[tuple[int, str], list[Key]] = defaultdict(list)
    across: dict[tuple[str, str | None], list[Key]] = defaultdict(list)
    for (sid, attribute, value), n in session_groups.items():
        cell: Key = ("sgroup", sid, attribute, value)
        sizes[cell] = n
        within[(sid, attribute)].append(cell)
        across[(attribute, value)].append(cell)
    for f in live:
        for attribute in WITHIN:
            relations.append(
                Relation(
                    tuple(within.get((f.session_id, attribute), [])), (("forum", f.session_id),)
                )
            )
    for (attribute, value), keys in across.items():
        key = ("group", attribute, value)
        sizes.setdefault(key, empty)
        relations.append(Relation((key,), tuple(keys)))
    return cells


def decide(cells: StrandCells, min_size: int) -> dict[Key, str]:
    """Hidden cells and why; the strand total is hidden only when nothing else will do."""
    # The pages, the report and every download of one assessment ask the same question in a
    # row, and the audit runs linear programs: the answer is kept for identical cells.
    return dict(_decide(tuple(cells.votes.items()), tuple(cells.relations), min_size))


@lru_cache(maxsize=256)
def _decide(
    votes: tuple[tuple[Key, Votes], ...], relations: tuple[Relation, ...], min_size: int
) -> tuple[tuple[Key, str], ...]:
    cells = dict(votes)

    def cost(key: Key) -> float:
        # Prefer hiding a breakdown within a forum, then a forum or group, over the headline.
        weight = {"sgroup": 1.0, "group": 1.5, "forum": 2.0, "total": 1000.0}[str(key[0])]
        return sum(cells[key]) * weight

    return tuple(suppress(cells, relations, min_size, cost).items())


def hidden_words(reason: str | None, min_size: int) -> str:
    """What a page or file shows instead of a hidden figure, and why."""
    if reason == SMALL:
        return f"fewer than {min_size} people"
    if reason == PROTECTS:
        return "hidden so that a small group's votes cannot be worked out"
    return ""


__all__ = ["PROTECTS", "SMALL", "ForumFacts", "StrandCells", "decide", "hidden_words"]
