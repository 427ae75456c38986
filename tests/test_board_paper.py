"""From the room to the board paper (issue 13): what happens after the vote, through the real
pages and downloads: the desk team's evidence in every output and on the projector, splits per
forum, votes recorded by hand, the forum register, moderation, the action plan and trends.

Expected figures are worked out here from the plans the phones voted (tests/workshops.py).
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from html import unescape
from itertools import pairwise
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.downloads import (
    LABELS,
    Downloads,
    Tables,
    by_strand,
    forum_table,
    header_row_of,
    save_agreed,
    section,
    sheet_table,
    text_of,
)
from tests.helpers import control, last, make_session, phone, post_form, received, screen, vote
from tests.workshops import (
    LA_CHILDREN,
    LEVEL_NAMES,
    REPORT_FORUMS,
    STRANDS,
    ForumPlan,
    Profile,
    run_forum,
    total_counts,
)
from voting import analysis
from voting.assessments import DeskEntry, create_assessment, save_desk_ratings
from voting.database import get_database
from voting.models import VotingSession

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
    assert f"Split in {name}" in delivery
    assert "Four-person huddle" not in got.report_html.split("report-footer")[0].split("<svg")[0]
    # The first page's chart flags it too, naming the forum, and names no other.
    chart = summary_chart_of(got.report_html)
    assert chart.flags == [f"Split in {name}"]
    assert "huddle" not in chart.svg
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


class SummaryChart:
    """The report's first-page chart read back: where each strand's marks sit on the scale.

    Each strand's row starts with a dotted rule; in it the desk rating is a square, the
    partners' median a disc and the agreed rating a diamond, each centred on its level's
    vertical line (or halfway between two), and the split flag is bold text at the right."""

    def __init__(self, svg: str, level_names: tuple[str, ...]) -> None:
        self.svg = svg
        axis = re.findall(r'<text x="([\d.]+)" y="\d+" text-anchor="middle"[^>]*>([^<]+)<', svg)
        assert tuple(name for _, name in axis) == level_names, axis
        # Each level's line, and halfway between two adjacent ones ("Early/Developing").
        self.positions = {float(x): name for x, name in axis}
        for (x1, low), (x2, high) in pairwise(axis):
            self.positions[(float(x1) + float(x2)) / 2] = f"{low}/{high}"
        rows = svg.split('stroke-dasharray="2 3"/>')[1:]
        self.rows = [self._marks(row) for row in rows]
        self.flags = [
            " ".join(re.findall(r'font-weight="700">([^<]+)<', row))
            for row in rows
            if "font-weight" in row
        ]

    def level_at(self, x: float) -> str:
        found = [name for at, name in self.positions.items() if abs(at - x) < 0.2]
        assert len(found) == 1, f"no level at x={x}"
        return found[0]

    def _marks(self, row: str) -> dict[str, str]:
        found = {}
        square = re.search(r'<rect x="([\d.]+)" y="[\d.]+" width="10"', row)
        if square:
            found["desk"] = self.level_at(float(square.group(1)) + 5)
        disc = re.search(r'<circle cx="([\d.]+)"', row)
        if disc:
            found["median"] = self.level_at(float(disc.group(1)))
        diamond = re.search(r'<polygon points="([\d.]+),', row)
        if diamond:
            found["agreed"] = self.level_at(float(diamond.group(1)))
        return found


def summary_chart_of(html: str) -> SummaryChart:
    start = html.index('<svg xmlns="http://www.w3.org/2000/svg" id="ratings-summary"')
    return SummaryChart(unescape(html[start : html.index("</svg>", start)]), tuple(LEVEL_NAMES))


def test_the_report_opens_with_the_ratings_table_and_the_summary_chart(
    app: Flask, facilitator: FlaskClient
) -> None:
    """The board paper's first page: per strand the desk rating, the partners' median and the
    agreed rating, in the table and on the chart, and the split flag naming the one forum
    where Delivery split (pooled, it does not)."""
    aid = desk_assessment(app)
    for plan in (SPLIT_FORUM, *CALM_FORUMS):
        run_forum(app, facilitator, aid, plan)
    agreed = {"delivery": ("2", "Map the three routes."), "strategy": ("3", "Get it signed.")}
    assert save_agreed(facilitator, aid, agreed).status_code == 302
    html = Downloads(facilitator, aid).report_html
    first_page = html.split('class="report-strands"')[0]
    assert '<section class="report-summary"' in first_page

    # The table: desk, partners' median and agreed per strand; Delivery's row flags the split.
    table = Tables(first_page).tables[0]
    header = table[0][1]
    assert header[:3] == ["Strand", "Desk rating", "Partners (median)"]
    assert header[-1] == "Agreed rating"
    rows = {cells[0].split(" Split")[0]: cells for _, cells in table[1:]}
    assert list(rows) == list(LABELS.values())
    delivery = rows[LABELS["delivery"]]
    assert delivery[0] == f"{LABELS['delivery']} Split in {SPLIT_FORUM.name}"
    assert delivery[1:3] == ["Early/Developing", "Developing"]  # pooled 7, 24, 6, 7
    assert delivery[-1] == "Developing"
    assert rows[LABELS["strategy"]][1] == "Developing/Maturing"
    assert rows[LABELS["strategy"]][2] == "Not voted on in this assessment"
    assert rows[LABELS["strategy"]][-1] == "Maturing"
    assert rows[LABELS["leadership"]][1:] == [
        "Maturing",
        "Not voted on in this assessment",
        "\u2013",
    ]

    # The chart: the same three ratings placed on the scale, and the same flag.
    chart = summary_chart_of(html)
    assert len(chart.rows) == len(STRANDS)
    by_key = dict(zip(STRANDS, chart.rows, strict=True))
    assert by_key["delivery"] == {
        "desk": "Early/Developing",
        "median": "Developing",
        "agreed": "Developing",
    }
    assert by_key["strategy"] == {"desk": "Developing/Maturing", "agreed": "Maturing"}
    assert by_key["leadership"] == {"desk": "Maturing"}
    assert chart.flags == [f"Split in {SPLIT_FORUM.name}"]
    # Its text alternative says all of it in words.
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", chart.svg, flags=re.DOTALL)
    assert desc is not None
    assert (
        f"{LABELS['delivery']}: desk Early/Developing, partners' median Developing, agreed "
        f"Developing; Split in {SPLIT_FORUM.name}."
    ) in desc.group(1)
    assert f"{LABELS['leadership']}: desk Maturing, partners' median not voted on" in desc.group(1)
    assert 'role="img"' in chart.svg and 'aria-labelledby="ratings-summary-title' in chart.svg


# --------------------------------------------------------------------------------------------
# 3. Votes recorded by hand

PHONE_FORUM = ForumPlan(
    name="Stevenage partnership workshop",
    forum_type="mixed",
    locality="Stevenage",
    profiles=(None,) * 6,
    votes={"delivery": (1, 2, 2, 1, 2, 3), "culture": (2, 2, 3, 3, 2, 2)},
)
# A district forum that voted by a show of hands, counted by the facilitator.
HANDS = {"delivery": [3, 4, 1, 0], "culture": [0, 2, 3, 2]}


def new_session_by_form(facilitator: FlaskClient, aid: int, **fields: Any) -> int:
    data = {
        "name": "Dacorum district group",
        "held_on": "2017-06-28",
        "forum_type": "operational",
        "locality": "Dacorum",
        "strands": ["delivery", "culture"],
        "pacing": "live",
        "method": "show_of_hands",
        **fields,
    }
    response = post_form(facilitator, f"/facilitator/assessments/{aid}/sessions/new", data)
    assert response.status_code == 302, response.get_data(True)[:500]
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def record_counts(
    facilitator: FlaskClient, session_id: int, method: str, counts: dict[str, list[int]]
) -> Any:
    data = {"record": "counts", "method": method}
    for key, per_level in counts.items():
        for level, n in enumerate(per_level, start=1):
            data[f"count-{key}-{level}"] = str(n)
    return post_form(facilitator, f"/facilitator/sessions/{session_id}/hand-counts", data)


def test_a_show_of_hands_forum_is_counted_and_labelled_in_every_output(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = desk_assessment(app)
    run_forum(app, facilitator, aid, PHONE_FORUM)
    sid = new_session_by_form(facilitator, aid)
    assert record_counts(facilitator, sid, "show_of_hands", HANDS).status_code == 302
    page = facilitator.get(f"/facilitator/sessions/{sid}/hand-counts").get_data(True)
    assert "Show of hands: 8" in text_of(page)

    got = Downloads(facilitator, aid)
    for key, hands in HANDS.items():
        expected = [a + b for a, b in zip(total_counts([PHONE_FORUM], key), hands, strict=True)]
        assert [int(got.summary[key][f"n_{n.lower()}"]) for n in LEVEL_NAMES] == expected, key
        assert got.analysis[key]["counts"] == expected
        forums = {f["name"]: f for f in got.analysis[key]["forums"]}
        assert forums["Dacorum district group"]["counts"] == hands
    # The raw downloads: one row per vote, marked with how it was cast; the JSON keeps counts.
    by_hand = [r for r in got.votes if r["method"] == "Show of hands"]
    assert len(by_hand) == sum(map(sum, HANDS.values()))
    assert {r["session"] for r in by_hand} == {"Dacorum district group"}
    assert all(r["role"] == "" and r["sector"] == "" for r in by_hand)
    assert {r["method"] for r in got.votes} == {"Phones", "Show of hands"}
    raw = got.raw_json
    session = next(s for s in raw["sessions"] if s["id"] == sid)
    assert session["method"] == "show_of_hands"
    assert {(h["strand"], h["level"], h["count"], h["method"]) for h in session["hand_counts"]} == {
        (key, level, n, "show_of_hands")
        for key, hands in HANDS.items()
        for level, n in enumerate(hands, start=1)
        if n
    }

    # Saving again by the same method replaces, not adds.
    assert (
        record_counts(facilitator, sid, "show_of_hands", {"delivery": [2, 2, 1, 1]}).status_code
        == 302
    )
    again = Downloads(facilitator, aid)
    forums = {f["name"]: f for f in again.analysis["delivery"]["forums"]}
    assert forums["Dacorum district group"]["counts"] == [2, 2, 1, 1]


def test_hand_counts_kept_in_a_backup_and_restored(app: Flask, facilitator: FlaskClient) -> None:
    from voting.reporting.results import gather
    from voting.upkeep.backups import assessment_backup, import_backup

    aid = desk_assessment(app)
    sid = new_session_by_form(facilitator, aid)
    assert record_counts(facilitator, sid, "show_of_hands", HANDS).status_code == 302
    with app.app_context():
        with get_database().read() as db:
            document = json.loads(json.dumps(assessment_backup(db, aid)))
        (entry,) = document["voting_sessions"]
        assert entry["method"] == "show_of_hands"
        assert sum(h["count"] for h in entry["hand_counts"]) == 15
        restored = import_backup(get_database(), document)
        with get_database().read() as db:
            results = gather(db, restored.assessment_id)
            assert results is not None
            by_key = {s.key: list(s.counts) for s in results.strands}
    assert by_key["delivery"] == HANDS["delivery"] and by_key["culture"] == HANDS["culture"]


def test_a_small_hand_counted_forum_is_suppressed_like_any_other(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = desk_assessment(app)
    run_forum(app, facilitator, aid, PHONE_FORUM)
    big = new_session_by_form(facilitator, aid)
    assert record_counts(facilitator, big, "show_of_hands", HANDS).status_code == 302
    small = new_session_by_form(facilitator, aid, name="Email round", method="email")
    upload = io.BytesIO(b"strand,level,count\r\ndelivery,Early,2\r\n6,Mature,1\r\n")
    response = post_form(
        facilitator,
        f"/facilitator/sessions/{small}/hand-counts",
        {"record": "upload", "method": "email", "file": (upload, "counts.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    got = Downloads(facilitator, aid)
    forums = {f["name"]: f for f in got.analysis["delivery"]["forums"]}
    assert forums["Email round"]["suppressed"] and forums["Email round"]["counts"] is None
    assert "fewer than 5 people" in forums["Email round"]["not_shown"]
    # Three votes by email are in the raw download, not singled out in the board's.
    assert len([r for r in got.votes if r["method"] == "Email"]) == 3
    table = forum_table(got.results_html, "delivery")
    (row,) = [cells for name, cells in table.items() if name.startswith("Email round")]
    assert "Not shown: fewer than 5 people" in " ".join(row)


def test_a_bad_counts_csv_is_refused_with_its_line_and_changes_nothing(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = desk_assessment(app)
    sid = new_session_by_form(facilitator, aid)
    url = f"/facilitator/sessions/{sid}/hand-counts"
    for body, words in (
        (b"strand,level,count\r\ndelivery,Early,2\r\nleadership,Early,1\r\n", "Line 3"),
        (b"strand,level,count\r\ndelivery,Excellent,2\r\n", "'Excellent' is not a level"),
        (b"strand,level,count\r\ndelivery,Early,-2\r\n", "whole number"),
        (b"strand;level;count\r\n", "header row"),
    ):
        response = post_form(
            facilitator,
            url,
            {"record": "upload", "method": "paper", "file": (io.BytesIO(body), "c.csv")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 400 and words in unescape(response.get_data(True))
    bad = record_counts(facilitator, sid, "show_of_hands", {"delivery": [1, "x", 0, 0]})  # type: ignore[list-item]
    assert bad.status_code == 400
    assert Downloads(facilitator, aid).analysis["delivery"]["votes"] in (0, None)


def test_a_paper_slip_joins_a_live_session_while_its_strand_is_open(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = desk_assessment(app)
    session = make_session(app, aid, strand_keys=["leadership", "culture"], collect_profile=False)
    console = screen(app, facilitator, "console", session.id)
    url = f"/facilitator/sessions/{session.id}/hand-counts"
    slip = {"record": "slip", "strand": "leadership", "level": "3"}
    closed = post_form(facilitator, url, slip)
    assert closed.status_code == 400 and "is not open" in closed.get_data(True)

    assert control(console, action="open", strand="leadership")["ok"]
    voters = [phone(app, session.join_code) for _ in range(5)]
    for p in voters:
        assert vote(p, "leadership", 2)["ok"]
    received(console)
    assert post_form(facilitator, url, slip).status_code == 302
    # The console hears the slip at once, as it hears a phone's vote.
    tallies = [m["args"][0] for m in received(console) if m["name"] == "tally"]
    assert tallies and tallies[-1]["counts"]["leadership"] == [0, 5, 1, 0]

    got = Downloads(facilitator, aid)
    assert got.analysis["leadership"]["counts"] == [0, 5, 1, 0]
    assert [r["method"] for r in got.votes].count("Paper") == 1


# --------------------------------------------------------------------------------------------
# 4. The forum register, with sectors and core partners per assessment

OUR_SECTORS = [
    "Local authority children's services",
    "Police",
    "Health",
    "Schools and education",
    "Youth offending",
    "Elected members",
]
OUR_CORE = ["Police", "Health", "Schools and education", "Elected members"]
# Five people from each of three sectors: every group big enough to be shown.
WORKSHOP = ForumPlan(
    name="Stevenage partnership workshop",
    forum_type="mixed",
    locality="Stevenage",
    profiles=tuple(
        Profile(role="operational", sector=s)
        for s in ("Police", "Youth offending", LA_CHILDREN)
        for _ in range(5)
    ),
    votes={
        "delivery": (1, 2, 2, 1, 2, 3, 2, 2, 1, 2, 3, 3, 2, 2, 1),
        "culture": (2, 2, 3, 3, 2, 2, 3, 2, 2, 3, 3, 2, 2, 2, 3),
    },
    held_on=date(2017, 6, 14),
)
HUDDLE = ForumPlan(
    name="Hitchin huddle",
    forum_type="operational",
    locality="North Herts",
    profiles=(Profile(sector="Police"), None, None),
    votes={"leadership": (2, 3, 3)},
    held_on=date(2017, 7, 1),
)


def test_the_forum_register_against_a_configured_list_of_core_partners(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = desk_assessment(app)
    url = f"/facilitator/assessments/{aid}/sectors"
    # A core partner outside the list is refused, and nothing changes.
    refused = post_form(facilitator, url, {"sectors": "Police", "core": ["Health"]})
    assert refused.status_code == 400 and "'Health' is not in the list" in unescape(
        refused.get_data(True)
    )
    saved = post_form(facilitator, url, {"sectors": "\n".join(OUR_SECTORS), "core": OUR_CORE})
    assert saved.status_code == 302

    # Phones choose from the assessment's own list.
    session = make_session(app, aid, strand_keys=["culture"], collect_profile=True)
    p = phone(app, session.join_code)
    assert last(received(p), "state")["profile"]["sectors"] == OUR_SECTORS
    assert p.emit("profile", {"sector": "Youth offending"}, callback=True)["profile"]
    assert not p.emit("profile", {"sector": "Housing"}, callback=True).get("ok", True)
    p.disconnect()
    with app.app_context(), get_database().write() as db:
        db.delete(db.get(VotingSession, session.id))

    run_forum(app, facilitator, aid, WORKSHOP)
    run_forum(app, facilitator, aid, HUDDLE)
    hands = new_session_by_form(facilitator, aid, strands=["delivery"])
    assert record_counts(facilitator, hands, "show_of_hands", {"delivery": [3, 4, 1, 0]})
    got = Downloads(facilitator, aid)

    expected = {
        "Stevenage partnership workshop": {
            "date": "2017-06-14",
            "kind": "Mixed",
            "locality": "Stevenage",
            "method": "Phones",
            "strands": "4, 6",
            "joined": 15,
            "voted": 15,
            "sectors": "Local authority children's services; Police; Youth offending",
        },
        "Dacorum district group": {
            "date": "2017-06-28",
            "kind": "Operational",
            "locality": "Dacorum",
            "method": "Show of hands",
            "strands": "6",
            "joined": 8,
            "voted": 8,
            "sectors": "",
        },
        "Hitchin huddle": {
            "date": "2017-07-01",
            "kind": "Operational",
            "locality": "North Herts",
            "method": "Phones",
            "strands": "2",
            "joined": "fewer than 5 people",
            "voted": "fewer than 5 people",
            "sectors": "Police",
        },
    }
    not_heard = "Health; Schools and education; Elected members"

    # The workbook's Forums sheet.
    sheet = got.workbook["Forums"]
    _, rows = sheet_table(sheet, header_row_of(sheet, "Forum"))
    assert [r["Forum"] for r in rows] == list(expected)  # in date order
    for r in rows:
        want = expected[r["Forum"]]
        got_row = {
            "date": r["Date"],
            "kind": r["Kind"],
            "locality": r["Locality"],
            "method": r["How they voted"],
            "strands": r["Strands"],
            "joined": r["Joined"],
            "voted": r["Voted"],
            "sectors": r["Sectors that took part"] or "",
        }
        assert got_row == want, r["Forum"]
    notes = [c.value for c in sheet["A"] if isinstance(c.value, str)]
    assert f"Core partners not heard at any forum: {not_heard}" in notes

    # The report's appendix and the results page: the same rows and the same gap.
    for html in (got.report_html, got.results_html):
        table = next(t for t in Tables(html).tables if t[0][1][:2] == ["Forum", "Date"])
        cells = {c[0]: c for _, c in table[1:]}
        assert list(cells) == list(expected)
        workshop = cells["Stevenage partnership workshop"]
        assert workshop[1:9] == [
            "2017-06-14",
            "Mixed",
            "Stevenage",
            "Phones",
            "4, 6",
            "15",
            "15",
            "Local authority children's services; Police; Youth offending",
        ]
        assert cells["Hitchin huddle"][6] == "Fewer than 5 people"
        assert f"Not heard at any forum: {not_heard}." in text_of(html)
    assert "Appendix: forum register" in got.report_html

    # The board's JSON: the register, and no raw hand counts per session.
    register = got.json["analysis"]["register"]
    assert register["core_partners"] == OUR_CORE
    assert register["core_partners_not_heard"] == not_heard.split("; ")
    forums = {f["name"]: f for f in register["forums"]}
    assert forums["Dacorum district group"]["method"] == "Show of hands"
    assert forums["Hitchin huddle"]["joined"] is None
    assert all("hand_counts" not in s for s in got.json["sessions"])


# --------------------------------------------------------------------------------------------
# 5. Moderation

NAMING = "Families still tell their story to three services before anyone joins up."


def _workbook_text(book: Any) -> str:
    return " ".join(
        str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row if c
    )


def test_a_hidden_comment_leaves_every_circulated_output_and_stays_in_the_raw_one(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = desk_assessment(app)
    run_forum(app, facilitator, aid, REPORT_FORUMS[0])
    before = Downloads(facilitator, aid)
    assert NAMING in text_of(before.report_html) and NAMING in text_of(before.results_html)
    assert NAMING in json.dumps(before.json, ensure_ascii=False)
    url = f"/facilitator/assessments/{aid}/comments"
    page = facilitator.get(url).get_data(True)
    vote_id = re.search(
        rf'id="comment-(\d+)">(?:(?!</form>).)*?{re.escape(unescape(NAMING)[:30])}',
        unescape(page),
        re.S,
    )
    assert vote_id, "the comment is not listed for moderation"
    refused = post_form(facilitator, url, {"vote": vote_id.group(1), "action": "hide"})
    assert refused.status_code == 400 and "Give a reason" in refused.get_data(True)
    hidden = post_form(
        facilitator,
        url,
        {"vote": vote_id.group(1), "action": "hide", "reason": "Describes one family's case"},
    )
    assert hidden.status_code == 302

    got = Downloads(facilitator, aid)
    for where, text in (
        ("results", text_of(got.results_html)),
        ("report", text_of(got.report_html)),
        ("workbook", _workbook_text(got.workbook)),
        ("summary CSV", json.dumps(got.summary)),
        ("board JSON", json.dumps(got.json, ensure_ascii=False)),
    ):
        assert NAMING not in text, where
    # The other comments and every vote stay.
    assert "Where a lead worker is named, families notice the difference." in text_of(
        got.report_html
    )
    assert (
        got.analysis["family-experience"]["counts"]
        == before.analysis["family-experience"]["counts"]
    )
    # The raw download keeps the comment, and the record says why it was hidden.
    raw = json.dumps(got.raw_json, ensure_ascii=False)
    assert NAMING in raw
    (record,) = got.raw_json["hidden_comments"]
    assert record["comment"] == NAMING and record["reason"] == "Describes one family's case"
    assert record["strand"] == "family-experience"

    # Shown again, it is back in the report.
    shown = post_form(facilitator, url, {"vote": vote_id.group(1), "action": "show"})
    assert shown.status_code == 302
    assert NAMING in text_of(
        facilitator.get(f"/facilitator/assessments/{aid}/report").get_data(True)
    )


# --------------------------------------------------------------------------------------------
# 6. The action plan, carried over from last year's assessment

LAST_YEAR = (
    ("delivery", "Map the front doors", "Head of early help", "planned"),
    ("delivery", "Agree one referral route", "Partnership board", "under_way"),
    ("culture", "Whole-family training for district teams", "Workforce lead", "done"),
    ("culture", "Quarterly culture survey", "Policy officer", "dropped"),
)


def add_actions(facilitator: FlaskClient, aid: int, actions: Any) -> None:
    url = f"/facilitator/assessments/{aid}/actions"
    for key, text, owner, status in actions:
        data = {"do": "add", "strand": key, "text": text, "owner": owner, "status": status}
        data["due_on"] = "2018-03-31"
        assert post_form(facilitator, url, data).status_code == 302, text


def test_open_actions_carry_over_and_the_report_says_what_became_of_them(
    app: Flask, facilitator: FlaskClient
) -> None:
    before = desk_assessment(app, period="2016")
    add_actions(facilitator, before, LAST_YEAR)
    aid = desk_assessment(app, period="2017")
    url = f"/facilitator/assessments/{aid}/actions"
    carry = {"do": "carry", "from": str(before)}
    assert post_form(facilitator, url, carry).status_code == 302
    # Carrying twice adds nothing.
    assert post_form(facilitator, url, carry).status_code == 302
    page = facilitator.get(url).get_data(True)
    ids = re.findall(r'name="action" value="(\d+)"', page)
    assert len(ids) == 2  # the planned and the under-way one; done and dropped stay behind
    # The referral route got done this year; and one new action.
    assert post_form(facilitator, url, {"do": "status", "action": ids[1], "status": "done"})
    add_actions(facilitator, aid, [("strategy", "Publish the strategy", "Director", "planned")])
    bad = post_form(facilitator, url, {"do": "add", "strand": "strategy", "text": ""})
    assert bad.status_code == 400 and "Describe the action" in bad.get_data(True)

    got = Downloads(facilitator, aid)
    # The report: this year's plan per strand, and last year's actions with what became of them.
    delivery = text_of(section(got.report_html, 'aria-labelledby="r-delivery"'))
    assert "Action plan" in delivery
    assert "Map the front doors Head of early help 2018-03-31 Planned" in delivery
    assert "Agree one referral route Partnership board 2018-03-31 Done" in delivery
    assert "Last time's actions (Hertfordshire 2016)" in delivery
    assert "Agree one referral route Partnership board Under way Done" in delivery
    culture = text_of(section(got.report_html, 'aria-labelledby="r-culture"'))
    assert (
        "Whole-family training for district teams Workforce lead Done Not carried over" in culture
    )
    assert "Quarterly culture survey Policy officer Dropped Not carried over" in culture
    strategy = text_of(section(got.report_html, 'aria-labelledby="r-strategy"'))
    assert "Publish the strategy Director 2018-03-31 Planned" in strategy

    # The workbook's Actions sheet, both tables.
    sheet = got.workbook["Actions"]
    rows = [r for r in sheet.iter_rows(values_only=True) if any(r)]
    plan = [r[1:5] for r in rows if r[0] == LABELS["delivery"] and r[3] == "2018-03-31"]
    assert plan == [
        ("Map the front doors", "Head of early help", "2018-03-31", "Planned"),
        ("Agree one referral route", "Partnership board", "2018-03-31", "Done"),
    ]
    followed = {
        r[1]: (r[3], r[4])
        for r in rows
        if r[3] in ("Planned", "Under way", "Done", "Dropped")
        and r[4] in ("Planned", "Under way", "Done", "Dropped", "Not carried over")
        and r[2] != "2018-03-31"
    }
    assert followed == {
        "Map the front doors": ("Planned", "Planned"),
        "Agree one referral route": ("Under way", "Done"),
        "Whole-family training for district teams": ("Done", "Not carried over"),
        "Quarterly culture survey": ("Dropped", "Not carried over"),
    }
    # The JSON.
    assert [a["status"] for a in got.analysis["delivery"]["actions"]] == ["Planned", "Done"]
    assert [(a["status_then"], a["now"]) for a in got.analysis["delivery"]["previous_actions"]] == [
        ("Planned", "Planned"),
        ("Under way", "Done"),
    ]


# --------------------------------------------------------------------------------------------
# 6b. Trends over three years

YEARS = {"2015": (1, 1, 1, 1, 1), "2016": (2, 2, 2, 1, 3), "2017": (3, 3, 3, 2, 4)}


def test_a_three_year_trend_of_desk_partners_and_agreed_ratings(
    app: Flask, facilitator: FlaskClient
) -> None:
    for period, levels in YEARS.items():
        aid = desk_assessment(app, period=period)
        plan = ForumPlan(f"Forum {period}", "mixed", "", (None,) * 5, {"delivery": levels})
        run_forum(app, facilitator, aid, plan)
        if period == "2016":
            agreed = {"level-delivery": "2", "next-delivery": ""}
            assert post_form(facilitator, f"/facilitator/assessments/{aid}/agreed", agreed)
    got = Downloads(facilitator, aid)  # the 2017 assessment
    expected = [
        ("2015", "Early/Developing", "Early", ""),
        ("2016", "Early/Developing", "Developing", "Developing"),
        ("2017", "Early/Developing", "Maturing", ""),
    ]
    for html in (got.report_html, got.results_html):
        table = next(t for t in Tables(html).tables if t[0][1][1:] == list(YEARS))
        row = next(cells for _, cells in table[2:] if cells[0] == LABELS["delivery"])
        assert row[1:] == [v or "\u2013" for _, *values in expected for v in values]
    sheet = got.workbook["Trends"]
    rows = [r for r in sheet.iter_rows(min_row=4, values_only=True) if r[0] == LABELS["delivery"]]
    assert [(r[1], r[2], r[3], r[4] or "") for r in rows] == expected
    trend = got.json["analysis"]["trend"]
    assert [(y["period"], y["strands"]["delivery"]["partners"]) for y in trend] == [
        ("2015", "Early"),
        ("2016", "Developing"),
        ("2017", "Maturing"),
    ]
