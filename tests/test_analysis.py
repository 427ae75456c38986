"""Unit tests of voting/analysis.py. Every expected figure is worked out by hand in the test (the
arithmetic is in the comments), not copied from the code's own output; only the Kruskal-Wallis
statistic is also checked against scipy itself, since the module promises scipy's figure."""

from __future__ import annotations

import dataclasses
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from voting.analysis import (
    DEFAULT_LEVEL_NAMES,
    Desk,
    Figures,
    _format_p,
    combine,
    compare_with_desk,
    describe,
    figures,
    level_label,
    round_change,
    segment,
)

NAMES = DEFAULT_LEVEL_NAMES  # Early, Developing, Maturing, Mature
log2 = math.log2


def assert_no_nan(obj: object) -> None:
    """No field of a result dataclass (or tuple inside one) may be NaN or infinite."""
    for field in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, field.name)
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if isinstance(v, float):
                assert not math.isnan(v), field.name
                assert math.isfinite(v), field.name


# --------------------------------------------------------------------------------------------
# Desk


def test_desk_single_and_split() -> None:
    assert Desk(2).levels == (2,)
    assert Desk(2).value == 2.0
    # Developing/Maturing sits halfway between 2 and 3.
    assert Desk(2, 3).levels == (2, 3)
    assert Desk(2, 3).value == 2.5


@pytest.mark.parametrize(("level", "upper"), [(0, None), (2, 2), (2, 4), (3, 2)])
def test_desk_refuses_non_adjacent_or_impossible_levels(level: int, upper: int | None) -> None:
    with pytest.raises(ValueError):
        Desk(level, upper)


def test_desk_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Desk(2).level = 3  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# figures(): a worked example


def test_every_figure_of_a_typical_strand() -> None:
    fig = figures([2, 5, 3, 1])
    # Scores in order: 1 1 2 2 2 2 2 3 3 3 4 (n = 2+5+3+1 = 11).
    assert fig.counts == (2, 5, 3, 1)
    assert fig.n == 11
    # 100*2/11, 100*5/11, 100*3/11, 100*1/11
    assert fig.percentages == pytest.approx((18.1818182, 45.4545455, 27.2727273, 9.0909091))
    # Odd n: the 6th score, which is 2.
    assert fig.median == 2.0
    assert fig.modes == (2,)
    # (2*1 + 5*2 + 3*3 + 1*4) / 11 = 25/11
    assert fig.mean == pytest.approx(25 / 11)
    # Sum of squares 2*1 + 5*4 + 3*9 + 1*16 = 65; SS = 65 - 11*(25/11)^2 = 65 - 625/11 = 90/11;
    # variance (n-1) = (90/11)/10 = 9/11; sd = 3/sqrt(11) = 0.9045.
    assert fig.sd == pytest.approx(3 / math.sqrt(11))
    assert fig.sd == pytest.approx(0.9045340)
    # Inclusive quartiles: position (n-1)*p, 0-based. Q1 at 10*0.25 = 2.5, between the 3rd and
    # 4th scores (2 and 2) = 2; Q3 at 10*0.75 = 7.5, between the 8th and 9th (3 and 3) = 3.
    assert fig.q1 == 2.0
    assert fig.q3 == 3.0
    assert fig.iqr == 1.0
    # Consensus, mu = 25/11, d = 4 - 1 = 3:
    #   level 1: |1 - 25/11| / 3 = 14/33 -> 1 - 14/33 = 19/33, weight 2/11
    #   level 2: |2 - 25/11| / 3 =  3/33 -> 30/33 = 10/11,     weight 5/11
    #   level 3: |3 - 25/11| / 3 =  8/33 -> 25/33,             weight 3/11
    #   level 4: |4 - 25/11| / 3 = 19/33 -> 14/33,             weight 1/11
    # = 1 + (2/11)(-0.79645) + (5/11)(-0.13750) + (3/11)(-0.40054) + (1/11)(-1.23704) = 0.5710
    by_hand = 1 + (
        2 / 11 * log2(19 / 33)
        + 5 / 11 * log2(10 / 11)
        + 3 / 11 * log2(25 / 33)
        + 1 / 11 * log2(14 / 33)
    )
    assert fig.consensus == pytest.approx(by_hand)
    assert fig.consensus == pytest.approx(0.5710, abs=5e-5)
    assert fig.split is False
    assert fig.split_reason is None


def test_modes_keep_every_tie() -> None:
    # Early and Maturing both have 3 votes, the highest count.
    assert figures([3, 1, 3, 0]).modes == (1, 3)
    assert figures([3, 3, 3, 3]).modes == (1, 2, 3, 4)


def test_even_number_of_votes_gives_a_half_level_median() -> None:
    # Scores 2 2 2 2 2 3 3 3 3 3: the middle two (5th and 6th) are 2 and 3 -> 2.5.
    fig = figures([0, 5, 5, 0])
    assert fig.median == 2.5
    assert level_label(fig.median, NAMES) == "Developing/Maturing"
    # Scores 1 1 1 2 2 2 3 3: the 4th and 5th are 2 and 2 -> 2.0, a whole level.
    assert figures([3, 3, 2, 0]).median == 2.0
    # Scores 1 4: the average of the middle two is (1 + 4) / 2 = 2.5 even with nobody there.
    assert figures([1, 0, 0, 1]).median == 2.5


def test_all_votes_on_one_level() -> None:
    fig = figures([0, 0, 7, 0])
    assert fig.n == 7
    assert fig.percentages == (0.0, 0.0, 100.0, 0.0)
    assert fig.median == 3.0
    assert fig.modes == (3,)
    assert fig.mean == 3.0
    assert fig.sd == 0.0
    assert (fig.q1, fig.q3, fig.iqr) == (3.0, 3.0, 0.0)
    # Every |X_i - mu| is 0, so the only term is 1 * log2(1) = 0 -> consensus 1.
    assert fig.consensus == 1.0
    assert fig.split is False


def test_one_vote() -> None:
    fig = figures([0, 1, 0, 0])
    assert fig.n == 1
    assert fig.percentages == (0.0, 100.0, 0.0, 0.0)
    assert fig.median == 2.0
    assert fig.modes == (2,)
    assert fig.mean == 2.0
    # A sample sd and quartiles need two scores.
    assert fig.sd is None
    assert (fig.q1, fig.q3, fig.iqr) == (None, None, None)
    assert fig.consensus == 1.0
    assert fig.split is False
    assert_no_nan(fig)


def test_no_votes_gives_none_and_zeros_never_nan() -> None:
    fig = figures([0, 0, 0, 0])
    assert fig.n == 0
    assert fig.counts == (0, 0, 0, 0)
    assert fig.percentages == (0.0, 0.0, 0.0, 0.0)
    for name in ("median", "mean", "sd", "consensus", "q1", "q3", "iqr", "split_reason"):
        assert getattr(fig, name) is None, name
    assert fig.modes == ()
    assert fig.split is False
    assert_no_nan(fig)
    assert not any(math.isnan(p) for p in fig.percentages)

    comparison = compare_with_desk([0, 0, 0, 0], Desk(2, 3))
    assert comparison is not None
    assert (comparison.below, comparison.at, comparison.above) == (0, 0, 0)
    assert (comparison.pct_below, comparison.pct_at, comparison.pct_above) == (0.0, 0.0, 0.0)
    assert comparison.gap is None
    assert comparison.direction is None
    assert_no_nan(comparison)

    assert level_label(fig.median, NAMES) == "not enough votes"
    assert describe("Culture", fig, comparison, Desk(2, 3), NAMES) == "No votes on Culture yet."
    assert describe("Culture", fig, None, None, NAMES) == "No votes on Culture yet."


# --------------------------------------------------------------------------------------------
# The split rule


def test_hertfordshire_split_room() -> None:
    fig = figures([6, 1, 0, 5])
    # n = 12; scores 1x6, 2, 4x5: the 6th and 7th are 1 and 2 -> median 1.5.
    assert fig.n == 12
    assert fig.median == 1.5
    # mean (6 + 2 + 20) / 12 = 28/12 = 7/3
    assert fig.mean == pytest.approx(7 / 3)
    # Sum of squares 6 + 4 + 80 = 90; SS = 90 - 12*(7/3)^2 = 90 - 196/3 = 74/3; var = 74/33.
    assert fig.sd == pytest.approx(math.sqrt(74 / 33))
    # Q1 at 11*0.25 = 2.75 (3rd/4th scores: 1, 1) = 1; Q3 at 8.25 (9th/10th: 4, 4) = 4.
    assert (fig.q1, fig.q3, fig.iqr) == (1.0, 4.0, 3.0)
    # Consensus, mu = 7/3, d = 3:
    #   level 1: (4/3)/3 = 4/9 -> 5/9, weight 6/12
    #   level 2: (1/3)/3 = 1/9 -> 8/9, weight 1/12
    #   level 4: (5/3)/3 = 5/9 -> 4/9, weight 5/12   (level 3 has no votes: term omitted)
    # = 1 + 0.5(-0.84800) + (1/12)(-0.16993) + (5/12)(-1.16993) = 0.0744
    by_hand = 1 + 6 / 12 * log2(5 / 9) + 1 / 12 * log2(8 / 9) + 5 / 12 * log2(4 / 9)
    assert fig.consensus == pytest.approx(by_hand)
    assert fig.consensus == pytest.approx(0.0744, abs=5e-5)
    # Rule (a): Early holds 6/12 = 0.50 and Mature 5/12 = 0.42, both >= 0.25, three levels apart;
    # between them Developing (1) and Maturing (0) each hold fewer than 5 and fewer than 6.
    assert fig.split is True
    assert fig.split_reason == "votes cluster at Early and Mature"


def test_adjacent_levels_sharing_the_room_is_not_a_split() -> None:
    fig = figures([0, 5, 5, 0])
    # Developing and Maturing are next to each other, so rule (a) cannot apply.
    # Consensus: mu = 2.5, both levels 0.5 away -> 1 - 0.5/3 = 5/6; 1 + log2(5/6) = 0.7370.
    assert fig.consensus == pytest.approx(1 + log2(5 / 6))
    assert fig.consensus == pytest.approx(0.7370, abs=5e-5)
    assert fig.modes == (2, 3)
    assert fig.split is False
    assert fig.split_reason is None


def test_uniform_votes_are_low_agreement() -> None:
    fig = figures([3, 3, 3, 3])
    # No valley: every level between two candidates holds as many votes (3), not fewer.
    # Consensus, mu = 2.5: levels 1 and 4 are 1.5 away -> 1 - 1.5/3 = 1/2;
    # levels 2 and 3 are 0.5 away -> 5/6. = 1 + 2(1/4)log2(1/2) + 2(1/4)log2(5/6)
    # = 1 - 0.5 + 0.5(-0.26303) = 0.3685 < 0.5.
    by_hand = 1 + 0.5 * log2(1 / 2) + 0.5 * log2(5 / 6)
    assert fig.consensus == pytest.approx(by_hand)
    assert fig.consensus == pytest.approx(0.3685, abs=5e-5)
    assert fig.split is True
    assert fig.split_reason == "low agreement (consensus 0.37)"
    # Scores 1 1 1 2 2 2 3 3 3 4 4 4. Q1 at 11*0.25 = 2.75, between the 3rd and 4th scores
    # (1 and 2): 1 + 0.75*(2-1) = 1.75; Q3 at 11*0.75 = 8.25, between the 9th and 10th (3 and
    # 4): 3 + 0.25 = 3.25; IQR 1.5.
    assert (fig.q1, fig.q3, fig.iqr) == (1.75, 3.25, 1.5)
    # 12 scores: the 6th and 7th are 2 and 3 -> 2.5; mean 30/12 = 2.5.
    assert fig.median == 2.5
    assert fig.mean == 2.5


def test_non_adjacent_levels_without_a_valley_are_not_split() -> None:
    fig = figures([4, 5, 4, 0])
    # Early (4/13 = 0.31) and Maturing (4/13) are two apart and both >= 0.25, but Developing
    # between them holds 5, more than either: one hump, not two camps.
    # Consensus: mu = (4 + 10 + 12)/13 = 2; levels 1 and 3 are 1 away -> 1 - 1/3 = 2/3,
    # level 2 contributes log2(1) = 0: 1 + (8/13)log2(2/3) = 1 - 0.3600 = 0.6400 >= 0.5.
    assert fig.consensus == pytest.approx(1 + 8 / 13 * log2(2 / 3))
    assert fig.consensus == pytest.approx(0.6400, abs=5e-5)
    assert fig.split is False


def test_rule_a_alone_splits_a_room_with_middling_consensus() -> None:
    # A five-level scale: levels 2 and 4 hold 3/7 = 0.43 each, level 3 between them holds 1.
    # Consensus, mu = 3, d = 5 - 1 = 4: levels 2 and 4 are 1 away -> 3/4; level 3 -> log2(1) = 0.
    # = 1 + (6/7)log2(3/4) = 1 - 0.3557 = 0.6443, above the threshold, so only rule (a) fires.
    fig = figures([0, 3, 1, 3, 0])
    assert fig.consensus == pytest.approx(1 + 6 / 7 * log2(3 / 4))
    assert fig.consensus >= 0.5
    assert fig.split is True
    # No names given for a five-level scale: "Level k".
    assert fig.split_reason == "votes cluster at Level 2 and Level 4"


def test_three_camps_are_all_named() -> None:
    # Levels 1, 3, 5 each hold 3/9; (1,3) and (3,5) are valleys; (1,5) is not (level 3 holds 3).
    names = ("A", "B", "C", "D", "E")
    fig = figures([3, 0, 3, 0, 3], names)
    assert fig.split_reason == "votes cluster at A, C and E"


def test_too_few_votes_are_never_split() -> None:
    # n = 2 and n = 3: consensus is 0 and 0.08 resp. and the votes sit at the extremes, but
    # three people are not a "room".
    assert figures([1, 0, 0, 1]).consensus == 0.0
    assert figures([1, 0, 0, 1]).split is False
    assert figures([1, 0, 0, 2]).split is False
    # n = 4 is enough: Early 2/4 and Mature 2/4, nothing between -> split.
    # Consensus: mu = 2.5, both extremes 1.5 away -> 1/2: 1 + log2(1/2) = 0.
    fig = figures([2, 0, 0, 2])
    assert fig.consensus == 0.0
    assert fig.split is True
    assert fig.split_reason == "votes cluster at Early and Mature"


def test_split_reason_uses_the_names_given() -> None:
    fig = figures([6, 1, 0, 5], ("Red", "Amber", "Yellow", "Green"))
    assert fig.split_reason == "votes cluster at Red and Green"


@pytest.mark.parametrize(
    ("counts", "names"),
    [([], None), ([1, -1, 0, 0], None), ([1, 2, 3], NAMES), ([1.0, 2, 3, 4], None)],
)
def test_bad_counts_are_refused(counts: list[int], names: tuple[str, ...] | None) -> None:
    with pytest.raises((ValueError, TypeError)):
        figures(counts, names)


def test_one_level_scale_has_full_consensus() -> None:
    # d = 0 would divide by zero; everyone is necessarily on the one level.
    fig = figures([5], ("Only",))
    assert fig.consensus == 1.0
    assert fig.split is False


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=2, max_size=7))
def test_figures_are_always_well_formed(counts: list[int]) -> None:
    fig = figures(counts)
    assert_no_nan(fig)
    assert fig.n == sum(counts)
    if fig.n:
        assert sum(fig.percentages) == pytest.approx(100)
        assert fig.consensus is not None
        assert 0.0 <= fig.consensus <= 1.0
        assert fig.median is not None
        assert fig.median * 2 == int(fig.median * 2)  # whole or half level
        assert fig.split_reason is not None if fig.split else fig.split_reason is None


# --------------------------------------------------------------------------------------------
# combine()


def test_combine_sums_level_by_level() -> None:
    # (1+0+2, 2+1+0, 3+0+0, 4+1+0)
    assert combine([[1, 2, 3, 4], [0, 1, 0, 1], (2, 0, 0, 0)], 4) == (3, 3, 3, 5)
    assert combine(iter([[1, 1, 1, 1]]), 4) == (1, 1, 1, 1)
    assert combine([], 4) == (0, 0, 0, 0)
    with pytest.raises(ValueError):
        combine([[1, 2, 3]], 4)


# --------------------------------------------------------------------------------------------
# Desk comparison and sentences


def test_lower_than_a_single_desk_level() -> None:
    counts = [3, 5, 4, 1]
    # n = 13; scores 1 1 1 2 2 2 2 2 3 3 3 3 4: the 7th is 2 (Developing).
    # Desk Maturing (3): below = 3 + 5 = 8, at = 4, above = 1.
    c = compare_with_desk(counts, Desk(3))
    assert c is not None
    assert (c.below, c.at, c.above) == (8, 4, 1)
    # 800/13 = 61.54, 400/13 = 30.77, 100/13 = 7.69
    assert (c.pct_below, c.pct_at, c.pct_above) == pytest.approx((61.538, 30.769, 7.692), 1e-3)
    assert c.gap == -1.0  # 2 - 3
    assert c.direction == "lower"
    assert describe("Culture", figures(counts), c, Desk(3), NAMES) == (
        "Partners rate Culture lower than the desk assessment: median Developing vs desk "
        "Maturing; 62% below."
    )


def test_split_desk_rating_counts_both_levels_as_at() -> None:
    counts = [1, 4, 3, 2]
    # Desk Developing/Maturing: at = 4 + 3 = 7 of 10, below = 1, above = 2.
    c = compare_with_desk(counts, Desk(2, 3))
    assert c is not None
    assert (c.below, c.at, c.above) == (1, 7, 2)
    assert (c.pct_below, c.pct_at, c.pct_above) == pytest.approx((10.0, 70.0, 20.0))
    # Scores 1 2 2 2 2 3 3 3 4 4: 5th and 6th are 2 and 3 -> median 2.5; 2.5 - 2.5 = 0.
    assert c.gap == 0.0
    assert c.direction == "same"
    assert describe("Culture", figures(counts), c, Desk(2, 3), NAMES) == (
        "Partners agree with the desk assessment of Culture: median Developing/Maturing, "
        "desk Developing/Maturing; 70% at the desk rating."
    )


def test_agreeing_with_a_single_desk_level() -> None:
    counts = [1, 7, 2, 0]
    # n = 10, scores 1 2x7 3 3: 5th and 6th are 2 -> median 2 = desk; at = 7/10 = 70%.
    c = compare_with_desk(counts, Desk(2))
    assert c is not None
    assert describe("Culture", figures(counts), c, Desk(2), NAMES) == (
        "Partners agree with the desk assessment of Culture: median Developing, desk "
        "Developing; 70% at the desk rating."
    )


def test_higher_than_a_split_desk_rating() -> None:
    counts = [0, 1, 4, 6]
    # n = 11; scores 2 3 3 3 3 4 4 4 4 4 4: the 6th is 4 (Mature).
    # Desk Developing/Maturing: below 0, at 1 + 4 = 5, above 6 -> 600/11 = 54.5% -> "55%".
    c = compare_with_desk(counts, Desk(2, 3))
    assert c is not None
    assert (c.below, c.at, c.above) == (0, 5, 6)
    assert c.gap == 1.5  # 4 - 2.5
    assert c.direction == "higher"
    assert describe("Culture", figures(counts), c, Desk(2, 3), NAMES) == (
        "Partners rate Culture higher than the desk assessment: median Mature vs desk "
        "Developing/Maturing; 55% above."
    )


def test_median_on_one_end_of_a_split_desk_rating() -> None:
    # Median Maturing vs desk Developing/Maturing: gap 3 - 2.5 = 0.5, direction "higher", but
    # all 7 votes are at the desk rating, so the sentence says "upper end", not "0% above".
    c = compare_with_desk([0, 0, 7, 0], Desk(2, 3))
    assert c is not None
    assert (c.gap, c.direction, c.at) == (0.5, "higher", 7)
    assert describe("Culture", figures([0, 0, 7, 0]), c, Desk(2, 3), NAMES) == (
        "Partners rate Culture at the upper end of the desk assessment: median Maturing, "
        "desk Developing/Maturing; 100% at the desk rating, 0% above."
    )
    # Maturing 5, Mature 4: median (9 votes, 5th) Maturing; at 5/9 = 56%, above 4/9 = 44%.
    c = compare_with_desk([0, 0, 5, 4], Desk(2, 3))
    assert c is not None
    assert describe("Culture", figures([0, 0, 5, 4]), c, Desk(2, 3), NAMES) == (
        "Partners rate Culture at the upper end of the desk assessment: median Maturing, "
        "desk Developing/Maturing; 56% at the desk rating, 44% above."
    )
    # One vote at Developing: median 2, gap -0.5, lower end.
    c = compare_with_desk([0, 1, 0, 0], Desk(2, 3))
    assert c is not None
    assert (c.gap, c.direction) == (-0.5, "lower")
    assert describe("Culture", figures([0, 1, 0, 0]), c, Desk(2, 3), NAMES) == (
        "Partners rate Culture at the lower end of the desk assessment: median Developing, "
        "desk Developing/Maturing; 100% at the desk rating, 0% below."
    )


def test_split_room_whose_median_matches_the_desk_does_not_agree() -> None:
    # Scores 1 1 4 4: median (1 + 4)/2 = 2.5 = desk Developing/Maturing, but nobody voted there.
    fig = figures([2, 0, 0, 2])
    c = compare_with_desk([2, 0, 0, 2], Desk(2, 3))
    assert c is not None
    assert (c.direction, c.at) == ("same", 0)
    assert describe("Culture", fig, c, Desk(2, 3), NAMES) == (
        "The median matches the desk assessment of Culture: median Developing/Maturing, desk "
        "Developing/Maturing; 0% at the desk rating. The room is split: votes cluster at Early "
        "and Mature."
    )


def test_describe_appends_the_split() -> None:
    counts = [6, 1, 0, 5]
    # Median 1.5 vs desk 2.5 -> lower, gap -1; below = Early = 6 of 12 = 50%.
    c = compare_with_desk(counts, Desk(2, 3))
    assert c is not None
    assert c.gap == -1.0
    assert describe("Delivery", figures(counts), c, Desk(2, 3), NAMES) == (
        "Partners rate Delivery lower than the desk assessment: median Early/Developing vs desk "
        "Developing/Maturing; 50% below. The room is split: votes cluster at Early and Mature."
    )
    # Low agreement: uniform votes, median 2.5 vs desk Developing 2 -> higher;
    # above = Maturing + Mature = 6 of 12 = 50%.
    assert describe("Culture", figures([3, 3, 3, 3]), None, Desk(2), NAMES) == (
        "Partners rate Culture higher than the desk assessment: median Developing/Maturing vs "
        "desk Developing; 50% above. The room is split: low agreement (consensus 0.37)."
    )


def test_describe_without_a_desk_rating() -> None:
    counts = [2, 6, 3, 1]
    # n = 12; scores 1 1 2x6 3 3 3 4: 6th and 7th are 2 -> Developing.
    assert compare_with_desk(counts, None) is None
    assert describe("Culture", figures(counts), None, None, NAMES) == (
        "Partners rate Culture Developing (median of 12 votes); no desk rating to compare."
    )
    assert describe("Culture", figures([0, 0, 1, 0]), None, None, NAMES) == (
        "Partners rate Culture Maturing (median of 1 vote); no desk rating to compare."
    )


def test_describe_works_out_a_missing_comparison() -> None:
    counts = [3, 5, 4, 1]
    assert describe("Culture", figures(counts), None, Desk(3), NAMES) == describe(
        "Culture", figures(counts), compare_with_desk(counts, Desk(3)), Desk(3), NAMES
    )


def test_desk_outside_the_scale_is_refused() -> None:
    with pytest.raises(ValueError):
        compare_with_desk([1, 2, 3, 4], Desk(4, 5))


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (None, "not enough votes"),
        (1, "Early"),
        (2, "Developing"),
        (2.0, "Developing"),
        (2.5, "Developing/Maturing"),
        (4, "Mature"),
        (2.24, "Developing"),  # 4.48 halves -> 4 -> 2.0
        (2.25, "Developing/Maturing"),  # 4.5 halves rounds half up -> 5 -> 2.5
        (2.74, "Developing/Maturing"),  # 5.48 -> 5 -> 2.5
        (2.75, "Maturing"),  # 5.5 -> 6 -> 3.0
        (7 / 3, "Developing/Maturing"),  # 4.67 -> 5 -> 2.5
    ],
)
def test_level_label(value: float | None, label: str) -> None:
    assert level_label(value, NAMES) == label


@pytest.mark.parametrize("value", [0.5, 0.7, 4.3, 5])
def test_level_label_outside_the_scale(value: float) -> None:
    with pytest.raises(ValueError):
        level_label(value, NAMES)


# --------------------------------------------------------------------------------------------
# segment(): groups, suppression and the Kruskal-Wallis test


def test_group_test_by_hand_and_against_scipy() -> None:
    strategic = [1, 1, 2, 2, 3]
    operational = [3, 3, 4, 4, 4]
    groups, test = segment(
        {"strategic": strategic, "operational": operational},
        4,
        what="strategic and operational partners",
    )
    assert [g.label for g in groups] == ["strategic", "operational"]
    assert groups[0].counts == (2, 2, 1, 0)
    assert groups[1].counts == (0, 0, 2, 3)
    assert (groups[0].median, groups[1].median) == (2.0, 4.0)
    assert not any(g.suppressed for g in groups)
    assert test.groups == ("strategic", "operational")

    # By hand. Pooled N = 10: 1 1 2 2 3 3 3 4 4 4 -> mid-ranks 1.5 1.5 3.5 3.5 6 6 6 9 9 9.
    # Rank sums: strategic 1.5+1.5+3.5+3.5+6 = 16; operational 6+6+9+9+9 = 39 (total 55 ✓).
    # H0 = 12/(N(N+1)) * sum(R^2/n) - 3(N+1) = 12/110 * (256 + 1521)/5 - 33 = 1587/275 = 5.7709
    # Ties t = 2, 2, 3, 3: C = 1 - (6 + 6 + 24 + 24)/(1000 - 10) = 1 - 60/990 = 31/33.
    # H = H0 / C = (1587/275) * (33/31) = 6.1432; df = 1 so p = erfc(sqrt(H/2)) = 0.0132.
    h_by_hand = (1587 / 275) * (33 / 31)
    assert test.statistic == pytest.approx(h_by_hand)
    assert test.statistic == pytest.approx(6.1432, abs=5e-5)
    assert test.p_value == pytest.approx(math.erfc(math.sqrt(h_by_hand / 2)))
    # And exactly what scipy says on the same data.
    expected = stats.kruskal(strategic, operational)
    assert test.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert test.p_value == pytest.approx(expected.pvalue, abs=1e-12)
    # epsilon^2 = H / (N - 1) = 6.1432 / 9 = 0.6826
    assert test.epsilon_squared == pytest.approx(h_by_hand / 9)
    assert test.sentence == (
        "Evidence of a difference between strategic and operational partners: strategic median "
        "Developing, operational median Mature (p = 0.013, ε² = 0.68)."
    )


def test_three_groups_match_scipy_with_a_suppressed_group_left_out() -> None:
    data = {
        "Health": [2, 3, 3, 2, 4, 3],
        "Police": [1, 2, 2, 1, 2, 3, 2],
        "Schools": [2, 2, 3, 3, 3],
        "Housing": [4, 4, 1, 2],  # 4 people, fewer than 5: suppressed and not tested
    }
    groups, test = segment(data, 4, what="sectors")
    housing = groups[3]
    assert housing.label == "Housing"
    assert housing.n == 4
    assert housing.suppressed is True
    assert housing.counts is None
    assert housing.median is None
    assert housing.size_label == "fewer than 5"
    assert groups[0].size_label == "6"
    assert test.groups == ("Health", "Police", "Schools")

    expected = stats.kruskal(data["Health"], data["Police"], data["Schools"])
    assert test.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert test.p_value == pytest.approx(expected.pvalue, abs=1e-12)
    # N = 6 + 7 + 5 = 18 tested people: epsilon^2 = H / 17.
    assert test.epsilon_squared == pytest.approx(expected.statistic / 17)
    # Had Housing been included, scipy would give a different answer.
    with_housing = stats.kruskal(*data.values())
    assert test.statistic != pytest.approx(with_housing.statistic)


def test_no_evidence_sentence() -> None:
    # The same multiset in both groups: equal mean ranks, so H = 0 and p = 1.
    _, test = segment({"North": [1, 2, 3, 4, 2], "South": [2, 1, 4, 3, 2]}, 4, what="localities")
    assert test.statistic == pytest.approx(0.0, abs=1e-12)
    assert test.p_value == pytest.approx(1.0)
    assert test.epsilon_squared == pytest.approx(0.0, abs=1e-12)
    assert test.sentence == "No evidence of a difference between localities (p = 1.00)."


def test_every_vote_the_same_has_no_difference_to_test() -> None:
    # All ranks tie: scipy raises (or returns NaN, by version), so the module must answer first.
    groups, test = segment({"a": [2] * 5, "b": [2] * 6}, 4, what="forum types")
    assert test.groups == ("a", "b")
    assert (test.statistic, test.p_value, test.epsilon_squared) == (None, None, None)
    assert test.sentence == "Every vote was the same level, so there is no difference to test."
    assert groups[0].counts == (0, 5, 0, 0)
    assert_no_nan(test)


def test_not_enough_people_in_two_groups() -> None:
    groups, test = segment({"strategic": [1, 2, 3, 4, 2, 3], "operational": [1, 2, 3, 4]}, 4)
    assert groups[1].suppressed is True
    assert test.groups == ()
    assert (test.statistic, test.p_value, test.epsilon_squared) == (None, None, None)
    assert test.sentence == (
        "Not enough people in at least two groups to compare (fewer than 5 in a group)."
    )
    # The minimum shows in the sentence.
    _, test = segment({"a": [1] * 7, "b": [2] * 9}, 4, min_size=10)
    assert test.sentence == (
        "Not enough people in at least two groups to compare (fewer than 10 in a group)."
    )


def test_a_group_of_size_zero() -> None:
    groups, test = segment({"empty": [], "full": [1, 2, 3, 3, 4]}, 4)
    empty = groups[0]
    assert (empty.n, empty.suppressed, empty.counts, empty.median) == (0, True, None, None)
    assert empty.size_label == "fewer than 5"
    assert test.groups == ()
    assert test.statistic is None
    # Only one group has anyone in it.
    assert test.sentence == "Fewer than two groups have votes, so there is nothing to compare."
    # With suppression switched off an empty group shows zero counts but still cannot be ranked.
    groups, test = segment({"empty": [], "a": [1, 2, 3], "b": [3, 4, 4]}, 4, min_size=0)
    assert (groups[0].suppressed, groups[0].counts, groups[0].median) == (False, (0, 0, 0, 0), None)
    assert test.groups == ("a", "b")
    assert test.statistic == pytest.approx(stats.kruskal([1, 2, 3], [3, 4, 4]).statistic)


def test_no_groups_at_all() -> None:
    groups, test = segment({}, 4)
    assert groups == []
    assert test.statistic is None
    assert test.sentence == "Fewer than two groups have votes, so there is nothing to compare."


def test_scores_outside_the_scale_are_refused() -> None:
    with pytest.raises(ValueError):
        segment({"a": [1, 2, 5]}, 4)
    with pytest.raises(ValueError):
        segment({"a": [0, 2]}, 4)


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.41, "p = 0.41"),
        (0.003, "p = 0.003"),
        (0.0132, "p = 0.013"),
        (0.0004, "p < 0.001"),
        (0.0496, "p = 0.0496"),  # 3 decimals would read "0.050", the wrong side of 0.05
        (0.0504, "p = 0.050"),
        (1.0, "p = 1.00"),
    ],
)
def test_p_value_wording(p: float, text: str) -> None:
    assert _format_p(p) == text


# --------------------------------------------------------------------------------------------
# round_change(): before and after discussion


def test_agreement_rose_and_median_moved() -> None:
    change = round_change([2, 5, 3, 1], [0, 2, 8, 1], NAMES)
    # Before: consensus 0.5710 and median Developing (see the worked example above).
    # After: n = 11, scores 2 2 3x8 4 -> 6th is 3 (Maturing); mu = (4 + 24 + 4)/11 = 32/11;
    #   level 2: (10/11)/3 = 10/33 -> 23/33; level 3: (1/11)/3 -> 32/33; level 4: (12/11)/3 ->
    #   21/33: 1 + (2/11)log2(23/33) + (8/11)log2(32/33) + (1/11)log2(21/33) = 0.8137.
    after = 1 + 2 / 11 * log2(23 / 33) + 8 / 11 * log2(32 / 33) + 1 / 11 * log2(21 / 33)
    assert change.after.consensus == pytest.approx(after)
    assert change.after.consensus == pytest.approx(0.8137, abs=5e-5)
    assert change.median_change == 1.0  # 3 - 2
    assert change.consensus_change == pytest.approx(after - change.before.consensus)
    assert change.sentence == (
        "After discussion, agreement rose from 0.57 to 0.81 and the median moved from "
        "Developing to Maturing."
    )


def test_agreement_fell() -> None:
    change = round_change([0, 2, 8, 1], [2, 5, 3, 1], NAMES)
    assert change.median_change == -1.0
    assert change.consensus_change is not None and change.consensus_change < 0
    assert change.sentence == (
        "After discussion, agreement fell from 0.81 to 0.57 and the median moved from "
        "Maturing to Developing."
    )


def test_nothing_changed() -> None:
    change = round_change([2, 5, 3, 1], [4, 10, 6, 2], NAMES)
    # Doubling every count keeps the proportions, so consensus and median are unchanged.
    assert change.median_change == 0.0
    assert change.consensus_change == pytest.approx(0.0, abs=1e-12)
    assert change.sentence == (
        "After discussion, agreement stayed at 0.57 and the median stayed at Developing."
    )


def test_round_change_with_missing_rounds() -> None:
    empty = round_change([0, 0, 0, 0], [0, 0, 0, 0], NAMES)
    assert (empty.median_change, empty.consensus_change) == (None, None)
    assert empty.sentence == "No votes in either round yet."
    assert_no_nan(empty)

    only_after = round_change([0, 0, 0, 0], [0, 0, 7, 0], NAMES)
    assert (only_after.median_change, only_after.consensus_change) == (None, None)
    assert only_after.sentence == (
        "No votes before discussion; after it, the median is Maturing (agreement 1.00)."
    )
    only_before = round_change([0, 0, 7, 0], [0, 0, 0, 0], NAMES)
    assert only_before.sentence == (
        "No votes after discussion yet; before it, the median was Maturing (agreement 1.00)."
    )
    assert isinstance(only_before.before, Figures)


def test_median_of_scores_matches_statistics_module() -> None:
    # The convention is exactly statistics.median over one score per vote.
    counts = [3, 0, 2, 5]
    scores = [1, 1, 1, 3, 3, 4, 4, 4, 4, 4]
    assert figures(counts).median == statistics.median(scores) == 3.5


def test_a_strand_name_starting_with_the_reads_naturally_inside_a_sentence() -> None:
    from voting.analysis import describe, figures

    names = ["Early", "Developing", "Maturing", "Mature"]
    sentence = describe(
        "The family experience of transformed services", figures([0, 0, 0, 0]), None, None, names
    )
    assert sentence == "No votes on the family experience of transformed services yet."
