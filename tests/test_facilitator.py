"""The facilitator's pages, through the HTTP forms: assessment, desk ratings, sessions,
console and presenter, the QR code, and every form's refusal of bad input."""

from __future__ import annotations

import io
import re

import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.helpers import post_form
from voting.database import get_database
from voting.frameworks import BUILTIN_DIR
from voting.live.qrcodes import qr_svg
from voting.models import Assessment, DeskRating, StrandState, VotingSession


def create(facilitator: FlaskClient, **fields: object) -> int:
    data = {
        "area": "Hampshire",
        "period": "2017",
        "framework": "early-help-2016",
        "localities": "Basingstoke\nWinchester\n\nBasingstoke",
        **fields,
    }
    response = post_form(facilitator, "/facilitator/assessments/new", data)
    assert response.status_code == 302, response.get_data(True)
    return int(response.headers["Location"].rsplit("/", 1)[-1])


def test_a_facilitator_prepares_an_assessment_and_a_session(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = create(facilitator)
    page = facilitator.get(f"/facilitator/assessments/{aid}").get_data(True)
    assert "Hampshire 2017" in page and "Not recorded" in page

    desk = {
        "level-family-experience": "2",
        "evidence-family-experience": "Families tell their story once in two districts.",
        "sources-family-experience": "Case audit 2017",
        "level-delivery": "2-3",
        "evidence-delivery": "Front door launched; processes vary.",
    }
    saved = post_form(facilitator, f"/facilitator/assessments/{aid}/desk", desk)
    assert saved.status_code == 302
    page = facilitator.get(f"/facilitator/assessments/{aid}").get_data(True)
    assert "Developing/Maturing" in page and "Families tell their story once" in page
    with get_database(app).read() as db:
        assessment = db.get(Assessment, aid)
        assert assessment is not None and assessment.localities == ["Basingstoke", "Winchester"]
        ratings = {d.strand_key: (d.level, d.upper_level) for d in db.scalars(select(DeskRating))}
    assert ratings["family-experience"] == (2, None)
    assert ratings["delivery"] == (2, 3)
    assert ratings["culture"] == (None, None)

    made = post_form(
        facilitator,
        f"/facilitator/assessments/{aid}/sessions/new",
        {
            "name": "Basingstoke operational team",
            "held_on": "2017-06-14",
            "forum_type": "operational",
            "locality": "Basingstoke",
            "strands": ["delivery", "family-experience"],
            "pacing": "live",
            "collect_profile": "yes",
        },
    )
    assert made.status_code == 302
    sid = int(made.headers["Location"].rsplit("/", 1)[-1])
    with get_database(app).read() as db:
        session = db.get(VotingSession, sid)
        assert session is not None
        # Strands keep the framework's order whatever order the form sent them in.
        assert session.strand_keys == ["family-experience", "delivery"]
        assert session.current_strand == "family-experience"
        assert session.collect_profile is True and session.status == "draft"
        assert re.fullmatch(r"[A-HJ-NP-Z2-9]{6}", session.join_code)
        states = db.scalar(
            select(func.count()).select_from(StrandState).where(StrandState.session_id == sid)
        )
    assert states == 2
    console = facilitator.get(f"/facilitator/sessions/{sid}").get_data(True)
    assert session.join_code in console
    assert f"https://vote.example.org/s/{session.join_code}" in console
    presenter = facilitator.get(f"/facilitator/sessions/{sid}/present").get_data(True)
    assert f"/qr/{session.join_code}.svg" in presenter
    # The presenter page itself holds no desk rating, evidence or controls.
    assert "Developing/Maturing" not in presenter and "Front door" not in presenter
    assert "data-action" not in presenter


def test_the_qr_code_encodes_the_public_join_url(
    app: Flask, client: FlaskClient, live_session: VotingSession
) -> None:
    response = client.get(f"/qr/{live_session.join_code}.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    expected = qr_svg(f"https://vote.example.org/s/{live_session.join_code}")
    assert response.data == expected
    assert client.get("/qr/ZZZZZZ.svg").status_code == 404


def test_a_phone_joins_by_typing_the_code(client: FlaskClient, live_session: VotingSession) -> None:
    code = live_session.join_code
    typed = client.get(f"/join?code={code[:3].lower()} {code[3:].lower()}")
    assert typed.status_code == 302 and typed.headers["Location"].endswith(f"/s/{code}")
    page = client.get(f"/s/{code}").get_data(True)
    assert f'data-code="{code}"' in page and "Partnership workshop" in page
    assert "anonymous" in page
    assert client.get(f"/s/{code.lower()}").status_code == 302
    missing = client.get("/join?code=QQQQQQ")
    assert missing.status_code == 404 and "There is no session with that code" in missing.get_data(
        True
    )
    empty = client.get("/join?code=")
    assert empty.status_code == 400 and "Enter the code" in empty.get_data(True)


def test_assessment_form_refuses_missing_fields_and_changes_nothing(
    app: Flask, facilitator: FlaskClient
) -> None:
    response = post_form(
        facilitator,
        "/facilitator/assessments/new",
        {"area": " ", "period": "", "framework": "no-such-framework"},
    )
    page = response.get_data(True)
    assert response.status_code == 400
    assert "There is a problem" in page
    assert "Enter the area" in page and "Enter the period" in page and "Choose a framework" in page
    with get_database(app).read() as db:
        assert db.scalar(select(func.count()).select_from(Assessment)) == 0


def test_an_uploaded_framework_is_used_or_refused_whole(
    app: Flask, facilitator: FlaskClient
) -> None:
    document = yaml.safe_load((BUILTIN_DIR / "early-help-2016.yaml").read_text())
    document["id"] = "herts-local-2018"
    document["strands"] = document["strands"][:2]
    good = io.BytesIO(yaml.safe_dump(document).encode())
    made = post_form(
        facilitator,
        "/facilitator/assessments/new",
        {"area": "Herts", "period": "2018", "framework_file": (good, "local.yaml")},
        content_type="multipart/form-data",
    )
    assert made.status_code == 302
    with get_database(app).read() as db:
        stored = db.scalars(select(Assessment)).one()
        assert stored.framework_id == "herts-local-2018"
        assert len(stored.framework["strands"]) == 2

    del document["strands"][1]["levels"]["mature"]
    bad = io.BytesIO(yaml.safe_dump(document).encode())
    refused = post_form(
        facilitator,
        "/facilitator/assessments/new",
        {"area": "Herts", "period": "2019", "framework_file": (bad, "broken.yaml")},
        content_type="multipart/form-data",
    )
    page = refused.get_data(True)
    assert refused.status_code == 400
    assert "broken.yaml: strands[1].levels: expected exactly the levels" in page
    with get_database(app).read() as db:
        assert db.scalar(select(func.count()).select_from(Assessment)) == 1


def test_desk_form_refuses_a_split_across_non_adjacent_levels(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = create(facilitator)
    response = post_form(
        facilitator,
        f"/facilitator/assessments/{aid}/desk",
        {"level-culture": "1-3", "level-leadership": "2"},
    )
    assert response.status_code == 400
    assert "two adjacent levels" in response.get_data(True)
    junk = post_form(facilitator, f"/facilitator/assessments/{aid}/desk", {"level-culture": "x"})
    assert junk.status_code == 400
    with get_database(app).read() as db:
        assert db.scalar(select(func.count()).select_from(DeskRating)) == 0


def test_session_form_refuses_bad_input_and_changes_nothing(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid = create(facilitator)
    url = f"/facilitator/assessments/{aid}/sessions/new"
    response = post_form(
        facilitator,
        url,
        {
            "name": "",
            "held_on": "14/06/2017",
            "forum_type": "party",
            "pacing": "self_paced",
            "closes_at": "soon",
        },
    )
    page = response.get_data(True)
    assert response.status_code == 400
    for message in (
        "Enter a name for the session",
        "Enter the date as a real date",
        "Choose the kind of forum",
        "Choose at least one strand",
        "Enter when a self-paced session closes",
    ):
        assert message in page
    unknown = post_form(
        facilitator,
        url,
        {"name": "X", "forum_type": "mixed", "pacing": "live", "strands": ["not-a-strand"]},
    )
    assert unknown.status_code == 400 and "Unknown strand" in unknown.get_data(True)
    with get_database(app).read() as db:
        assert db.scalar(select(func.count()).select_from(VotingSession)) == 0


def test_unknown_assessment_and_session_are_404(facilitator: FlaskClient) -> None:
    for url in (
        "/facilitator/assessments/999",
        "/facilitator/assessments/999/desk",
        "/facilitator/sessions/999",
        "/facilitator/sessions/999/present",
        "/facilitator/assessments/999/votes.csv",
        "/facilitator/sessions/999/votes.csv",
    ):
        assert facilitator.get(url).status_code == 404, url


def test_security_headers_are_set(client: FlaskClient) -> None:
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_use_no_external_assets(client: FlaskClient, live_session: VotingSession) -> None:
    for url in ("/", f"/s/{live_session.join_code}", "/login"):
        html = client.get(url).get_data(True)
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not re.match(r"(https?:)?//", ref), f"{url} loads {ref} from elsewhere"
