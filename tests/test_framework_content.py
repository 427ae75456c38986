"""The built-in framework files against the national toolkit (DCLG 2016, Annex 1 and its
strand-by-strand guidance): every cell of both files in the toolkit's structure, the wording
fixed in issue 13, each strand's guidance (subtitle, measures, evidence to look for) validated
when a facilitator brings their own file, and shown on the desk form and the phone's "About
this strand" panel, in Chromium, in view."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from html import unescape
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.browser_stages import FAMILY, Workshop, module_browser, module_workshop
from tests.browser_support import DESKTOP, PHONE, TIMEOUT_MS, PageErrors
from tests.helpers import last, make_session, phone, post_form, received
from voting.database import get_database
from voting.frameworks import BUILTIN_DIR, Framework, FrameworkError, discover, load_text
from voting.models import Assessment

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with an install hint
    expect = None  # type: ignore[assignment]

NATIONAL = "early-help-2016"
SPLIT = "early-help-2016-split-delivery"
LEVELS = ["Early", "Developing", "Maturing", "Mature"]
LEVEL_KEYS = ["early", "developing", "maturing", "mature"]
# Annex 1's strands, in its order; the split file rates strand 6 as its two rows.
TOOLKIT_STRANDS = [
    ("1", "The family experience of transformed services"),
    ("2", "Leadership"),
    ("3", "Strategy"),
    ("4", "Culture"),
    ("5", "Workforce development"),
    ("6", "Delivery structures and processes"),
]
SPLIT_STRANDS = [*TOOLKIT_STRANDS[:5], ("6a", "Delivery structures"), ("6b", "Delivery processes")]
# Words of each toolkit subtitle that ours must keep (Annex 1's row headings; the family
# strand's is the toolkit's "one worker, one family, one plan").
SUBTITLE_WORDS = {
    "family-experience": ["one worker", "one family", "one plan"],
    "leadership": ["partnership working", "governance", "who is leading transformation"],
    "strategy": ["broader strategic priorities"],
    "culture": ["shared vision", "ambition", "openness to challenge and change"],
    "workforce-development": ["skills", "capabilities", "performance objectives"],
    "delivery": ["integration of teams", "tools and approaches"],
    "delivery-structures": ["integration of teams across disciplines and organisations"],
    "delivery-processes": ["tools and approaches to identify and work with complex families"],
}


@pytest.fixture(scope="module")
def builtins() -> dict[str, Framework]:
    found, errors = discover()
    assert errors == []
    return found


def cell(framework: Framework, strand: str, level: str) -> tuple[str, list[str]]:
    found = framework.strand(strand)
    assert found is not None, strand
    return found.cells[level].summary, list(found.cells[level].descriptors)


# --- (a) every cell, in the toolkit's structure ---------------------------------------------


@pytest.mark.parametrize(
    ("framework_id", "expected"), [(NATIONAL, TOOLKIT_STRANDS), (SPLIT, SPLIT_STRANDS)]
)
def test_every_strand_and_cell_is_there_in_the_toolkits_order(
    builtins: dict[str, Framework], framework_id: str, expected: list[tuple[str, str]]
) -> None:
    framework = builtins[framework_id]
    assert [lv.name for lv in framework.levels] == LEVELS
    assert [lv.key for lv in framework.levels] == LEVEL_KEYS
    assert [(s.number, s.name) for s in framework.strands] == expected
    for strand in framework.strands:
        where = f"{framework_id}/{strand.key}"
        assert strand.purpose, where
        assert strand.subtitle, where
        for word in SUBTITLE_WORDS[strand.key]:
            assert word in strand.subtitle.lower(), (where, word)
        assert len(strand.measures) >= 1 and all(m.strip() for m in strand.measures), where
        assert len(strand.look_for) >= 3 and all(x.strip() for x in strand.look_for), where
        assert len(set(strand.look_for)) == len(strand.look_for), where
        assert list(strand.cells) == LEVEL_KEYS, where
        for key, level in strand.cells.items():
            assert level.summary.strip(), (where, key)
            assert level.descriptors and all(d.strip() for d in level.descriptors), (where, key)


def test_the_split_file_shares_strands_one_to_five_word_for_word(
    builtins: dict[str, Framework],
) -> None:
    assert builtins[NATIONAL].strands[:5] == builtins[SPLIT].strands[:5]
    national = builtins[NATIONAL].strand("delivery")
    rows = [builtins[SPLIT].strand(k) for k in ("delivery-structures", "delivery-processes")]
    assert national is not None and all(rows)
    # The split rows' guidance is the whole strand's, shared out between them.
    assert sorted(national.look_for) == sorted(x for r in rows if r for x in r.look_for)
    assert len(national.measures) == sum(len(r.measures) for r in rows if r)


def test_the_guidance_follows_the_toolkits_lists(builtins: dict[str, Framework]) -> None:
    national = builtins[NATIONAL]
    family, workforce, delivery, leadership, strategy, culture = (
        national.strand(k)
        for k in (
            "family-experience",
            "workforce-development",
            "delivery",
            "leadership",
            "strategy",
            "culture",
        )
    )
    assert family and workforce and delivery and leadership and strategy and culture
    # The family strand has no MEASURES line: the six kinds of information that give "a picture
    # of" the family's experience stand in for it; its list ends with the five family
    # intervention factors.
    assert len(family.measures) == 6
    assert any("assessments" in m and "whole family" in m for m in family.measures)
    assert any("resilien" in m for m in family.measures)
    assert len([x for x in family.look_for if x.startswith("Family intervention factors: ")]) == 5
    # Workforce: its general list, the training list and the keyworker list (4 each).
    assert len([x for x in workforce.look_for if x.startswith("Training: ")]) == 4
    assert len([x for x in workforce.look_for if x.startswith("Keyworker view: ")]) == 4
    assert len(workforce.look_for) == 14
    assert any("training programmes" in m.lower() for m in workforce.measures)
    assert any("promotion" in m for m in workforce.measures)
    # The toolkit's own list lengths for the other strands.
    assert len(leadership.look_for) == 9
    assert len(strategy.look_for) == 7
    assert len(culture.look_for) == 4
    assert len(delivery.look_for) == 12
    assert len([x for x in delivery.look_for if x.startswith("Integrated working: ")]) == 4
    assert any("commissioning" in m for m in leadership.measures)
    assert any("strategic plans" in m.lower() for m in strategy.measures)
    assert any("wider community" in m for m in culture.measures)
    assert any("data sharing" in m for m in delivery.measures)
    assert any("outcomes data" in m for m in delivery.measures)


# --- (b) the wording fixed in issue 13 ------------------------------------------------------


@pytest.mark.parametrize("framework_id", [NATIONAL, SPLIT])
def test_the_wording_drifts_stay_fixed(builtins: dict[str, Framework], framework_id: str) -> None:
    framework = builtins[framework_id]
    # Family experience/Early: many of the contacts are by letter only, not some.
    _, family_early = cell(framework, "family-experience", "early")
    assert "many by letter only" in family_early[0]
    assert "some by letter" not in " ".join(family_early)
    # Strategy/Early: little evidence of a whole family approach, not none.
    summary, descriptors = cell(framework, "strategy", "early")
    assert "little evidence of a whole family approach" in summary
    assert "no whole family" not in (summary + " ".join(descriptors)).lower()
    # Culture/Developing (and Maturing): innovation *and collaboration*.
    assert "collaboration" in cell(framework, "culture", "developing")[0]
    assert "collaboration" in cell(framework, "culture", "maturing")[0]
    # Workforce: "limited" understanding of impact at Early, "some" at Developing.
    _, early = cell(framework, "workforce-development", "early")
    _, developing = cell(framework, "workforce-development", "developing")
    assert any("limited understanding of the impact of their work" in d for d in early)
    assert any("some understanding of the impact of their work" in d for d in developing)
    assert not any("some understanding of the impact" in d for d in early)
    # Workforce/Early: about understanding why family working matters, not an attitude.
    assert any("little understanding of why family working matters" in d for d in early)
    assert not any("see little reason" in d for d in early)
    # Leadership/Early: little shared understanding of need, not none; partners not fully
    # engaged.
    summary, descriptors = cell(framework, "leadership", "early")
    assert summary.startswith("Little shared view of local need")
    assert any("not fully engaged" in d for d in descriptors)


def test_the_files_header_names_the_source_and_our_own_words() -> None:
    for framework_id in (NATIONAL, SPLIT):
        text = (BUILTIN_DIR / f"{framework_id}.yaml").read_text(encoding="utf-8")
        header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
        assert "Annex 1" in header and "Open" in header and "Licence v3.0" in header
        assert "subtitle" in header and "MEASURES" in header and "look_for" in header
        assert "own paraphrase" in header


# --- (c) validation of a facilitator's own file ---------------------------------------------


def custom(**strand_fields: Any) -> dict[str, Any]:
    document = yaml.safe_load((BUILTIN_DIR / f"{NATIONAL}.yaml").read_text(encoding="utf-8"))
    document["id"] = "local-model"
    document["strands"] = document["strands"][:2]
    document["strands"][1].update(strand_fields)
    return document


def error_of(document: dict[str, Any]) -> str:
    with pytest.raises(FrameworkError) as caught:
        load_text(yaml.safe_dump(document), "local.yaml")
    return str(caught.value)


def test_guidance_is_optional_for_a_facilitators_own_file() -> None:
    document = custom()
    for strand in document["strands"]:
        for field in ("subtitle", "measures", "look_for"):
            strand.pop(field)
    framework = load_text(yaml.safe_dump(document), "local.yaml")
    strand = framework.strands[0]
    assert (strand.subtitle, strand.measures, strand.look_for) == ("", (), ())
    assert not strand.has_guidance
    assert "look_for" not in framework.to_dict()["strands"][0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"look_for": "Staff surveys"},
            "local.yaml: strands[1].look_for: expected a list of evidence to look for "
            "(up to 40 texts), got 'Staff surveys'",
        ),
        (
            {"look_for": ["Staff surveys", {"Training": "multi-agency"}]},
            "local.yaml: strands[1].look_for[1]: expected a non-empty text of at most "
            "300 characters, got a mapping",
        ),
        (
            {"look_for": ["Staff surveys", ["nested"]]},
            "local.yaml: strands[1].look_for[1]: expected a non-empty text of at most "
            "300 characters, got a list of 1 items",
        ),
        (
            {"look_for": ["Staff surveys", " "]},
            "local.yaml: strands[1].look_for[1]: expected a non-empty text",
        ),
        (
            {"look_for": [f"Item {i}" for i in range(41)]},
            "local.yaml: strands[1].look_for: expected a list of 0 to 40 items, got a list of 41",
        ),
        (
            {"measures": {"Training": "programmes"}},
            "local.yaml: strands[1].measures: expected a list of measures (up to 12 texts), "
            "got a mapping",
        ),
        (
            {"measures": [True]},
            "local.yaml: strands[1].measures[0]: expected a non-empty text",
        ),
        (
            {"subtitle": ["Partnership", "governance"]},
            "local.yaml: strands[1].subtitle: expected a text of at most 200 characters",
        ),
        (
            {"look_for": ["x" * 301]},
            "local.yaml: strands[1].look_for[0]: expected a non-empty text of at most 300 "
            "characters, got 301 characters",
        ),
    ],
)
def test_bad_guidance_is_refused_with_a_clear_message(fields: dict[str, Any], message: str) -> None:
    assert error_of(custom(**fields)).startswith(message)


def test_an_unquoted_item_with_a_colon_is_named_in_the_message() -> None:
    """What docs/frameworks.md warns of: YAML reads `- Training: x` as a mapping."""
    text = yaml.safe_dump(custom(look_for=["Staff surveys"])).replace(
        "- Staff surveys", "- Training: multi-agency courses"
    )
    with pytest.raises(FrameworkError, match=r"strands\[1\]\.look_for\[0\]: .* got a mapping"):
        load_text(text, "local.yaml")


def test_the_upload_route_refuses_bad_guidance_and_keeps_good_guidance(
    app: Flask, facilitator: FlaskClient
) -> None:
    bad = custom(look_for=["Staff surveys", {"Training": "multi-agency"}])
    refused = post_form(
        facilitator,
        "/facilitator/assessments/new",
        {
            "area": "Herts",
            "period": "2019",
            "framework_file": (io.BytesIO(yaml.safe_dump(bad).encode()), "local.yaml"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    page = unescape(refused.get_data(True))
    assert "There is a problem" in page
    assert "local.yaml: strands[1].look_for[1]: expected a non-empty text" in page
    with get_database(app).read() as db:
        assert db.scalar(select(func.count()).select_from(Assessment)) == 0

    good = custom(look_for=["Staff surveys", "Training: multi-agency courses", "Appraisals"])
    made = post_form(
        facilitator,
        "/facilitator/assessments/new",
        {
            "area": "Herts",
            "period": "2019",
            "framework_file": (io.BytesIO(yaml.safe_dump(good).encode()), "local.yaml"),
        },
        content_type="multipart/form-data",
    )
    assert made.status_code == 302
    with get_database(app).read() as db:
        stored = db.scalars(select(Assessment)).one()
        # The assessment's own copy keeps the guidance, so later edits of the file change nothing.
        assert stored.framework["strands"][1]["look_for"] == good["strands"][1]["look_for"]
        assert stored.framework["strands"][0]["subtitle"] == "One worker, one family, one plan"


# --- (d) on the pages -----------------------------------------------------------------------


def list_items(html: str, list_id: str) -> list[str]:
    found = re.search(rf'<ul[^>]*id="{re.escape(list_id)}"[^>]*>(.*?)</ul>', html, re.DOTALL)
    assert found, list_id
    return [unescape(i.strip()) for i in re.findall(r"<li>(.*?)</li>", found.group(1), re.DOTALL)]


@pytest.mark.parametrize("form", ["desk", "agreed"])
def test_the_desk_and_agreed_forms_carry_every_strands_guidance(
    facilitator: FlaskClient, assessment_id: int, builtins: dict[str, Framework], form: str
) -> None:
    response = facilitator.get(f"/facilitator/assessments/{assessment_id}/{form}")
    assert response.status_code == 200
    html = response.get_data(True)
    for strand in builtins[NATIONAL].strands:
        subtitle = re.search(rf'id="subtitle-{strand.key}">(.*?)</p>', html)
        assert subtitle and unescape(subtitle.group(1)) == strand.subtitle
        assert f'<details class="govuk-details strand-guidance" id="guidance-{strand.key}">' in html
        assert list_items(html, f"measures-{strand.key}") == list(strand.measures)
        assert list_items(html, f"look-for-{strand.key}") == list(strand.look_for)


def test_phones_get_the_guidance_once_in_their_snapshot(
    app: Flask, assessment_id: int, builtins: dict[str, Framework]
) -> None:
    session = make_session(app, assessment_id)
    held = last(received(phone(app, session.join_code)), "state")
    family = builtins[NATIONAL].strand(FAMILY)
    assert family is not None
    sent = next(s for s in held["strands"] if s["key"] == FAMILY)
    assert sent["subtitle"] == family.subtitle
    assert sent["measures"] == list(family.measures)
    assert sent["look_for"] == list(family.look_for)


# --- (d) in Chromium ------------------------------------------------------------------------

browser = module_browser()
workshop = module_workshop("guidance")


@pytest.fixture
def contexts(browser: Browser) -> Iterator[tuple[PageErrors, list[BrowserContext]]]:
    errors, made = PageErrors(), []
    yield errors, made
    for context in made:
        context.close()
    assert errors.errors == []


def open_context(
    browser: Browser, made: tuple[PageErrors, list[BrowserContext]], name: str, **options: Any
) -> BrowserContext:
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    made[1].append(context)
    return made[0].watch(context, name)


@pytest.mark.browser
@pytest.mark.server
def test_the_desk_form_guidance_opens_into_view(
    browser: Browser,
    workshop: Workshop,
    builtins: dict[str, Framework],
    contexts: tuple[PageErrors, list[BrowserContext]],
) -> None:
    strand = builtins[NATIONAL].strand("workforce-development")
    assert strand is not None
    context = workshop.log_in(open_context(browser, contexts, "facilitator", **DESKTOP))
    page = context.new_page()
    page.goto(f"{workshop.url}/facilitator/assessments/{workshop.assessment()}/desk")
    guidance = page.locator(f"#guidance-{strand.key}")
    expect(page.locator(f"#subtitle-{strand.key}")).to_have_text(strand.subtitle)
    expect(guidance.locator("li").first).to_be_hidden()  # folded away until asked for
    guidance.locator("summary").click()
    for item in (strand.measures[0], strand.look_for[0], strand.look_for[-1]):
        shown = guidance.get_by_text(item, exact=True)
        shown.scroll_into_view_if_needed()
        expect(shown).to_be_in_viewport()
    expect(page.locator(f"#look-for-{strand.key} li")).to_have_count(len(strand.look_for))


@pytest.mark.browser
@pytest.mark.server
def test_the_phones_about_this_strand_panel_shows_the_guidance(
    browser: Browser,
    workshop: Workshop,
    builtins: dict[str, Framework],
    contexts: tuple[PageErrors, list[BrowserContext]],
) -> None:
    family = builtins[NATIONAL].strand(FAMILY)
    assert family is not None
    session = workshop.new_session("Guidance on the phone")
    workshop.run_to(session, "start", "open")
    page = open_context(browser, contexts, "phone", **PHONE).new_page()
    page.goto(f"{workshop.url}/s/{session.code}")
    expect(page.locator(f"#opt-{FAMILY}-1")).to_be_enabled()
    expect(page.locator(f"#look-for-{FAMILY}")).to_be_hidden()
    page.locator(f"#purpose-{FAMILY}").click()
    subtitle = page.locator(f"#subtitle-{FAMILY}")
    expect(subtitle).to_have_text(family.subtitle)
    expect(subtitle).to_be_in_viewport()
    measures = page.locator(f"#measures-{FAMILY} li")
    look_for = page.locator(f"#look-for-{FAMILY} li")
    expect(measures).to_have_text(list(family.measures))
    expect(look_for).to_have_text(list(family.look_for))
    for item in (measures.first, look_for.first, look_for.last):
        item.scroll_into_view_if_needed()
        expect(item).to_be_in_viewport()
    # A console action's lean broadcast rebuilds the card: the panel stays open with its text.
    workshop.control(session, "results", show=True)
    expect(page.locator(f"#results-{FAMILY}")).to_be_visible()
    expect(look_for).to_have_text(list(family.look_for))
    look_for.last.scroll_into_view_if_needed()
    expect(look_for.last).to_be_in_viewport()
