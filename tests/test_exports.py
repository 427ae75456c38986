"""Downloads: the long-format CSV and the assessment JSON agree with the votes cast."""

from __future__ import annotations

import csv
import io
import json

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import control, last, make_session, phone, received, screen, vote
from voting.reporting.exports import CSV_COLUMNS, JSON_FORMAT, RAW_DATA, RAW_JSON_FORMAT


def raw_rows(text: str) -> list[dict[str, str]]:
    """The rows of a raw CSV, after checking its first row says it is raw."""
    label, rest = text.split("\r\n", 1)
    assert next(csv.reader([label])) == [RAW_DATA]
    return list(csv.DictReader(io.StringIO(rest)))


def run_two_sessions(app: Flask, facilitator: FlaskClient, assessment_id: int) -> tuple[int, int]:
    first = make_session(
        app, assessment_id, name='=HYPERLINK("x") conference', strand_keys=["leadership", "culture"]
    )
    second = make_session(
        app,
        assessment_id,
        name="Dacorum district group",
        forum_type="operational",
        locality="Dacorum",
        strand_keys=["culture"],
        collect_profile=False,
    )
    console = screen(app, facilitator, "console", first.id)
    control(console, action="open", strand="leadership")
    phones = [phone(app, first.join_code) for _ in range(3)]
    phones[0].emit(
        "profile", {"role": "strategic", "sector": "Police", "locality": "Dacorum"}, callback=True
    )
    for p, level in zip(phones, [1, 2, 2], strict=True):
        assert vote(p, "leadership", level)["ok"]
    assert vote(phones[1], "leadership", 3, comment="Board now meets monthly")["ok"]
    control(console, action="open", strand="culture")
    assert vote(phones[0], "culture", 4)["ok"]

    console2 = screen(app, facilitator, "console", second.id)
    control(console2, action="open", strand="culture")
    other = phone(app, second.join_code)
    assert vote(other, "culture", 1)["ok"]
    return first.id, second.id


def test_csv_has_one_row_per_current_vote(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    _first, second = run_two_sessions(app, facilitator, assessment_id)
    response = facilitator.get(f"/facilitator/assessments/{assessment_id}/votes.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = raw_rows(response.get_data(True))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == 5
    summary = sorted((r["session"], r["strand_key"], r["level"], r["level_number"]) for r in rows)
    assert summary == sorted(
        [
            ('\'=HYPERLINK("x") conference', "leadership", "Early", "1"),
            ('\'=HYPERLINK("x") conference', "leadership", "Maturing", "3"),
            ('\'=HYPERLINK("x") conference', "leadership", "Developing", "2"),
            ('\'=HYPERLINK("x") conference', "culture", "Mature", "4"),
            ("Dacorum district group", "culture", "Early", "1"),
        ]
    )
    police = [r for r in rows if r["role"] == "strategic"]
    assert {(r["sector"], r["participant_locality"]) for r in police} == {("Police", "Dacorum")}
    assert {r["forum_type"] for r in rows if r["session"].startswith("Dacorum")} == {"operational"}
    assert all(r["voted_at"].endswith("Z") for r in rows)

    only_second = facilitator.get(f"/facilitator/sessions/{second}/votes.csv").get_data(True)
    assert len(raw_rows(only_second)) == 1


def test_json_holds_framework_desk_sessions_and_tallies(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    run_two_sessions(app, facilitator, assessment_id)
    response = facilitator.get(f"/facilitator/assessments/{assessment_id}/raw.json")
    assert "attachment" in response.headers["Content-Disposition"]
    document = json.loads(response.get_data(True))
    assert document["format"] == RAW_JSON_FORMAT
    assert document["circulation"] == RAW_DATA
    assert document["assessment"]["area"] == "Hertfordshire"
    assert len(document["framework"]["strands"]) == 6
    desk = {d["strand"]: d for d in document["desk_ratings"]}
    assert desk["culture"]["label"] == "Developing/Maturing"
    assert desk["strategy"]["level"] is None
    assert document["tallies"]["leadership"] == {"counts": [1, 1, 1, 0], "votes": 3}
    assert document["tallies"]["culture"] == {"counts": [1, 0, 0, 1], "votes": 2}
    assert document["tallies"]["strategy"] == {"counts": [0, 0, 0, 0], "votes": 0}
    sessions = document["sessions"]
    assert [s["participants"] for s in sessions] == [3, 1]
    leadership = next(s for s in sessions[0]["strands"] if s["key"] == "leadership")
    assert leadership["comments"] == ["Board now meets monthly"]
    assert leadership["status"] == "closed"  # opening culture closed it
    assert leadership["counts"] == [1, 1, 1, 0]

    # The board's JSON has no raw count at all: 3 and 2 votes are fewer than 5.
    board = json.loads(
        facilitator.get(f"/facilitator/assessments/{assessment_id}/assessment.json").get_data(True)
    )
    assert board["format"] == JSON_FORMAT and board["circulation"].startswith("For the board")
    assert "tallies" not in board
    for session in board["sessions"]:
        assert "participants" not in session
        assert all("counts" not in s and "votes" not in s for s in session["strands"])
    assert board["analysis"]["strands"]["leadership"]["counts"] is None


def test_exports_of_an_empty_assessment_are_valid(
    facilitator: FlaskClient, assessment_id: int
) -> None:
    body = facilitator.get(f"/facilitator/assessments/{assessment_id}/votes.csv").get_data(True)
    assert raw_rows(body) == [] and body.strip().endswith(",".join(CSV_COLUMNS))
    document = json.loads(
        facilitator.get(f"/facilitator/assessments/{assessment_id}/raw.json").get_data(True)
    )
    assert document["sessions"] == []
    assert all(t["votes"] == 0 for t in document["tallies"].values())


def test_the_console_state_matches_the_export(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    first, _ = run_two_sessions(app, facilitator, assessment_id)
    console = screen(app, facilitator, "console", first)
    state = last(received(console), "state")
    document = json.loads(
        facilitator.get(f"/facilitator/assessments/{assessment_id}/raw.json").get_data(True)
    )
    exported = {s["key"]: s["counts"] for s in document["sessions"][0]["strands"]}
    assert {s["key"]: s["counts"] for s in state["strands"]} == exported
