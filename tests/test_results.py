"""Results end to end: votes cast through the phones' Socket.IO path come out the same on the
results page, the report, the summary CSV, the long CSV, the workbook and the JSON, and the
small-group suppression holds in every one of them.

Expected counts are worked out here from the plans the phones voted (tests/workshops.py), not
taken from the code under test; the figures (consensus, median, split) are checked to agree
between the exports and with what the plans make obvious (a room split in two camps is split).
"""

from __future__ import annotations

from collections import Counter

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.downloads import (
    LABELS,
    Downloads,
    Tables,
    by_strand,
    forum_table,
    groups_table,
    header_row_of,
    labelled_csv,
    new_assessment,
    ok,
    save_agreed,
    section,
    sheet_table,
    summary_table,
    text_of,
)
from tests.helpers import control, make_session, phone, screen, vote
from tests.workshops import (
    LA_CHILDREN,
    LEVEL_NAMES,
    REPORT_AGREED,
    REPORT_DESK,
    REPORT_FORUMS,
    STRANDS,
    ForumPlan,
    Profile,
    current_votes,
    run_forum,
    total_counts,
)
from voting.reporting.exports import CSV_COLUMNS
from voting.reporting.workbook import sheet_name

SUMMARY_HEADINGS = [
    "Strand",
    "Desk rating",
    "Agreed rating",
    "Votes",
    *LEVEL_NAMES,
    "Median",
    "Consensus",
    "Split",
    "Split reason",
    "Forums where it split",
    "% below desk",
    "% at desk",
    "% above desk",
    "Not shown because",
    "Summary",
    "Key evidence",
    "Sources of evidence",
    "Next steps",
]
SESSION_HEADINGS = [
    "Strand",
    *LEVEL_NAMES,
    "Votes",
    "Median",
    "Consensus",
    "% below desk",
    "% at desk",
    "% above desk",
]
GROUP_HEADINGS = ["Strand", "Compared by", "Group", "People", *LEVEL_NAMES, "Median", "Test"]


# --------------------------------------------------------------------------------------------
# a) Two sessions, every view agrees with the votes cast

CONFERENCE = ForumPlan(
    # The colon is not allowed in a sheet name.
    name="Partnership conference: June",
    forum_type="mixed",
    locality="North Herts",
    profiles=tuple(
        Profile(
            role="strategic" if i < 5 else "operational",
            sector=LA_CHILDREN if i % 2 == 0 else "Health",
            locality="North Herts" if i < 6 else "Dacorum",
        )
        for i in range(10)
    ),
    votes={
        "family-experience": (1, 1, 2, 2, 2, 2, 3, 2, 1, 2),
        # Two camps: five say Early, five say Mature.
        "leadership": (1, 1, 1, 1, 1, 4, 4, 4, 4, 4),
        "strategy": (1, 1, 1, 2, 2, 1, 1, 2, 3, 1),
    },
    revotes={"strategy": (2, 2, 2, 2, 3, 2, 2, 3, 3, 2)},
    comments={"family-experience": {0: "Families still repeat their story."}},
)
DISTRICT = ForumPlan(
    name="Dacorum district group",
    forum_type="operational",
    locality="Dacorum",
    profiles=(Profile("operational", "Police", "Dacorum"),) * 3,
    votes={"leadership": (2, 3, 3), "culture": (3, 4, 3)},
)
TWO_FORUMS = (CONFERENCE, DISTRICT)
TWO_FORUMS_AGREED = {
    "family-experience": ("2", "Pilot one family plan across agencies."),
    "leadership": ("3-4", "=Board to review demand data quarterly"),
    "strategy": ("2", ""),
}


def test_every_view_agrees_with_the_votes_cast(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    for plan in TWO_FORUMS:
        run_forum(app, facilitator, assessment_id, plan)
    saved = save_agreed(facilitator, assessment_id, TWO_FORUMS_AGREED)
    assert saved.status_code == 302
    expected = {key: total_counts(TWO_FORUMS, key) for key in STRANDS}
    # Worked by hand from the plans, so a mistake in total_counts cannot hide one in the code.
    assert expected["leadership"] == [5, 1, 2, 5]
    assert expected["strategy"] == [0, 7, 3, 0]  # round 2 only
    assert expected["culture"] == [0, 0, 2, 1]
    assert expected["delivery"] == [0, 0, 0, 0]
    got = Downloads(facilitator, assessment_id)
    # Culture was voted on only by the district group's three: its total is hidden everywhere.
    shown = [key for key in STRANDS if key != "culture"]
    assert got.votes_label.startswith("Raw data, programme team only")
    assert got.summary_label.startswith("For the board: safe to circulate")
    assert got.json["circulation"].startswith("For the board")
    assert got.raw_json["circulation"].startswith("Raw data, programme team only")

    # The long CSV: one row per current vote, exactly the levels voted.
    assert len(got.votes) == current_votes(TWO_FORUMS) == 36
    voted = Counter((r["strand_key"], int(r["level_number"])) for r in got.votes)
    for key in STRANDS:
        assert [voted[(key, level)] for level in range(1, 5)] == expected[key], key
    assert {r["round"] for r in got.votes if r["strand_key"] == "strategy"} == {"2"}

    # The summary CSV.
    culture = got.summary["culture"]
    assert culture["votes"] == "" and culture["not_shown"] == "fewer than 5 people"
    assert [culture[f"n_{n.lower()}"] for n in LEVEL_NAMES] == [""] * 4
    for key in shown:
        row = got.summary[key]
        assert [int(row[f"n_{n.lower()}"]) for n in LEVEL_NAMES] == expected[key], key
        assert int(row["votes"]) == sum(expected[key])
    assert got.summary["leadership"]["split"] == "yes"
    assert got.summary["leadership"]["split_reason"] == "votes cluster at Early and Mature"
    assert {k for k, r in got.summary.items() if r["split"] == "yes"} == {"leadership"}
    assert got.summary["leadership"]["agreed_rating"] == "Maturing/Mature"
    assert got.summary["family-experience"]["agreed_rating"] == "Developing"
    assert got.summary["delivery"]["agreed_rating"] == ""
    # The CSV defuses a formula with an apostrophe; the workbook stores plain text (below).
    assert got.summary["leadership"]["next_steps"] == "'=Board to review demand data quarterly"
    assert got.summary["strategy"]["median"] == "Developing"
    # Family experience's desk rating is Developing: 6 of its 10 votes are Developing.
    assert got.summary["family-experience"]["pct_at_desk"] == "60.0"
    assert got.summary["workforce-development"]["consensus"] == ""

    # The JSON: raw tallies (current rounds) only in the raw download; the analysis agrees
    # with the CSVs.
    assert "tallies" not in got.json
    for key in STRANDS:
        raw = got.raw_json["tallies"][key]
        assert raw == {"counts": expected[key], "votes": sum(expected[key])}
    assert got.analysis["culture"]["counts"] is None and got.analysis["culture"]["suppressed"]
    for key in shown:
        strand = got.analysis[key]
        assert strand["counts"] == expected[key]
        assert strand["votes"] == sum(expected[key])
        assert strand["split"] == (got.summary[key]["split"] == "yes")
        assert strand["median_label"] == (got.summary[key]["median"] or "not enough votes")
        csv_consensus = got.summary[key]["consensus"]
        if csv_consensus:
            assert round(strand["consensus"], 3) == float(csv_consensus)
        else:
            assert strand["consensus"] is None
    assert got.analysis["leadership"]["agreed"] == "Maturing/Mature"
    rounds = got.analysis["strategy"]["rounds"]
    assert [r["label"] for r in rounds] == ["Partnership conference: June: round 1 to 2"]
    assert rounds[0]["before"] == [6, 3, 1, 0] and rounds[0]["after"] == [0, 7, 3, 0]

    # The results page.
    table = summary_table(got.results_html)
    assert table["culture"][2] == "Not shown: fewer than 5 people"
    for key in shown:
        cells = table[key]
        row = got.summary[key]
        if not sum(expected[key]):  # no zeros and no split verdict: it says so, once
            assert cells[2:] == [
                "Not voted on in this assessment",
                row["agreed_rating"] or "Not yet agreed",
            ], key
            continue
        assert cells[2] == str(sum(expected[key])), key
        assert cells[3] == (row["median"] or "not enough votes"), key
        consensus = got.analysis[key]["consensus"]
        assert cells[4] == ("none" if consensus is None else f"{consensus:.2f}"), key
        assert cells[5] == ("Split" if row["split"] == "yes" else "No"), key
        assert cells[7] == (row["agreed_rating"] or "Not yet agreed"), key
    for key in ("family-experience", "strategy"):
        forums = forum_table(got.results_html, key)
        assert forums["All forums"][:5] == [str(n) for n in [*expected[key], sum(expected[key])]]
    assert "Partnership conference: June: round 1 to 2" in text_of(got.results_html)
    assert "Families still repeat their story." in text_of(
        section(got.results_html, 'id="strand-family-experience"')
    )

    # The workbook.
    book = got.workbook
    assert book.sheetnames == [
        "Summary",
        "Desk",
        "Charts",
        "Partnership conference June",
        "Dacorum district group",
        "Groups",
        "Forums",
        "Actions",
    ]
    summary = book["Summary"]
    header, rows = sheet_table(summary, header_row_of(summary))
    assert header[: len(SUMMARY_HEADINGS)] == SUMMARY_HEADINGS
    assert "After discussion" in header
    sheet = by_strand(rows)
    assert list(sheet) == list(STRANDS)
    assert [sheet["culture"][n] for n in [*LEVEL_NAMES, "Votes"]] == [None] * 5
    assert sheet["culture"]["Not shown because"] == "fewer than 5 people"
    for key in shown:
        row, csv_row = sheet[key], got.summary[key]
        assert [row[n] for n in LEVEL_NAMES] == expected[key], key
        assert row["Votes"] == sum(expected[key])
        assert row["Split"] == csv_row["split"]
        assert (row["Split reason"] or "") == csv_row["split_reason"]
        assert (row["Median"] or "") == csv_row["median"]
        assert (row["Agreed rating"] or "") == csv_row["agreed_rating"]
        assert row["Summary"] == csv_row["summary"]
        if csv_row["consensus"]:
            assert row["Consensus"] == float(csv_row["consensus"])
            at_desk = csv_row["pct_at_desk"]
            assert row["% at desk"] == (float(at_desk) if at_desk else None)
        else:
            assert row["Consensus"] is None
    # Text that looks like a formula stays text.
    steps = summary.cell(header_row_of(summary) + 2, SUMMARY_HEADINGS.index("Next steps") + 1)
    assert steps.value == "=Board to review demand data quarterly" and steps.data_type == "s"
    assert "round 1 to 2" in sheet["strategy"]["After discussion"]

    conference = book["Partnership conference June"]
    assert conference["A1"].value == "Partnership conference: June"
    header, rows = sheet_table(conference, 4)
    assert header == SESSION_HEADINGS
    forum = by_strand(rows)
    assert list(forum) == ["family-experience", "leadership", "strategy"]
    for key in ("family-experience", "strategy"):
        assert [forum[key][n] for n in LEVEL_NAMES] == CONFERENCE.counts(key)
        assert forum[key]["Votes"] == 10
    # Leadership: the district group's three are hidden, and the conference's ten with them,
    # since the total minus the conference would give the three away.
    assert forum["leadership"]["Votes"] == (
        "not shown: hidden so that a small group's votes cannot be worked out"
    )
    assert [forum["leadership"][n] for n in LEVEL_NAMES] == [None] * 4
    district = by_strand(sheet_table(book["Dacorum district group"], 4)[1])
    assert list(district) == ["leadership", "culture"]
    for key in district:
        assert district[key]["Votes"] == "not shown: fewer than 5 people"
        assert [district[key][n] for n in LEVEL_NAMES] == [None] * 4

    assert [c.value for c in []] == []
    assert list(got.votes[0]) == list(CSV_COLUMNS)

    charts_sheet = book["Charts"]
    assert len(charts_sheet._charts) == 3  # one per strand with votes that may be shown
    header, rows = sheet_table(charts_sheet, header_row_of(charts_sheet))
    assert header[:5] == ["Strand", *LEVEL_NAMES]
    for key, row in by_strand(rows).items():
        if key == "culture":
            assert [row[n] for n in LEVEL_NAMES] == [None] * 4
        else:
            assert [row[n] for n in LEVEL_NAMES] == expected[key]

    groups = book["Groups"]
    header, rows = sheet_table(groups, 1)
    assert header == GROUP_HEADINGS
    roles = {
        r["Group"]: r
        for r in rows
        if r["Strand"] == LABELS["strategy"] and r["Compared by"] == "Role level"
    }
    # Strategy was voted only at the conference: five strategic, five operational.
    strategic = [CONFERENCE.current("strategy")[i] for i in range(5)]
    assert [roles["Strategic"][n] for n in LEVEL_NAMES] == [
        strategic.count(lv) for lv in range(1, 5)
    ]
    assert roles["Strategic"]["People"] == 5 and roles["Operational"]["People"] == 5


# --------------------------------------------------------------------------------------------
# b) A small group and a small forum are suppressed everywhere

BIG = ForumPlan(
    name="Countywide conference",
    forum_type="mixed",
    locality="",
    profiles=tuple(Profile("operational", "Health") for _ in range(6))
    + tuple(Profile("strategic", LA_CHILDREN) for _ in range(6))
    + tuple(Profile("strategic", "Police") for _ in range(3)),
    votes={"leadership": (2, 2, 3, 2, 3, 2, 3, 3, 4, 3, 3, 3, 1, 4, 1)},
)
MEDIUM = ForumPlan(
    name="District partnership",
    forum_type="operational",
    locality="Dacorum",
    profiles=(None,) * 6,
    votes={"leadership": (2, 2, 2, 3, 2, 2)},
)
SMALL = ForumPlan(
    name="Youth offending liaison",
    forum_type="operational",
    locality="Dacorum",
    profiles=(None,) * 3,
    votes={"leadership": (1, 1, 4)},
    revotes={"leadership": (1, 4, 4)},
)


def test_small_groups_and_forums_are_suppressed_in_every_view(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    for plan in (BIG, MEDIUM, SMALL):
        run_forum(app, facilitator, assessment_id, plan)
    got = Downloads(facilitator, assessment_id)
    police = [BIG.current("leadership")[i] for i in range(12, 15)]
    assert police == [1, 4, 1]

    # The results page: the police row says "fewer than 5 people" and has no counts; one of
    # the two sectors of 6 (the smallest shown) is hidden as well, so that the police cannot
    # be worked out by subtraction.
    sectors = groups_table(got.results_html, "leadership", "Sector or agency")
    assert sectors["Police"] == ["Not shown: fewer than 5 people"]
    protects = ["Not shown: hidden so that a small group's votes cannot be worked out"]
    assert sectors[LA_CHILDREN] == protects
    assert sectors["Health"][0] == "6"
    forums = forum_table(got.results_html, "leadership")
    assert forums["Youth offending liaison Dacorum"][0] == "Not shown: fewer than 5 people"
    assert forums["District partnership Dacorum"][0].startswith("Not shown")
    assert forums["Countywide conference"][:5] == [str(n) for n in [*BIG.counts("leadership"), 15]]
    page = text_of(got.results_html)
    assert "Youth offending liaison: round" not in page  # its rounds would show its counts

    # The JSON analysis.
    leadership = got.analysis["leadership"]
    sector = next(s for s in leadership["segments"] if s["attribute"] == "sector")
    hidden = {g["label"]: g for g in sector["groups"] if g["suppressed"]}
    assert set(hidden) == {"Police", LA_CHILDREN}
    assert all(g["counts"] is None and g["n"] is None for g in hidden.values())
    small = {f["name"]: f for f in leadership["forums"]}
    assert small["Youth offending liaison"] == {
        **small["Youth offending liaison"],
        "suppressed": True,
        "counts": None,
    }
    assert small["District partnership"]["counts"] is None
    assert small["Countywide conference"]["counts"] == BIG.counts("leadership")
    assert leadership["rounds"] == []

    # The workbook: Groups and the small forum's own sheet.
    _, rows = sheet_table(got.workbook["Groups"], 1)
    by_group = {r["Group"]: r for r in rows if r["Compared by"] == "Sector or agency"}
    assert by_group["Police"]["People"] == "not shown: fewer than 5 people"
    assert [by_group["Police"][n] for n in [*LEVEL_NAMES, "Median"]] == [None] * 5
    assert by_group[LA_CHILDREN]["People"].startswith("not shown: hidden so that")
    assert [by_group[LA_CHILDREN][n] for n in LEVEL_NAMES] == [None] * 4
    assert by_group["Health"]["People"] == 6
    liaison = by_strand(sheet_table(got.workbook["Youth offending liaison"], 4)[1])
    assert liaison["leadership"]["Votes"] == "not shown: fewer than 5 people"
    assert [liaison["leadership"][n] for n in LEVEL_NAMES] == [None] * 4
    # No sheet carries a round sentence for the small forum either.
    summary = got.workbook["Summary"]
    _, summary_rows = sheet_table(summary, header_row_of(summary))
    assert not by_strand(summary_rows)["leadership"]["After discussion"]


# --------------------------------------------------------------------------------------------
# c) The printable report


def test_report_of_six_strands_and_three_forums(app: Flask, facilitator: FlaskClient) -> None:
    aid = new_assessment(app, ["Dacorum", "Stevenage", "North Herts"], REPORT_DESK)
    for plan in REPORT_FORUMS:
        run_forum(app, facilitator, aid, plan)
    assert save_agreed(facilitator, aid, REPORT_AGREED).status_code == 302
    html = ok(facilitator.get(f"/facilitator/assessments/{aid}/report")).get_data(True)
    page = text_of(html)
    assert "Partner views from 3 forums" in page
    assert "For the board: safe to circulate" in page

    rows = {cells[0]: (cls, cells) for cls, cells in Tables(html).tables[0][1:]}
    for key, label in LABELS.items():
        assert any(name.startswith(label) for name in rows), key
        assert f'id="r-{key}"' in html
    split = [name for name, (cls, _) in rows.items() if "is-split" in cls]
    assert len(split) == 1 and split[0].startswith(LABELS["culture"])
    assert "Split: votes cluster at Early and Mature" in split[0]
    assert "report-strand is-split" in html
    culture_counts = total_counts(REPORT_FORUMS, "culture")
    assert culture_counts == [12, 0, 5, 11]

    # Comments and next steps sit under their own strand, and nowhere else.
    for plan in REPORT_FORUMS:
        for key, by_phone in plan.comments.items():
            for comment in by_phone.values():
                assert comment in text_of(section(html, f'aria-labelledby="r-{key}"')), comment
                others = [k for k in STRANDS if k != key]
                assert all(
                    comment not in text_of(section(html, f'aria-labelledby="r-{k}"'))
                    for k in others
                )
    for key, (_, steps) in REPORT_AGREED.items():
        body = text_of(section(html, f'aria-labelledby="r-{key}"'))
        assert f"Next steps {steps}" in body
    assert html.count("<svg") == 7  # the summary chart, and a chart per strand (all have votes)


# --------------------------------------------------------------------------------------------
# d) Edge cases


def test_an_empty_assessment_gives_valid_pages_and_files(
    facilitator: FlaskClient, assessment_id: int
) -> None:
    got = Downloads(facilitator, assessment_id)
    assert "No forum covered this strand" in got.results_html
    assert "Partner views from 0 forums" in text_of(got.report_html)
    assert list(got.summary) == list(STRANDS)
    assert all(r["votes"] == "0" and r["split"] == "no" for r in got.summary.values())
    assert got.votes == []
    assert got.workbook.sheetnames == ["Summary", "Desk", "Charts", "Groups", "Forums", "Actions"]
    summary = got.workbook["Summary"]
    _, rows = sheet_table(summary, header_row_of(summary))
    assert [r["Votes"] for r in rows] == [0] * 6
    assert got.workbook["Charts"]._charts == []
    assert got.workbook["Groups"]["A2"].value == "No votes yet."
    assert all(s["votes"] == 0 and s["median"] is None for s in got.analysis.values())


def test_one_vote_a_strand_nobody_covered_and_all_on_one_level(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    one = ForumPlan("Email request", "mixed", "", (None,), {"family-experience": (3,)})
    same = ForumPlan(
        "Safeguarding forum",
        "strategic",
        "",
        tuple(Profile("strategic" if i % 2 else "operational") for i in range(12)),
        {"leadership": (2,) * 12, "culture": (2,) * 12},
    )
    for plan in (one, same):
        run_forum(app, facilitator, assessment_id, plan)
    got = Downloads(facilitator, assessment_id)

    # One vote: the strand's total is one person's vote, so nothing of it is shown.
    fam = got.summary["family-experience"]
    assert (fam["votes"], fam["median"], fam["consensus"], fam["sd"], fam["split"]) == (
        ("", "", "", "", "")
    )
    assert got.analysis["family-experience"]["forums"][0]["suppressed"] is True
    total = forum_table(got.results_html, "family-experience")["All forums"]
    assert total[0] == "Not shown: fewer than 5 people"
    assert "Votes on The family experience of transformed services are not shown" in text_of(
        got.results_html
    )

    # Everyone on one level: consensus 1, no spread, nothing to test between groups.
    lead = got.summary["leadership"]
    assert (lead["n_developing"], lead["consensus"], lead["sd"], lead["iqr"]) == (
        "12",
        "1.0",
        "0.0",
        "0.0",
    )
    roles = groups_table(got.results_html, "leadership", "Role level")
    assert roles["Strategic"][:5] == ["6", "0", "6", "0", "0"]
    role_test = next(s for s in got.analysis["leadership"]["segments"] if s["attribute"] == "role")
    assert role_test["test"]["sentence"].startswith("Every vote was the same level")

    # Nobody covered workforce development or delivery.
    for key in ("workforce-development", "delivery"):
        assert got.summary[key]["forums"] == "0" and got.summary[key]["votes"] == "0"
        assert got.analysis[key]["forums"] == [] and got.analysis[key]["median"] is None
        assert "No forum covered this strand" in section(got.results_html, f'id="strand-{key}"')
    summary = got.workbook["Summary"]
    rows = by_strand(sheet_table(summary, header_row_of(summary))[1])
    assert rows["delivery"]["Votes"] == 0 and rows["delivery"]["Median"] is None
    assert rows["leadership"]["Consensus"] == 1.0
    assert rows["family-experience"]["Votes"] is None
    assert len(got.workbook["Charts"]._charts) == 2
    delivery = text_of(section(got.report_html, 'aria-labelledby="r-delivery"'))
    assert "Partners' votes Not voted on in this assessment." in delivery


def test_a_round_nobody_voted_in(app: Flask, facilitator: FlaskClient, assessment_id: int) -> None:
    """Round 2 opened and closed with no votes, then round 3: the rounds compare 2 with 3 (and
    1 with 2) without tripping over the empty round, and only round 3 counts."""
    session = make_session(app, assessment_id, strand_keys=["leadership"], collect_profile=False)
    console = screen(app, facilitator, "console", session.id)
    phones = [phone(app, session.join_code) for _ in range(6)]
    assert control(console, action="open", strand="leadership")["ok"]
    for p in phones:
        assert vote(p, "leadership", 1)["ok"]
    for _ in range(2):
        assert control(console, action="close", strand="leadership")["ok"]
        assert control(console, action="revote", strand="leadership")["ok"]
    for p in phones:
        assert vote(p, "leadership", 3)["ok"]
    got = Downloads(facilitator, assessment_id)
    assert got.analysis["leadership"]["counts"] == [0, 0, 6, 0]
    # Both changes involve the empty round 2, which has fewer votes than a group may show.
    assert got.analysis["leadership"]["rounds"] == []
    assert {r["round"] for r in got.votes} == {"3"}


def test_workbook_sheet_names_follow_excels_rules() -> None:
    taken = {"summary", "charts", "groups", "votes"}
    assert sheet_name("Votes", taken) == "Votes (2)"
    assert sheet_name("summary", taken) == "summary (2)"
    assert sheet_name("a/b\\c?d*e[f]g:h", set()) == "a b c d e f g h"
    assert sheet_name("'quoted'", set()) == "quoted"
    assert sheet_name("History", set()) == "Session History"
    assert sheet_name("   ", set()) == "Session"
    long = "Hertfordshire district implementation group, north"
    first = sheet_name(long, set())
    assert first == long[:31].rstrip() and len(first) <= 31
    second = sheet_name(long, {first.casefold()})
    assert second.endswith(" (2)") and len(second) <= 31
    assert second.casefold() != first.casefold()
    # An emoji is two UTF-16 units, which is how Excel counts the 31.
    emoji = sheet_name("🙂" * 20, set())
    assert len(emoji.encode("utf-16-le")) // 2 <= 31


def test_workbook_keeps_formula_like_text_as_text(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    run_forum(
        app,
        facilitator,
        assessment_id,
        ForumPlan('=HYPERLINK("http://x","y")', "mixed", "", (None,), {"culture": (2,)}),
    )
    book = Downloads(facilitator, assessment_id).workbook
    sheet = book.worksheets[3]
    assert sheet.title == '=HYPERLINK("http x","y")'
    assert sheet["A1"].value == '=HYPERLINK("http://x","y")' and sheet["A1"].data_type == "s"
    groups = book["Groups"]
    assert all(c.data_type == "s" for row in groups.iter_rows() for c in row if c.value)


# --------------------------------------------------------------------------------------------
# e) The agreed form refuses what it cannot store


@pytest.mark.parametrize(
    "bad",
    ["1-3", "2-1", "4-5", "0", "5", "abc", "2-", "-2", "1-2-3", "2.5", "Developing", "²", "1-²"],
)
def test_agreed_form_refuses_bad_ratings_and_changes_nothing(
    facilitator: FlaskClient, assessment_id: int, bad: str
) -> None:
    url = f"/facilitator/assessments/{assessment_id}/agreed"
    before = {"family-experience": ("2", "Keep going."), "leadership": ("3-4", "")}
    assert save_agreed(facilitator, assessment_id, before).status_code == 302
    response = save_agreed(
        facilitator,
        assessment_id,
        {"family-experience": ("3", "Changed?"), "leadership": (bad, "Changed too?")},
    )
    assert response.status_code == 400
    assert "There is a problem" in response.get_data(True)
    _, summary = labelled_csv(
        ok(facilitator.get(f"/facilitator/assessments/{assessment_id}/summary.csv")).get_data(True)
    )
    stored = {r["strand_key"]: (r["agreed_rating"], r["next_steps"]) for r in summary}
    assert stored["family-experience"] == ("Developing", "Keep going.")
    assert stored["leadership"] == ("Maturing/Mature", "")
    assert ok(facilitator.get(url))


def test_a_split_room_shows_on_its_chart_not_only_in_words(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    session = make_session(
        app, assessment_id, strand_keys=["leadership", "culture"], collect_profile=False
    )
    console = screen(app, facilitator, "console", session.id)
    control(console, action="open", strand="leadership")
    for level in (1, 1, 1, 4, 4, 4):
        assert vote(phone(app, session.join_code), "leadership", level)["ok"]
    control(console, action="open", strand="culture")
    for level in (2, 2, 2, 3, 2, 2):
        assert vote(phone(app, session.join_code), "culture", level)["ok"]
    base = f"/facilitator/assessments/{assessment_id}/charts"
    split = facilitator.get(f"{base}/leadership.svg").get_data(True)
    agreed = facilitator.get(f"{base}/culture.svg").get_data(True)
    assert ">Split: votes cluster at Early and Mature</text>" in split
    assert "Split:" not in agreed
    page = facilitator.get(f"/facilitator/assessments/{assessment_id}/results").get_data(True)
    assert ">Split: votes cluster at Early and Mature</text>" in page  # the inline chart too
