"""Privacy you can prove (issue #12): no circulated page or download lets a reader work out the
votes of a group of fewer than VOTING_MIN_GROUP_SIZE people, within one table or across them.

The property test plays the attacker of tests/attacker.py on random assessments; the tests after
it pin each case the issue saw (a strand only a small forum voted on, a session's own page, the
A/B/C differencing, the JSON's raw counts, the group test, a negative number in the CSV).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.attacker import Cell, attack, read_everything
from tests.downloads import LABELS, forum_table, groups_table, labelled_csv, ok, section, text_of
from tests.helpers import make_session
from tests.workshops import LEVEL_NAMES
from voting.assessments import DeskEntry, create_assessment, save_desk_ratings
from voting.database import get_database
from voting.labels import FORUM_LABELS, ROLE_CHOICES
from voting.models import Participant, StrandState, Vote

MIN = 5
# 30 fixed examples by default; VOTING_DISCLOSURE_EXAMPLES=500 explores at random for longer.
EXPLORE = int(os.environ.get("VOTING_DISCLOSURE_EXAMPLES", "0"))
STRANDS = ("leadership", "strategy", "culture")
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Someone:
    role: str | None
    sector: str | None
    locality: str | None
    levels: tuple[int | None, ...]  # per strand of the forum, in order; None: did not vote
    earlier: tuple[int | None, ...]  # round 1's levels where the forum re-voted


@dataclass(frozen=True)
class Forum:
    kind: str
    strands: tuple[str, ...]
    revoted: tuple[str, ...]
    people: tuple[Someone, ...]


def someone(strands: int) -> Any:
    return st.builds(
        Someone,
        role=st.sampled_from([None, "strategic", "operational"]),
        sector=st.sampled_from([None, "Health", "Police"]),
        locality=st.sampled_from([None, "North", "South"]),
        levels=st.tuples(*[st.integers(1, 4) | st.none() for _ in range(strands)]),
        earlier=st.tuples(*[st.integers(1, 4) for _ in range(strands)]),
    )


@st.composite
def forums(draw: Any) -> tuple[Forum, ...]:
    found = []
    for _ in range(draw(st.integers(1, 8))):
        strands = tuple(
            draw(st.lists(st.sampled_from(STRANDS), min_size=1, max_size=3, unique=True))
        )
        revoted = tuple(s for s in strands if draw(st.booleans()) and draw(st.booleans()))
        people = tuple(draw(st.lists(someone(len(strands)), min_size=1, max_size=15)))
        kind = draw(st.sampled_from(["strategic", "operational", "mixed"]))
        found.append(Forum(kind, strands, revoted, people))
    return tuple(found)


def seed(app: Flask, plan: tuple[Forum, ...]) -> tuple[int, dict[str, int]]:
    """The assessment, written straight to the database (the vote path has its own tests)."""
    with app.app_context():
        framework = app.extensions["voting_frameworks"]["early-help-2016"]
        # Last year's assessment of the same area, so every output has a trend over years (the
        # table, the chart, the workbook's Trends sheet) for the attacker to read as well. An
        # area of its own per example: hypothesis's examples share one database.
        area = f"Testshire {secrets.token_hex(4)}"
        create_assessment(get_database(), area, "2016", framework, [])
        aid = create_assessment(get_database(), area, "2017", framework, [])
        save_desk_ratings(
            get_database(), aid, [DeskEntry("leadership", 2, None, "Evidence.", "Audit")]
        )
    sessions = {}
    for number, forum in enumerate(plan, start=1):
        name = f"Forum {number}"
        session = make_session(
            app,
            aid,
            name=name,
            forum_type=forum.kind,
            locality="",
            strand_keys=list(forum.strands),
        )
        sessions[name] = session.id
        with app.app_context(), get_database().write() as db:
            for key in forum.revoted:
                state = db.query(StrandState).filter_by(session_id=session.id, strand_key=key)
                state.one().round = 2
            for person in forum.people:
                participant = Participant(
                    session_id=session.id,
                    token_hash=secrets.token_hex(32),
                    role=person.role,
                    sector=person.sector,
                    locality=person.locality,
                    profile_done=True,
                )
                db.add(participant)
                db.flush()
                for key, level, first in zip(
                    forum.strands, person.levels, person.earlier, strict=True
                ):
                    if key in forum.revoted:
                        db.add(
                            Vote(
                                session_id=session.id,
                                strand_key=key,
                                round=1,
                                participant_id=participant.id,
                                level=first,
                            )
                        )
                    if level is not None:
                        round_ = 2 if key in forum.revoted else 1
                        db.add(
                            Vote(
                                session_id=session.id,
                                strand_key=key,
                                round=round_,
                                participant_id=participant.id,
                                level=level,
                            )
                        )
    return aid, sessions


def truth(plan: tuple[Forum, ...], key: str) -> dict[Cell, int]:
    """Every cell's real number of people, worked out from the plan."""
    cells: dict[Cell, int] = {("T",): 0}
    for number, forum in enumerate(plan, start=1):
        if key not in forum.strands:
            continue
        name = f"Forum {number}"
        cells.setdefault(("F", name), 0)
        index = forum.strands.index(key)
        for person in forum.people:
            if person.levels[index] is None:
                continue
            values = {
                "role": ROLE_CHOICES.get(person.role or ""),
                "sector": person.sector,
                "locality": person.locality,
                "forum_type": FORUM_LABELS[forum.kind],
                "session": name,
            }
            for cell in [("T",), ("F", name)]:
                cells[cell] += 1
            for attribute, value in values.items():
                cells[("G", attribute, value)] = cells.get(("G", attribute, value), 0) + 1
                if attribute in ("role", "sector", "locality"):
                    inner = ("S", name, attribute, value)
                    cells[inner] = cells.get(inner, 0) + 1
    return cells


def assert_nothing_small_is_worked_out(
    app: Flask, facilitator: FlaskClient, plan: tuple[Forum, ...]
) -> None:
    aid, sessions = seed(app, plan)
    labels = {key: LABELS[key] for key in LABELS}
    pub = read_everything(facilitator, aid, sessions, labels, LEVEL_NAMES)
    # The register and the trend were read from every output that has them: each forum's row
    # from the results page, its own page, the report, the workbook and the JSON; this year's
    # median from the table, chart marks and chart text of the results page and of the report,
    # the JSON, and the Trends sheet's words, levels and chart.
    assert len(pub.registers_read) == len(plan) * 5
    for key in STRANDS:
        shown = pub.counts[key].get(("T",))
        if shown is not None and sum(shown):
            assert len(pub.medians[key]) == 10, (key, pub.medians[key])
    pinned = []
    for key in STRANDS:
        cells = truth(plan, key)
        covering = {
            f"Forum {n}": FORUM_LABELS[f.kind] for n, f in enumerate(plan, 1) if key in f.strands
        }
        if covering:
            pinned += attack(pub, key, cells, covering, MIN)
    assert not pinned, pinned
    for key, before, after in pub.rounds:
        assert min(sum(before), sum(after)) >= MIN, (key, before, after)


def person(role: str | None, sector: str | None, levels: tuple[int | None, ...]) -> Someone:
    return Someone(role, sector, None, levels, tuple(1 for _ in levels))


# The cases the issue saw: a strand voted on only by a 4-person forum; forums A (operational,
# 12), B (operational, 4) and C (strategic, 9) on one strand.
ONLY_SMALL = (
    Forum(
        "mixed",
        ("leadership", "strategy"),
        (),
        tuple(person(None, None, (3, None)) for _ in range(9))
        + tuple(person(None, None, (2, None)) for _ in range(1)),
    ),
    Forum(
        "operational", ("strategy",), (), tuple(person(None, None, (lv,)) for lv in (2, 3, 3, 3))
    ),
)
A_B_C = (
    Forum(
        "operational",
        ("leadership",),
        (),
        tuple(person("operational", "Health", (lv,)) for lv in (1, 2, 2, 3) * 3),
    ),
    Forum(
        "operational",
        ("leadership",),
        (),
        tuple(person("operational", "Police", (lv,)) for lv in (4, 4, 1, 4)),
    ),
    Forum(
        "strategic",
        ("leadership",),
        (),
        tuple(person("strategic", "Health", (lv,)) for lv in (2, 3, 3, 3, 2, 2, 3, 3, 3)),
    ),
)


@SQLITE
@hypothesis_settings(
    max_examples=EXPLORE or 30,
    deadline=None,
    derandomize=not EXPLORE,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(plan=forums())
@example(plan=ONLY_SMALL)
@example(plan=A_B_C)
def test_no_small_group_can_be_worked_out_from_what_is_circulated(
    app: Flask, facilitator: FlaskClient, plan: tuple[Forum, ...]
) -> None:
    assert_nothing_small_is_worked_out(app, facilitator, plan)


# --------------------------------------------------------------------------------------------
# Each case the issue saw


def fetch(client: FlaskClient, url: str) -> str:
    return ok(client.get(url)).get_data(True)  # type: ignore[no-any-return]


def summary_csv(client: FlaskClient, aid: int) -> dict[str, dict[str, str]]:
    label, rows = labelled_csv(fetch(client, f"/facilitator/assessments/{aid}/summary.csv"))
    assert label.startswith("For the board: safe to circulate")
    return {r["strand_key"]: r for r in rows}


@SQLITE
def test_a_strand_only_a_small_forum_voted_on_shows_no_votes(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid, _ = seed(app, ONLY_SMALL)
    base = f"/facilitator/assessments/{aid}"
    strategy = summary_csv(facilitator, aid)["strategy"]
    assert strategy["not_shown"] == "fewer than 5 people"
    assert [
        strategy[k] for k in ("votes", "n_early", "n_developing", "n_maturing", "n_mature")
    ] == [""] * 5
    assert strategy["median"] == strategy["consensus"] == strategy["split"] == ""
    document = json.loads(fetch(facilitator, f"{base}/assessment.json"))
    analysed = document["analysis"]["strands"]["strategy"]
    assert analysed["counts"] is None and analysed["votes"] is None
    assert analysed["median"] is None and analysed["not_shown"] == "fewer than 5 people"
    page = fetch(facilitator, f"{base}/results")
    body = section(page, 'id="strand-strategy"')
    assert "All forums Not shown: fewer than 5 people" in text_of(body)
    assert "Votes on Strategy are not shown: fewer than 5 people voted." in text_of(body)
    assert "<svg" not in body  # no chart of a hidden total
    report = text_of(fetch(facilitator, f"{base}/report"))
    assert re.search(r"3\. Strategy \S+ Not shown: fewer than 5 people", report)
    # Leadership (10 at one forum) is shown as before.
    assert summary_csv(facilitator, aid)["leadership"]["votes"] == "10"


@SQLITE
def test_a_small_forums_own_results_page_shows_none_of_its_votes(
    app: Flask, facilitator: FlaskClient
) -> None:
    _, sessions = seed(app, ONLY_SMALL)
    page = fetch(facilitator, f"/facilitator/sessions/{sessions['Forum 2']}/results")
    body = text_of(section(page, 'id="strand-strategy"'))
    assert "Forum 2 Not shown: fewer than 5 people" in body
    assert "All forums" not in body  # the forum is the session: no second row to give it away
    for figure in ("Agreement", "Mean score", "Interquartile range", "Most chosen"):
        assert figure not in body
    assert "No figures for this strand: fewer than 5 people." in body
    # The big forum's page still shows its own ten.
    big = fetch(facilitator, f"/facilitator/sessions/{sessions['Forum 1']}/results")
    assert "Forum 1 0 1 9 0 10" in text_of(section(big, 'id="strand-leadership"'))


@SQLITE
def test_two_linked_tables_do_not_give_a_small_forum_away_by_subtraction(
    app: Flask, facilitator: FlaskClient
) -> None:
    """A (operational, 12), B (operational, 4), C (strategic, 9): Operational minus A was B."""
    aid, sessions = seed(app, A_B_C)
    page = fetch(facilitator, f"/facilitator/assessments/{aid}/results")
    forums = forum_table(page, "leadership")
    assert forums["Forum 2"][0] == "Not shown: fewer than 5 people"
    kinds = groups_table(page, "leadership", "Kind of forum")
    shown_forums = {f for f, cells in forums.items() if not cells[0].startswith("Not shown")}
    shown_kinds = {k for k, cells in kinds.items() if not cells[0].startswith("Not shown")}
    # Operational = A + B: with A and Operational both shown, B was their difference.
    assert not {"Forum 1", "All forums"} <= shown_forums or "Operational" not in shown_kinds
    assert not ({"Forum 1", "Forum 3"} <= shown_forums and "All forums" in shown_forums)
    pub = read_everything(facilitator, aid, sessions, dict(LABELS), LEVEL_NAMES)
    covering = {f"Forum {n}": FORUM_LABELS[f.kind] for n, f in enumerate(A_B_C, 1)}
    assert attack(pub, "leadership", truth(A_B_C, "leadership"), covering, MIN) == []


@SQLITE
def test_the_board_json_has_no_raw_counts_and_the_raw_json_says_it_is_raw(
    app: Flask, facilitator: FlaskClient
) -> None:
    aid, _ = seed(app, A_B_C)
    base = f"/facilitator/assessments/{aid}"
    board = json.loads(fetch(facilitator, f"{base}/assessment.json"))
    assert board["circulation"].startswith("For the board: safe to circulate")
    assert "tallies" not in board
    for session in board["sessions"]:
        assert "participants" not in session
        assert all(set(s) & {"counts", "votes"} == set() for s in session["strands"])
    forums = board["analysis"]["strands"]["leadership"]["forums"]
    assert [f["counts"] for f in forums if f["name"] == "Forum 2"] == [None]
    raw = json.loads(fetch(facilitator, f"{base}/raw.json"))
    assert raw["circulation"].startswith("Raw data, programme team only")
    assert raw["format"] == "maturity-voting/assessment-raw@1"
    counts = {s["name"]: s["strands"][0]["counts"] for s in raw["sessions"]}
    assert counts["Forum 2"] == [1, 0, 0, 3]
    page = fetch(facilitator, f"{base}/results")
    assert "For the board: safe to circulate" in page
    assert "Raw data: programme team only" in page


@SQLITE
def test_the_group_test_uses_only_groups_that_are_shown(
    app: Flask, facilitator: FlaskClient
) -> None:
    from scipy import stats

    def forum(levels: tuple[int, ...]) -> Forum:
        return Forum("mixed", ("culture",), (), tuple(person(None, None, (lv,)) for lv in levels))

    # Three forums of 6, 7 and 8 and one of 3: the 3 and the 6 are hidden; the test compares
    # the 7 and the 8 only, and names neither hidden forum.
    plan = (forum((1,) * 6), forum((4,) * 5 + (3, 3)), forum((1, 2) * 4), forum((2, 2, 2)))
    aid, _ = seed(app, plan)
    base = f"/facilitator/assessments/{aid}"
    document = json.loads(fetch(facilitator, f"{base}/assessment.json"))
    culture = document["analysis"]["strands"]["culture"]
    by_session = next(s for s in culture["segments"] if s["attribute"] == "session")
    groups = {g["label"]: g for g in by_session["groups"]}
    assert groups["Forum 4"]["not_shown"] == "fewer than 5 people"
    assert groups["Forum 1"]["not_shown"].startswith("hidden so that")
    expected = stats.kruskal([4] * 5 + [3, 3], [1, 2] * 4)
    assert by_session["test"]["p_value"] == pytest.approx(expected.pvalue)
    for hidden in ("Forum 1", "Forum 4"):
        assert hidden not in by_session["test"]["sentence"]
    # The chart says why the 6 is hidden: not "fewer than the minimum".
    chart = fetch(facilitator, f"{base}/charts/culture.svg")
    assert "Forum 1: not shown, hidden so that a small group&#x27;s votes" in chart or (
        "Forum 1: not shown, hidden so that a small group's votes" in chart
    )
    assert "fewer than the minimum" not in chart

    # Two forums, 9 and 3: only one group could be shown, so no test and no p-value.
    aid, _ = seed(app, (forum((1, 2, 3) * 3), forum((4, 4, 4))))
    document = json.loads(fetch(facilitator, f"/facilitator/assessments/{aid}/assessment.json"))
    segments = document["analysis"]["strands"]["culture"]["segments"]
    by_session = next(s for s in segments if s["attribute"] == "session")
    assert by_session["test"]["p_value"] is None
    assert by_session["test"]["sentence"] == (
        "Fewer than two groups can be shown, so they are not compared."
    )
    page = fetch(facilitator, f"/facilitator/assessments/{aid}/results")
    assert "p = " not in text_of(section(page, 'id="strand-culture"'))


@SQLITE
def test_a_negative_gap_stays_a_number_in_the_summary_csv(
    app: Flask, facilitator: FlaskClient
) -> None:
    # Leadership's desk rating is Developing (2); six votes of Early give a gap of -1.0.
    plan = (Forum("mixed", ("leadership",), (), tuple(person(None, None, (1,)) for _ in range(6))),)
    aid, _ = seed(app, plan)
    text = fetch(facilitator, f"/facilitator/assessments/{aid}/summary.csv")
    leadership = summary_csv(facilitator, aid)["leadership"]
    assert leadership["gap_median_minus_desk"] == "-1.0"
    assert float(leadership["gap_median_minus_desk"]) == -1.0
    assert "'-" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0].startswith("For the board")


# --------------------------------------------------------------------------------------------
# The algorithm alone, on many more assessments than the pages can be rendered for


@hypothesis_settings(max_examples=EXPLORE or 60, deadline=None, derandomize=not EXPLORE)
@given(
    forums=st.lists(
        st.tuples(
            st.sampled_from(["Strategic", "Operational", "Mixed"]),
            st.lists(
                st.tuples(
                    st.sampled_from([None, "Strategic", "Operational"]),
                    st.sampled_from([None, "Health", "Police"]),
                    st.sampled_from([None, "North", "South"]),
                    st.integers(0, 3),
                ),
                min_size=1,
                max_size=15,
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
@example(  # a pinned cell whose every neighbour was hidden already (found by exploring)
    forums=[
        ("Operational", [("Strategic", "Police", "North", 3), (None, None, "North", 3)]),
        (
            "Operational",
            [("Operational", "Police", "South", 2)] * 4
            + [(None, "Police", None, 1), (None, None, None, 1), (None, None, "South", 2)]
            + [(None, "Health", "North", 2), (None, "Police", None, 3)],
        ),
        ("Operational", [("Strategic", "Police", None, 0)]),
    ]
)
def test_the_audit_leaves_no_small_cell_pinned(
    forums: list[tuple[str, list[tuple[str | None, str | None, str | None, int]]]],
) -> None:
    from voting.disclosure import pinned_cells
    from voting.reporting.disclosure import WITHIN, ForumFacts, decide, strand_cells

    def add(table: dict[Any, list[int]], key: Any, level: int) -> None:
        table.setdefault(key, [0, 0, 0, 0])[level] += 1

    total = [0, 0, 0, 0]
    by_forum: dict[int, list[int]] = {}
    groups: dict[Any, list[int]] = {}
    within: dict[Any, list[int]] = {}
    facts = []
    for sid, (kind, people) in enumerate(forums, start=1):
        facts.append(ForumFacts(sid, f"Forum {sid}", kind, False))
        by_forum[sid] = [0, 0, 0, 0]
        for role, sector, locality, level in people:
            total[level] += 1
            by_forum[sid][level] += 1
            values = {"role": role, "sector": sector, "locality": locality}
            values |= {"forum_type": kind, "session": f"Forum {sid}"}
            for attribute, value in values.items():
                add(groups, (attribute, value), level)
                if attribute in WITHIN:
                    add(within, (sid, attribute, value), level)
    cells = strand_cells(
        tuple(total),
        {k: tuple(v) for k, v in by_forum.items()},
        facts,
        {k: tuple(v) for k, v in groups.items()},
        {k: tuple(v) for k, v in within.items()},
    )
    hidden = decide(cells, MIN)
    assert {k for k, n in cells.sizes.items() if 0 < n < MIN} <= set(hidden)
    assert pinned_cells(cells.votes, cells.relations, hidden, MIN) == []


def test_the_attacker_catches_a_median_or_head_count_that_gives_a_hidden_total_away() -> None:
    """The checks the register and the trend add to tests/attacker.py fire when an output
    leaks: so the property test passing means they held, not that they were never run."""
    from tests.attacker import Published, _read_register_row, check_medians

    pub = Published(LEVEL_NAMES)
    pub.hide("culture", ("T",), "fewer than 5 people", "results page")
    pub.median("culture", 2.0, "workbook Trends")
    with pytest.raises(AssertionError, match="total hidden, median shown"):
        check_medians(pub)
    pub = Published(LEVEL_NAMES)
    pub.show("culture", ("T",), [0, 3, 3, 0], "summary CSV")
    pub.median("culture", 3.0, "trend chart in report")
    with pytest.raises(AssertionError, match=r"median 2\.5 from the counts"):
        check_medians(pub)
    # A forum on one strand whose cell is hidden: its head count of voters would be that cell.
    pub = Published(LEVEL_NAMES)
    pub.hide("culture", ("F", "Forum 2"), "fewer than 5 people", "results page")
    with pytest.raises(AssertionError, match="shown here, hidden elsewhere"):
        _read_register_row(pub, "Forum 2", ["culture"], 3, "", set(), "workbook Forums")
