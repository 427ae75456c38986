"""A strand nobody voted on says so on the results pages and in the printable report: no row of
zeros, no split verdict, and no place in the "most and least covered" sentence."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import control, make_session, phone, screen, vote

NOT_VOTED = "Not voted on in this assessment"


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _section(html: str, key: str) -> str:
    start = html.index(f'id="strand-{key}"')
    return html[start : html.index("</section>", start)]


def test_a_strand_nobody_voted_on_says_so_without_zeros(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    # Two forums: culture voted on in both, leadership in one; family-experience never.
    for name in ("Conference", "District group"):
        strands = ["culture"] if name == "District group" else ["culture", "leadership"]
        session = make_session(
            app,
            assessment_id,
            name=name,
            collect_profile=False,
            strand_keys=[*strands, "family-experience"],
        )
        console = screen(app, facilitator, "console", session.id)
        control(console, action="start")
        for key in strands:
            assert control(console, action="open", strand=key)["ok"]
            for level in (1, 2, 2):
                assert vote(phone(app, session.join_code), key, level)["ok"]

    page = facilitator.get(f"/facilitator/assessments/{assessment_id}/results")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    family = _text(_section(html, "family-experience"))
    assert NOT_VOTED in family
    assert "All forums" not in family and " 0 " not in f" {family} " and "Split" not in family
    summary = html[html.index('id="summary"') : html.index("</table>", html.index('id="summary"'))]
    row = _text(summary[summary.index("#strand-family-experience") :].split("</tr>")[0])
    assert NOT_VOTED in row and "No" not in row.split() and "0" not in row.split()
    coverage = _text(html[html.index('id="coverage"') :].split("</p>")[0])
    assert "Most covered: Culture (2 forums)" in coverage
    assert "Least covered: Leadership (1)" in coverage
    assert "Not voted on: The family experience of transformed services" in coverage

    report = _text(facilitator.get(f"/facilitator/assessments/{assessment_id}/report").text)
    assert report.count(NOT_VOTED) >= 2  # the table's row and the strand's own section

    first = make_session(app, assessment_id, name="Empty forum", collect_profile=False)
    alone = facilitator.get(f"/facilitator/sessions/{first.id}/results").get_data(as_text=True)
    assert "Not voted on in this session" in _text(alone)
    assert "Split: No" not in _text(alone)
