"""Escaping, as docs/security.md promises: whatever a facilitator or a framework file types is
shown as text, never run. Jinja escapes every page; the scripts write text with textContent, and
no template or script gets around that except the reviewed cases listed below."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import make_session, post_form
from voting.models import VotingSession

PAYLOAD = "<script>alert('x')</script><img src=x onerror=alert(1)>"

ROOT = Path(__file__).resolve().parent.parent


def test_text_typed_into_forms_is_escaped_on_every_page(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    made = post_form(
        facilitator,
        "/facilitator/assessments/new",
        {"area": PAYLOAD, "period": "2017", "framework": "early-help-2016", "localities": PAYLOAD},
    )
    assert made.status_code == 302
    session = make_session(app, assessment_id, name=PAYLOAD, locality=PAYLOAD)
    pages = [
        "/facilitator/",
        made.headers["Location"],
        f"/facilitator/sessions/{session.id}",
        f"/facilitator/sessions/{session.id}/present",
        f"/s/{session.join_code}",
    ]
    for url in pages:
        html = facilitator.get(url).get_data(True)
        assert "<script>alert" not in html and "<img src=x" not in html, url
    assert "&lt;script&gt;" in facilitator.get("/facilitator/").get_data(True)


def test_no_template_or_script_bypasses_escaping() -> None:
    templates = list((ROOT / "templates").glob("*.html"))
    scripts = [p for p in (ROOT / "static" / "js").glob("*.js")]
    assert templates and scripts
    # The reviewed exceptions: a literal <wbr> put into text escaped first (`| e |`), and the
    # SVG charts, which voting/charts.py builds with every text escaped. Any other is a finding.
    reviewed = [
        re.compile(r'\|\s*e\s*\|\s*replace\("/", "/<wbr>" \| safe\)'),
        re.compile(r"\bchart\(s\)\s*\|\s*safe\b"),
        re.compile(r"\btrend_chart\(\)\s*\|\s*safe\b"),
        re.compile(r"\bsummary_chart\s*\|\s*safe\b"),
    ]
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for allowed in reviewed:
            text = allowed.sub("", text)
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup\(", text), path.name
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        found = re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", text)
        assert found is None, f"{Path(path).name}: {found.group(0) if found else ''}"


def test_socket_io_handshakes_from_other_sites_are_refused(
    client: FlaskClient, live_session: VotingSession
) -> None:
    """Same origin only: a page elsewhere cannot open a phone's or a screen's connection."""
    path = "/socket.io/?EIO=4&transport=polling"
    assert client.get(path, headers={"Origin": "https://evil.example"}).status_code == 400
    assert client.get(path, headers={"Origin": "http://localhost"}).status_code == 200


def test_chart_text_cannot_break_out_of_the_svg_or_its_attributes() -> None:
    """Strand names, level names and years (an assessment's period is the facilitator's text)
    reach the charts' markup, some inside attributes: every one is escaped, quotes included."""
    from voting.reporting.charts import RatingMarks, grouped_bars, ratings_summary, trend_lines

    hostile = '2016" onmouseover="alert(1)"><script>alert(2)</script>'
    trend = trend_lines(
        "trend",
        hostile,
        hostile,
        ["Early", hostile],
        [hostile, "2017"],
        [(hostile, hostile, [(1, 2, 1), (2, 1, 2)])],
    )
    bars = grouped_bars("bars", hostile, hostile, ["Early", hostile], [(hostile, [1, 2])])
    summary = ratings_summary(
        "summary",
        hostile,
        hostile,
        ["Early", hostile],
        [RatingMarks(hostile, 1, 2, 1.5, split=hostile, note=hostile)],
    )
    for svg in (trend, bars, summary):
        assert "<script" not in svg and 'onmouseover="' not in svg
        assert "&quot;" in svg and "&lt;script&gt;" in svg


def test_an_area_name_cannot_break_out_of_the_reports_page_stylesheet() -> None:
    """The report's running head (report-pages.css) carries the area and period as CSS strings:
    quotes, braces, semicolons, backslashes and line ends in them are escaped."""
    from voting.reporting.reports import css_string

    hostile = 'Herts"; } body { display: none } @page { x: "\\\n'
    quoted = css_string(hostile)
    assert quoted.startswith('"') and quoted.endswith('"')
    inner = quoted[1:-1]
    assert not any(c in inner for c in '";{}\n') and "\\\\" not in inner
    assert (
        css_string("Bath & North East Somerset 2017/18") == '"Bath & North East Somerset 2017/18"'
    )
