"""From the room to the board paper (issue 13): what happens after the vote, through the real
pages and downloads: the desk team's evidence in every output and on the projector, splits per
forum, votes recorded by hand, the forum register, moderation, the action plan and trends.

Expected figures are worked out here from the plans the phones voted (tests/workshops.py).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.downloads import (
    LABELS,
    Downloads,
    Tables,
    by_strand,
    header_row_of,
    section,
    sheet_table,
    text_of,
)
from tests.helpers import control, last, make_session, received, screen
from tests.workshops import REPORT_FORUMS, STRANDS, ForumPlan, run_forum, total_counts
from voting import analysis
from voting.assessments import DeskEntry, create_assessment, save_desk_ratings
from voting.database import get_database

# Devon's table: per strand a rating, its key evidence and where the evidence comes from.
DESK = {
    "family-experience": ("2", "Families still tell their story three times.", "Family survey"),
    "leadership": ("3", "Board reviews demand data.\nChair champions early help.", "Minutes"),
    "strategy": ("2-3", "Strategy drafted, not yet signed by health.", "Draft strategy"),
    "culture": ("2", "Whole-family talk at the top, case closure on the ground.", "Audit"),
    "workforce-development": ("2", "Training is agency by agency.", "Training log"),
    "delivery": ("1-2", "Three referral routes for one family.", "Front door review"),
}


def desk_assessment(app: Flask, area: str = "Hertfordshire", period: str = "2017") -> int:
    from voting.validation import parse_rating

    with app.app_context():
        framework = app.extensions["voting_frameworks"]["early-help-2016"]
        aid = create_assessment(get_database(), area, period, framework, ["Stevenage", "Dacorum"])
        save_desk_ratings(
            get_database(),
            aid,
            [
                DeskEntry(key, *parse_rating(rating), evidence, sources)
                for key, (rating, evidence, sources) in DESK.items()
            ],
        )
    return aid


# --------------------------------------------------------------------------------------------
# 1. Evidence everywhere the rating goes


def test_desk_evidence_and_sources_reach_every_output(app: Flask, facilitator: FlaskClient) -> None:
    aid = desk_assessment(app)
    run_forum(app, facilitator, aid, REPORT_FORUMS[0])
    got = Downloads(facilitator, aid)

    for key, (_, evidence, sources) in DESK.items():
        # The report: under the strand's own heading, with its rating.
        body = text_of(section(got.report_html, f'aria-labelledby="r-{key}"'))
        assert " ".join(evidence.split()) in body, key
        assert f"Sources {sources}" in body, key
        assert all(
            " ".join(evidence.split()) not in text_of(section(got.report_html, f'r-{other}"'))
            for other in STRANDS
            if other != key
        )
        # The summary CSV and the JSON.
        assert got.summary[key]["desk_evidence"] == evidence
        assert got.summary[key]["desk_sources"] == sources
        assert got.analysis[key]["desk_evidence"] == evidence
        assert got.analysis[key]["desk_sources"] == sources

    # The workbook: the Summary sheet's columns and a Desk sheet as Devon's table.
    summary = got.workbook["Summary"]
    _, rows = sheet_table(summary, header_row_of(summary))
    summary_by_strand = by_strand(rows)
    desk_sheet = got.workbook["Desk"]
    _, desk_rows = sheet_table(desk_sheet, header_row_of(desk_sheet))
    desk_by_strand = by_strand(desk_rows)
    assert list(desk_by_strand) == list(STRANDS)
    for key, (_, evidence, sources) in DESK.items():
        assert summary_by_strand[key]["Key evidence"] == evidence
        assert summary_by_strand[key]["Sources of evidence"] == sources
        assert desk_by_strand[key]["Key evidence"] == evidence
        assert desk_by_strand[key]["Sources of evidence"] == sources
    assert desk_by_strand["strategy"]["Desk rating"] == "Developing/Maturing"
    assert LABELS["strategy"] in [r["Strand"] for r in desk_rows]


def _presenter_strand(messages: list[dict[str, Any]], key: str) -> dict[str, Any]:
    state = last(messages, "state")
    return next(s for s in state["strands"] if s["key"] == key)


def test_the_evidence_slide_shows_the_evidence_and_never_the_rating(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = desk_assessment(app)
    session = make_session(app, aid, strand_keys=["leadership", "culture"])
    console = screen(app, facilitator, "console", session.id)
    presenter = screen(app, facilitator, "presenter", session.id)
    received(presenter)
    assert _presenter_strand(received(console), "leadership")["has_evidence"] is True

    ack = control(console, action="evidence", strand="leadership", show=True)
    assert ack["ok"], ack
    shown = _presenter_strand(received(presenter), "leadership")
    assert shown["evidence"] == {
        "evidence": DESK["leadership"][1],
        "sources": DESK["leadership"][2],
    }
    # Before, during and after voting the rating stays out until the facilitator reveals it.
    assert shown["desk"] is None
    assert "Maturing" not in str(shown["evidence"])
    assert _presenter_strand(received(console), "leadership")["evidence_shown"] is True
    assert control(console, action="open", strand="leadership")["ok"]
    assert _presenter_strand(received(presenter), "leadership")["desk"] is None

    # A presenter that reconnects gets the slide in its snapshot; the other strand has none.
    again = screen(app, facilitator, "presenter", session.id)
    snapshot = received(again)
    assert _presenter_strand(snapshot, "leadership")["evidence"]["evidence"]
    assert _presenter_strand(snapshot, "culture")["evidence"] is None

    assert control(console, action="evidence", strand="leadership", show=False)["ok"]
    assert _presenter_strand(received(presenter), "leadership")["evidence"] is None


def test_the_evidence_slide_refuses_a_strand_without_evidence(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    # The shared fixture records no evidence for strategy (no desk rating at all).
    session = make_session(app, assessment_id, strand_keys=["leadership", "strategy"])
    console = screen(app, facilitator, "console", session.id)
    ack = control(console, action="evidence", strand="strategy", show=True)
    assert not ack["ok"] and "No key evidence is recorded for Strategy" in ack["error"]
    ack = control(console, action="evidence", strand="culture", show=True)
    assert not ack["ok"]


# --------------------------------------------------------------------------------------------
# 2. Splits per forum

# Delivery splits one forum in two (Hertfordshire's headline) but not the pooled votes; a forum
# too small to be shown also splits, and must not be named.
SPLIT_FORUM = ForumPlan(
    name="Dacorum locality forum",
    forum_type="operational",
    locality="Dacorum",
    profiles=(None,) * 10,
    votes={"delivery": (1, 1, 1, 1, 1, 4, 4, 4, 4, 4)},
)
CALM_FORUMS = (
    ForumPlan(
        name="Stevenage team meeting",
        forum_type="operational",
        locality="Stevenage",
        profiles=(None,) * 6,
        votes={"delivery": (2, 2, 2, 3, 2, 2)},
    ),
    ForumPlan(
        name="Four-person huddle",
        forum_type="operational",
        locality="Stevenage",
        profiles=(None,) * 4,
        votes={"delivery": (1, 4, 1, 4)},
    ),
    ForumPlan(
        name="Countywide conference",
        forum_type="mixed",
        locality="",
        profiles=(None,) * 24,
        votes={
            "delivery": (2,) * 5 + (3, 3) + (2,) * 4 + (3,) + (2,) * 3 + (3,) + (2,) * 6 + (3, 2)
        },
    ),
)


def test_a_strand_split_in_one_forum_is_flagged_with_that_forums_name(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = desk_assessment(app)
    for plan in (SPLIT_FORUM, *CALM_FORUMS):
        run_forum(app, facilitator, aid, plan)
    pooled = total_counts((SPLIT_FORUM, *CALM_FORUMS), "delivery")
    assert pooled == [7, 24, 6, 7]
    assert not analysis.figures(tuple(pooled)).split  # the pooled rule alone says "no"
    got = Downloads(facilitator, aid)
    name = SPLIT_FORUM.name

    # The report: the table row is marked and names the forum, and so does the strand's section.
    rows = {cells[0]: (cls, cells) for cls, cells in Tables(got.report_html).tables[0][1:]}
    delivery = next(r for r in rows if r.startswith(LABELS["delivery"]))
    assert "is-split" in rows[delivery][0]
    assert f"split in {name}" in delivery
    assert "Four-person huddle" not in got.report_html.split("report-footer")[0].split("<svg")[0]
    body = text_of(section(got.report_html, 'aria-labelledby="r-delivery"'))
    assert f"The room split in: {name}." in body
    assert [r for r, (cls, _) in rows.items() if "is-split" in cls] == [delivery]

    # The results page warns about it, naming the forum.
    warning = text_of(got.results_html.split("Where the room split", 1)[1].split("</div>", 1)[0])
    assert f"split in {name}" in warning and "huddle" not in warning

    # Summary CSV, workbook and JSON say the same.
    assert got.summary["delivery"]["split"] == "yes"
    assert got.summary["delivery"]["split_forums"] == name
    assert got.summary["leadership"]["split"] == "no"
    summary = got.workbook["Summary"]
    _, sheet_rows = sheet_table(summary, header_row_of(summary))
    assert by_strand(sheet_rows)["delivery"]["Forums where it split"] == name
    assert by_strand(sheet_rows)["delivery"]["Split"] == "yes"
    found = got.analysis["delivery"]
    assert found["split"] is True and found["split_pooled"] is False
    assert found["split_forums"] == [name]
    forums = {f["name"]: f for f in found["forums"]}
    assert forums[name]["split"] is True
    assert (
        forums["Four-person huddle"]["suppressed"] and forums["Four-person huddle"]["split"] is None
    )
