"""The figures behind the analysis step: plain functions on vote counts and scores.

Nothing here touches the database or Flask, so pages, exports and tests all get the same numbers
from the same counts. Levels are numbered from 1 (Early=1 … Mature=4 in the national model; a
framework has 2 to 7 levels); a `counts` sequence holds the votes per level, level 1 first, and
its length is the number of levels. Every function copes with no votes at all: figures that
cannot be worked out are None, never NaN and never an exception.

The conventions (median, quartiles, consensus, the split rule, the group test and suppression) are
explained, with their sources, in docs/analysis.md.
"""

from __future__ import annotations

import math
import operator
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

SPLIT_CONSENSUS_THRESHOLD = 0.5  # consensus below this = split / low agreement
SPLIT_MIN_SHARE = 0.25  # each of two non-adjacent clusters holds at least this share
MIN_VOTES_FOR_SPLIT = 4  # fewer votes: never flagged split
DEFAULT_MIN_GROUP_SIZE = 5
SIGNIFICANCE = 0.05

# The national model's levels, used when a caller has no framework to hand (e.g. split_reason).
DEFAULT_LEVEL_NAMES: tuple[str, ...] = ("Early", "Developing", "Maturing", "Mature")
NOT_ENOUGH_VOTES = "not enough votes"


# --------------------------------------------------------------------------------------------
# Desk ratings


@dataclass(frozen=True)
class Desk:
    """The programme team's rating of a strand: one level, or two adjacent ones when split."""

    level: int
    upper_level: int | None = None  # set for a split desk rating: upper_level == level + 1

    def __post_init__(self) -> None:
        # A desk rating like "Early/Maturing" is not a thing the model allows; refusing it here
        # stops a bad row from quietly producing a half-level value nobody meant.
        if self.level < 1:
            raise ValueError(f"desk level must be 1 or more, not {self.level}")
        if self.upper_level is not None and self.upper_level != self.level + 1:
            raise ValueError(
                f"a split desk rating spans two adjacent levels: {self.level} and "
                f"{self.level + 1}, not {self.upper_level}"
            )

    @property
    def levels(self) -> tuple[int, ...]:
        if self.upper_level is None:
            return (self.level,)
        return (self.level, self.upper_level)

    @property
    def value(self) -> float:
        # Developing/Maturing sits halfway, so it lines up with a median of 2.5.
        return self.level + 0.5 if self.upper_level is not None else float(self.level)


# --------------------------------------------------------------------------------------------
# Figures for one distribution of votes


@dataclass(frozen=True)
class Figures:
    counts: tuple[int, ...]  # votes per level, level 1 first
    n: int
    percentages: tuple[float, ...]  # 0-100, unrounded; all 0.0 when n == 0
    median: float | None  # x.5 when the middle falls between two levels; None when n == 0
    modes: tuple[int, ...]  # every level with the highest count (ties keep all); () when n == 0
    mean: float | None
    sd: float | None  # sample standard deviation (n-1); None when n < 2
    consensus: float | None  # Tastle & Wierman (2007); None when n == 0
    q1: float | None  # quartiles by statistics.quantiles(method="inclusive"); None when n < 2
    q3: float | None
    iqr: float | None
    split: bool
    split_reason: str | None  # plain words, e.g. "votes cluster at Early and Mature"

    @property
    def levels(self) -> int:
        return len(self.counts)


def _check_counts(counts: Sequence[int]) -> tuple[int, ...]:
    if len(counts) == 0:
        raise ValueError("counts need at least one level")
    # operator.index accepts any true integer (numpy's too) but refuses 2.0 or "3", which would
    # otherwise slip through as a count.
    checked = tuple(operator.index(c) for c in counts)
    if any(c < 0 for c in checked):
        raise ValueError(f"vote counts cannot be negative: {list(checked)}")
    return checked


def _names_for(levels: int, level_names: Sequence[str] | None) -> tuple[str, ...]:
    if level_names is None:
        if levels == len(DEFAULT_LEVEL_NAMES):
            return DEFAULT_LEVEL_NAMES
        # Another framework's scale and no names given: still say something readable.
        return tuple(f"Level {i}" for i in range(1, levels + 1))
    if len(level_names) != levels:
        raise ValueError(f"{len(level_names)} level names for {levels} levels")
    return tuple(level_names)


def _scores(counts: Sequence[int]) -> list[int]:
    """The counts as one score per vote, in order: what statistics.median/quantiles expect."""
    return [level for level, c in enumerate(counts, start=1) for _ in range(c)]


def _consensus(counts: Sequence[int], n: int, mean: float) -> float:
    """Tastle & Wierman (2007): Cns = 1 + sum p_i log2(1 - |X_i - mu| / d), d = X_max - X_min."""
    width = len(counts) - 1
    if width == 0:
        # A one-level scale: every vote is on the same level, which is full agreement (and the
        # formula would divide by zero).
        return 1.0
    terms = []
    for level, c in enumerate(counts, start=1):
        if c == 0:
            # p_i = 0 terms are omitted: 0 * log2(0) would otherwise be NaN when everyone sits
            # at the opposite extreme.
            continue
        terms.append((c / n) * math.log2(1 - abs(level - mean) / width))
    # fsum, and a clamp for the last bit of rounding, so "all on one level" is exactly 1.0 and
    # "half at each extreme" is exactly 0.0 rather than 1e-17 either side.
    return min(1.0, max(0.0, 1 + math.fsum(terms)))


def _cluster_levels(counts: Sequence[int], n: int) -> tuple[int, ...]:
    """Levels that form two separate clusters (rule a of the split rule), lowest first.

    A pair qualifies when the two levels are at least two apart, each holds at least
    SPLIT_MIN_SHARE of the votes, and every level strictly between them holds fewer votes than
    each of the two: a valley, so the room really is in two camps rather than spread out.
    """
    involved: set[int] = set()
    levels = len(counts)
    for low in range(1, levels + 1):
        for high in range(low + 2, levels + 1):
            a, b = counts[low - 1], counts[high - 1]
            if a / n < SPLIT_MIN_SHARE or b / n < SPLIT_MIN_SHARE:
                continue
            between = counts[low : high - 1]
            if all(c < a and c < b for c in between):
                involved.update((low, high))
    return tuple(sorted(involved))


def join_names(names: Sequence[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def figures(counts: Sequence[int], level_names: Sequence[str] | None = None) -> Figures:
    """Every figure for one strand's votes (or any combined counts)."""
    counts = _check_counts(counts)
    names = _names_for(len(counts), level_names)
    n = sum(counts)
    levels = len(counts)

    if n == 0:
        return Figures(
            counts=counts,
            n=0,
            percentages=(0.0,) * levels,
            median=None,
            modes=(),
            mean=None,
            sd=None,
            consensus=None,
            q1=None,
            q3=None,
            iqr=None,
            split=False,
            split_reason=None,
        )

    scores = _scores(counts)
    percentages = tuple(100 * c / n for c in counts)
    median = float(statistics.median(scores))
    top = max(counts)
    modes = tuple(level for level, c in enumerate(counts, start=1) if c == top)
    mean = statistics.fmean(scores)
    consensus = _consensus(counts, n, mean)

    sd = q1 = q3 = iqr = None
    if n >= 2:
        sd = statistics.stdev(scores)
        q1, _, q3 = statistics.quantiles(scores, n=4, method="inclusive")
        iqr = q3 - q1

    split = False
    split_reason = None
    if n >= MIN_VOTES_FOR_SPLIT:
        clusters = _cluster_levels(counts, n)
        if clusters:
            # Naming the camps says more than a number, so rule (a) wins when both apply.
            split = True
            split_reason = "votes cluster at " + join_names([names[lv - 1] for lv in clusters])
        elif consensus < SPLIT_CONSENSUS_THRESHOLD:
            split = True
            split_reason = f"low agreement (consensus {consensus:.2f})"

    return Figures(
        counts=counts,
        n=n,
        percentages=percentages,
        median=median,
        modes=modes,
        mean=mean,
        sd=sd,
        consensus=consensus,
        q1=q1,
        q3=q3,
        iqr=iqr,
        split=split,
        split_reason=split_reason,
    )


def combine(counts_list: Iterable[Sequence[int]], levels: int) -> tuple[int, ...]:
    """Element-wise sum of several counts (e.g. one strand over many forums)."""
    total = [0] * levels
    for counts in counts_list:
        checked = _check_counts(counts)
        if len(checked) != levels:
            raise ValueError(f"counts for {len(checked)} levels, expected {levels}")
        for i, c in enumerate(checked):
            total[i] += c
    return tuple(total)


# --------------------------------------------------------------------------------------------
# Comparison with the desk rating


@dataclass(frozen=True)
class DeskComparison:
    below: int  # votes below the lowest desk level
    at: int  # votes at either desk level
    above: int  # votes above the highest desk level
    pct_below: float  # 0-100; 0.0 when no votes
    pct_at: float
    pct_above: float
    gap: float | None  # median vote minus Desk.value; None when no votes
    direction: str | None  # "higher", "lower" or "same"; None when no votes


def compare_with_desk(counts: Sequence[int], desk: Desk | None) -> DeskComparison | None:
    if desk is None:
        return None
    counts = _check_counts(counts)
    if desk.levels[-1] > len(counts):
        raise ValueError(f"desk rating {desk.levels} is outside a {len(counts)}-level scale")
    low, high = desk.levels[0], desk.levels[-1]
    below = sum(counts[: low - 1])
    at = sum(counts[low - 1 : high])
    above = sum(counts[high:])
    n = below + at + above
    if n == 0:
        return DeskComparison(0, 0, 0, 0.0, 0.0, 0.0, gap=None, direction=None)
    median = float(statistics.median(_scores(counts)))
    gap = median - desk.value
    # Medians and desk values are whole or half levels, so the subtraction is exact and == 0 is
    # safe here.
    direction = "higher" if gap > 0 else "lower" if gap < 0 else "same"
    return DeskComparison(
        below=below,
        at=at,
        above=above,
        pct_below=100 * below / n,
        pct_at=100 * at / n,
        pct_above=100 * above / n,
        gap=gap,
        direction=direction,
    )


# --------------------------------------------------------------------------------------------
# Words


def level_label(value: float | None, level_names: Sequence[str]) -> str:
    """2 -> "Developing"; 2.5 -> "Developing/Maturing"; None -> "not enough votes"."""
    if value is None:
        return NOT_ENOUGH_VOTES
    # Round half up to the nearest half level: round() would round 2.25 down and 2.75 up
    # (banker's rounding), which reads as arbitrary on a report.
    halves = math.floor(value * 2 + 0.5)
    if not 2 <= halves <= 2 * len(level_names):
        raise ValueError(f"{value} is outside a {len(level_names)}-level scale")
    level, half = divmod(halves, 2)
    if half == 0:
        return level_names[level - 1]
    return f"{level_names[level - 1]}/{level_names[level]}"


def scale_words(level_names: Sequence[str]) -> str:
    """How the levels are scored, for a figure's heading: "Early = 1 to Mature = 4"."""
    return f"{level_names[0]} = 1 to {level_names[-1]} = {len(level_names)}"


def _whole_percent(pct: float) -> str:
    # Half up, for the same reason as level_label: 62.5% reads as 63%, as a reader would expect.
    return f"{math.floor(pct + 0.5)}%"


def _in_sentence(name: str) -> str:
    """'The family experience …' reads 'the family experience …' inside a sentence."""
    return "the" + name[3:] if name.startswith("The ") else name


def describe(
    strand_name: str,
    fig: Figures,
    comparison: DeskComparison | None,
    desk: Desk | None,
    level_names: Sequence[str],
) -> str:
    """One plain sentence (two when the room is split) for a report or the projector."""
    strand_name = _in_sentence(strand_name)
    if fig.n == 0:
        return f"No votes on {strand_name} yet."
    median = level_label(fig.median, level_names)
    if desk is None:
        votes = "1 vote" if fig.n == 1 else f"{fig.n} votes"
        text = (
            f"Partners rate {strand_name} {median} (median of {votes}); no desk rating to compare."
        )
    else:
        if comparison is None:
            # The counts are in the figures, so a missing comparison can be worked out rather
            # than turned into a wrong "no desk rating" sentence.
            comparison = compare_with_desk(fig.counts, desk)
        assert comparison is not None  # desk is set and there are votes
        desk_name = level_label(desk.value, level_names)
        at_desk = f"{_whole_percent(comparison.pct_at)} at the desk rating"
        if comparison.direction == "same":
            # A split room can have its median exactly on the desk rating with nobody voting
            # there (half Early, half Mature vs Developing/Maturing): "agree" would be false.
            opening = (
                f"The median matches the desk assessment of {strand_name}"
                if fig.split
                else f"Partners agree with the desk assessment of {strand_name}"
            )
            text = f"{opening}: median {median}, desk {desk_name}; {at_desk}."
        elif fig.median in desk.levels:
            # Median on one level of a split desk rating (Maturing vs Developing/Maturing):
            # the votes are at the desk rating, so "higher ...; 0% above" would mislead.
            # The share beyond that end is still given, since it is where the lean comes from.
            if comparison.direction == "higher":
                end, beyond = "upper", f"{_whole_percent(comparison.pct_above)} above"
            else:
                end, beyond = "lower", f"{_whole_percent(comparison.pct_below)} below"
            text = (
                f"Partners rate {strand_name} at the {end} end of the desk assessment: "
                f"median {median}, desk {desk_name}; {at_desk}, {beyond}."
            )
        elif comparison.direction == "lower":
            text = (
                f"Partners rate {strand_name} lower than the desk assessment: median {median} "
                f"vs desk {desk_name}; {_whole_percent(comparison.pct_below)} below."
            )
        else:
            text = (
                f"Partners rate {strand_name} higher than the desk assessment: median {median} "
                f"vs desk {desk_name}; {_whole_percent(comparison.pct_above)} above."
            )
    if fig.split:
        text += f" The room is split: {fig.split_reason}."
    return text


# --------------------------------------------------------------------------------------------
# Groups of participants (role, sector, locality, forum type)


@dataclass(frozen=True)
class Group:
    label: str
    n: int  # participants (one score each) in the group
    suppressed: bool  # n < min_size: counts hidden, shown as "fewer than {min_size}"
    counts: tuple[int, ...] | None  # None when suppressed
    median: float | None  # None when suppressed (or when the group is empty)
    min_size: int = DEFAULT_MIN_GROUP_SIZE

    @property
    def size_label(self) -> str:
        """What a page shows for the group's size: the number, or "fewer than 5"."""
        return f"fewer than {self.min_size}" if self.suppressed else str(self.n)


@dataclass(frozen=True)
class GroupTest:
    groups: tuple[str, ...]  # labels of the groups compared (never suppressed ones)
    statistic: float | None  # Kruskal-Wallis H (corrected for ties)
    p_value: float | None
    epsilon_squared: float | None  # H / (n - 1) (Tomczak & Tomczak 2014)
    sentence: str


def _format_p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    decimals = 2 if p >= 0.1 else 3
    text = f"{p:.{decimals}f}"
    # Never print a p-value that reads as the other side of the threshold (0.0496 as "0.050").
    while (float(text) < SIGNIFICANCE) != (p < SIGNIFICANCE) and decimals < 6:
        decimals += 1
        text = f"{p:.{decimals}f}"
    return f"p = {text}"


def segment(
    scores_by_group: Mapping[str, Sequence[int]],
    levels: int,
    min_size: int = DEFAULT_MIN_GROUP_SIZE,
    what: str = "groups",
    level_names: Sequence[str] | None = None,
) -> tuple[list[Group], GroupTest]:
    """Per-group counts and medians, and a Kruskal-Wallis test across the groups shown.

    A group with fewer than `min_size` people is suppressed: its counts and median are hidden so
    nobody in a small group can be picked out, and it is left out of the test.
    """
    if min_size < 0:
        raise ValueError("min_size cannot be negative")
    names = _names_for(levels, level_names)
    groups: list[Group] = []
    samples: dict[str, list[int]] = {}
    for label, raw in scores_by_group.items():
        scores = [operator.index(s) for s in raw]
        bad = [s for s in scores if not 1 <= s <= levels]
        if bad:
            raise ValueError(f"scores outside 1-{levels} in group {label!r}: {bad}")
        n = len(scores)
        if n < min_size:
            groups.append(Group(label, n, True, None, None, min_size))
            continue
        counts = tuple(scores.count(level) for level in range(1, levels + 1))
        median = float(statistics.median(scores)) if scores else None
        groups.append(Group(label, n, False, counts, median, min_size))
        if scores:  # only possible to be empty with min_size 0; an empty sample has no ranks
            samples[label] = scores

    if len(samples) < 2:
        # `what` is written to follow "between" ("strategic and operational partners"), so
        # these sentences say "groups" rather than fit it into a phrase it was not made for.
        if sum(1 for g in groups if g.n > 0) < 2:
            sentence = "Fewer than two groups have votes, so there is nothing to compare."
        else:
            sentence = (
                "Not enough people in at least two groups to compare "
                f"(fewer than {min_size} in a group)."
            )
        return groups, GroupTest((), None, None, None, sentence)

    tested = tuple(samples)
    pooled = [s for scores in samples.values() for s in scores]
    no_difference = "Every vote was the same level, so there is no difference to test."
    identical = GroupTest(tested, None, None, None, no_difference)
    # With every score equal there are no ranks to compare: scipy raises or returns NaN
    # depending on version, so the case is answered before scipy is asked.
    if len(set(pooled)) == 1:
        return groups, identical
    # Imported here: scipy is a third of the server's start-up time and memory, and only the
    # results pages need it, not the live voting path.
    from scipy import stats

    result = stats.kruskal(*samples.values())
    h, p = float(result.statistic), float(result.pvalue)
    if not (math.isfinite(h) and math.isfinite(p)):
        return groups, identical
    epsilon_squared = h / (len(pooled) - 1)

    if p < SIGNIFICANCE:
        medians = ", ".join(
            f"{label} median {level_label(statistics.median(scores), names)}"
            for label, scores in samples.items()
        )
        sentence = (
            f"Evidence of a difference between {what}: {medians} "
            f"({_format_p(p)}, ε² = {epsilon_squared:.2f})."
        )
    else:
        sentence = f"No evidence of a difference between {what} ({_format_p(p)})."
    return groups, GroupTest(tested, h, p, epsilon_squared, sentence)


# --------------------------------------------------------------------------------------------
# Before and after discussion


@dataclass(frozen=True)
class RoundChange:
    before: Figures
    after: Figures
    median_change: float | None  # after minus before; None unless both rounds have votes
    consensus_change: float | None
    sentence: str


def round_change(
    before_counts: Sequence[int], after_counts: Sequence[int], level_names: Sequence[str]
) -> RoundChange:
    before = figures(before_counts, level_names)
    after = figures(after_counts, level_names)
    if before.n == 0 and after.n == 0:
        return RoundChange(before, after, None, None, "No votes in either round yet.")
    if before.n == 0:
        sentence = (
            f"No votes before discussion; after it, the median is "
            f"{level_label(after.median, level_names)} (agreement {after.consensus:.2f})."
        )
        return RoundChange(before, after, None, None, sentence)
    if after.n == 0:
        sentence = (
            f"No votes after discussion yet; before it, the median was "
            f"{level_label(before.median, level_names)} (agreement {before.consensus:.2f})."
        )
        return RoundChange(before, after, None, None, sentence)

    assert before.median is not None and after.median is not None
    assert before.consensus is not None and after.consensus is not None
    median_change = after.median - before.median
    consensus_change = after.consensus - before.consensus
    # Compare what the reader sees: a change too small to show at two decimals is "stayed at".
    was, now = f"{before.consensus:.2f}", f"{after.consensus:.2f}"
    if was == now:
        agreement = f"agreement stayed at {now}"
    elif consensus_change > 0:
        agreement = f"agreement rose from {was} to {now}"
    else:
        agreement = f"agreement fell from {was} to {now}"
    old, new = level_label(before.median, level_names), level_label(after.median, level_names)
    median = (
        f"the median moved from {old} to {new}" if old != new else f"the median stayed at {new}"
    )
    sentence = f"After discussion, {agreement} and {median}."
    return RoundChange(before, after, median_change, consensus_change, sentence)
