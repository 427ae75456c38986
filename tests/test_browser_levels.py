"""A workshop on a five-level framework, end to end in real browsers: the facilitator uploads
the framework file through the New assessment form, records desk ratings, runs a live session;
phones show five level buttons and vote on all five; the projector draws five bars in five
distinct colours (read from the rendered bars); the results page, the report, the workbook, the
summary CSV and the JSON then name the five levels with their counts.

The same checks for 2, 3, 6 and 7 levels run without a browser in tests/test_levels.py.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl
import pytest

from tests.browser_stages import module_browser, public_server
from tests.browser_support import (
    DESKTOP,
    PHONE,
    TIMEOUT_MS,
    PageErrors,
    create_session,
    diagnostics,
    edit_desk,
    log_in,
)
from tests.colour_vision import contrast, parse
from tests.scales import LEVEL_NAMES, STRANDS, framework_yaml, level_keys
from voting.colours import level_colours

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

    from tests.servers import RunningServer

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with an install hint
    expect = None  # type: ignore[assignment]

pytestmark = [pytest.mark.browser, pytest.mark.server]

LEVELS = 5
NAMES = list(LEVEL_NAMES[LEVELS])
(KEY, NAME), (OTHER_KEY, _) = STRANDS
# One phone per vote: every level chosen, the top one twice, so the order shows in the counts.
VOTES = [1, 2, 3, 4, 5, 5]
COUNTS = [VOTES.count(level) for level in range(1, LEVELS + 1)]  # [1, 1, 1, 1, 2]

browser = module_browser()


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with public_server(tmp_path_factory, "levels") as running:
        yield running


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def new_context(browser: Browser, made: list[BrowserContext], **options: object) -> BrowserContext:
    context = browser.new_context(**options)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    made.append(context)
    return context


def upload_framework(page: Page, base: str, path: Path) -> int:
    """From the dashboard: a new assessment on the uploaded framework file."""
    page.get_by_role("link", name="New assessment").click()
    page.get_by_label("Area", exact=True).fill("Borsetshire")
    page.get_by_label("Period", exact=True).fill("2026")
    page.get_by_label("Or upload your own framework file (optional)").set_input_files(str(path))
    page.get_by_role("button", name="Create assessment").click()
    expect(page.locator(".banner")).to_contain_text("Assessment created")
    expect(page.get_by_role("heading", level=1)).to_have_text("Borsetshire 2026")
    return int(page.url.rsplit("/", 1)[1])


def expect_five_level_buttons(page: Page) -> None:
    """Five level buttons, each named, each brought into the phone's viewport in turn."""
    options = page.locator(f"#levels-{KEY} .level-option")
    expect(options).to_have_count(LEVELS)
    expect(options.locator(".level-name")).to_have_text(NAMES)
    for number in range(1, LEVELS + 1):
        label = page.locator(f'label[for="opt-{KEY}-{number}"]')
        label.scroll_into_view_if_needed()
        expect(label).to_be_in_viewport()
        expect(page.locator(f"#opt-{KEY}-{number}")).to_be_enabled()


def test_a_five_level_workshop_in_real_browsers(
    browser: Browser,
    contexts: list[BrowserContext],
    server: RunningServer,
    tmp_path: Path,
) -> None:
    base = server.url
    errors = PageErrors()
    pages: dict[str, Page] = {}
    facilitator = errors.watch(new_context(browser, contexts, **DESKTOP), "facilitator")
    console = pages["console"] = facilitator.new_page()
    framework = tmp_path / "five-levels.yaml"
    framework.write_bytes(framework_yaml(LEVELS))

    with diagnostics(server, pages):
        # 1. The facilitator uploads the five-level framework; the desk form offers its levels.
        log_in(console, base)
        aid = upload_framework(console, base, framework)
        edit_desk(console, {KEY: "Strong", OTHER_KEY: "Strong/Leading"})
        desk_cells = console.locator("table").first.locator("tbody tr td:first-of-type")
        expect(desk_cells).to_have_text(["Strong", "Strong/Leading"])
        create_session(console, base, "Five-level workshop", [KEY, OTHER_KEY])
        with console.expect_popup() as popup:
            console.get_by_role("link", name="Open the presenter view").click()
        presenter = pages["presenter"] = popup.value
        join_url = presenter.locator("#join-screen-url").inner_text()
        console.bring_to_front()

        # 2. Phones join, skip the questions about themselves, and see five level buttons.
        phones: list[Page] = []
        for n, _ in enumerate(VOTES, start=1):
            page = errors.watch(new_context(browser, contexts, **PHONE), f"phone{n}").new_page()
            page.goto(join_url)
            pages[f"phone{n}"] = page
            phones.append(page)
        for page in phones:
            expect(page.locator("#connection")).to_have_text("Connected")
            page.get_by_role("button", name="Skip").tap()
        console.get_by_role("button", name="Start session").click()
        console.locator(f"#open-{KEY}").click()
        expect(console.locator("#console-message")).to_have_text(f"Voting open on {NAME}.")
        for page in phones:
            expect_five_level_buttons(page)

        # 3. Every level gets a vote, each confirmed by its own name.
        for page, level in zip(phones, VOTES, strict=True):
            page.locator(f'label[for="opt-{KEY}-{level}"]').tap()
            expect(page.locator(f"#status-{KEY}")).to_have_text(
                f"Your vote is saved: {NAMES[level - 1]}."
            )
        row = console.locator("#strand-rows tr").filter(has_text=NAME)
        expect(row.locator(".distribution")).to_have_text(
            " · ".join(f"{n} {c}" for n, c in zip(NAMES, COUNTS, strict=True))
        )

        # 4. The projector: five bars, named, counted, in five distinct colours on white.
        console.get_by_role("button", name="Show results").click()
        bars = presenter.locator("#strand-results .bar-row")
        expect(bars).to_have_count(LEVELS)
        expect(bars.locator(".bar-label")).to_have_text(NAMES)
        total = len(VOTES)
        expect(bars.locator(".bar-value")).to_have_text(
            [f"{c} ({math.floor(100 * c / total + 0.5)}%)" for c in COUNTS]  # as JS rounds
        )
        fills = presenter.locator("#strand-results .bar-fill")
        for i in range(LEVELS):
            expect(fills.nth(i)).to_be_in_viewport()
        drawn = fills.evaluate_all(
            """fills => fills.map(f => ({
                colour: getComputedStyle(f).backgroundColor,
                width: f.getBoundingClientRect().width,
            }))"""
        )
        colours = [parse(d["colour"]) for d in drawn]
        assert colours == [parse(c) for c in level_colours(LEVELS)]
        assert len(set(colours)) == LEVELS
        assert all(d["width"] > 0 for d in drawn), drawn
        for d in drawn:
            assert contrast(d["colour"], "#ffffff") >= 3, d
        # The bars on a phone take the same colours.
        phone_fills = phones[0].locator(f"#results-{KEY} .bar-fill")
        expect(phone_fills).to_have_count(LEVELS)
        on_phone = phone_fills.evaluate_all(
            "fs => fs.map(f => getComputedStyle(f).backgroundColor)"
        )
        assert [parse(c) for c in on_phone] == colours

        # 5. Close and reveal: the desk rating is the fourth of five levels.
        console.locator(f"#close-{KEY}").click()
        console.locator(f"#reveal-{KEY}").click()
        expect(presenter.locator("#strand-desk")).to_have_text(
            "Programme team's desk rating: Strong"
        )
        expect(presenter.locator("#strand-results .is-desk .bar-label")).to_have_text("Strong")

        # 6. The results page: the forum table and the chart name all five levels.
        console.goto(f"{base}/facilitator/assessments/{aid}/results")
        table = console.locator("table").filter(
            has=console.locator("caption", has_text=f"Votes per level for {NAME}, by forum")
        )
        expect(table.locator("thead th")).to_contain_text(["Forum", *NAMES, "Votes"])
        total_row = table.locator("tr.total-row td")
        total_row.nth(0).scroll_into_view_if_needed()
        expect(total_row.nth(LEVELS)).to_be_in_viewport()
        cells = total_row.all_inner_texts()
        assert cells[: LEVELS + 1] == [str(c) for c in COUNTS] + [str(total)]
        chart = console.locator(f"#chart-{KEY}")
        chart.scroll_into_view_if_needed()
        expect(chart).to_be_in_viewport()
        legend = chart.locator("text").evaluate_all("ts => ts.map(t => t.textContent)")
        for name in NAMES:
            assert any(t.startswith(name) for t in legend), (name, legend)
        chart_fills = chart.locator("rect[width='12']").evaluate_all(
            "rs => rs.map(r => getComputedStyle(r).fill)"
        )
        assert [parse(c) for c in chart_fills] == colours
        mean = console.locator(f"#strand-{KEY}").get_by_text(
            f"Mean score ({NAMES[0]} = 1 to {NAMES[-1]} = 5)"
        )
        mean.scroll_into_view_if_needed()
        expect(mean).to_be_in_viewport()

        # 7. The report.
        console.goto(f"{base}/facilitator/assessments/{aid}/report")
        ratings = console.locator("table").filter(
            has=console.locator("caption", has_text="Ratings per strand")
        )
        expect(ratings.locator("thead th")).to_contain_text(NAMES)
        first = ratings.locator("tbody tr").filter(has_text=NAME)
        first.scroll_into_view_if_needed()
        expect(first.locator("td.num").nth(LEVELS)).to_be_in_viewport()
        shares = first.locator("td.num").all_inner_texts()
        assert shares[:LEVELS] == [f"{100 * c / total:.0f}%" for c in COUNTS]
        assert shares[LEVELS] == str(total)

        # 8. The downloads: workbook, summary CSV and JSON.
        download = facilitator.request.get(f"{base}/facilitator/assessments/{aid}/assessment.xlsx")
        assert download.ok
        book = openpyxl.load_workbook(io.BytesIO(download.body()))
        summary = list(book["Summary"].iter_rows(values_only=True))
        header = summary[3]
        assert header[4 : 4 + LEVELS] == tuple(NAMES)
        strand_row = next(r for r in summary if r[0] == NAME)
        assert list(strand_row[4 : 4 + LEVELS]) == COUNTS
        charts = list(book["Charts"].iter_rows(values_only=True))
        assert charts[2][: LEVELS + 1] == ("Strand", *NAMES)

        text = facilitator.request.get(f"{base}/facilitator/assessments/{aid}/summary.csv").text()
        lines = list(csv.reader(io.StringIO(text)))
        while len(lines[0]) == 1:  # who the file is for
            lines.pop(0)
        rows = [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
        first_row = next(r for r in rows if r["strand_key"] == KEY)
        assert [first_row[f"n_{k}"] for k in level_keys(LEVELS)] == [str(c) for c in COUNTS]

        document = json.loads(
            facilitator.request.get(f"{base}/facilitator/assessments/{aid}/assessment.json").text()
        )
        assert [lv["name"] for lv in document["framework"]["levels"]] == NAMES
        assert document["analysis"]["strands"][KEY]["counts"] == COUNTS

        assert errors.errors == []
