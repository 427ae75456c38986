"""The facilitator's results: the assessment and session views, agreed ratings and next steps,
the printable report, chart downloads and the summary and workbook downloads."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from voting import analysis
from voting.access.accounts import owns
from voting.access.auth import login_required
from voting.assessments import AgreedEntry, framework_of, save_agreed_ratings
from voting.database import get_database
from voting.labels import FORUM_LABELS
from voting.models import Assessment, VotingSession
from voting.reporting import charts, disclosure, exports
from voting.reporting.downloads import download
from voting.reporting.results import Results, StrandResult, comparable_assessments, gather
from voting.validation import Refusal, parse_rating

bp = Blueprint("reports", __name__, url_prefix="/facilitator")
bp.before_request(login_required(lambda: None))


def _min_group_size() -> int:
    return int(current_app.config["MIN_GROUP_SIZE"])


def _compare_id() -> int | None:
    raw = request.args.get("compare", "")
    # ASCII digits only: "²".isdigit() is true, but int() refuses it (a 500, found by hypothesis).
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def _results_or_404(assessment_id: int, session_id: int | None = None) -> Results:
    with get_database().read() as db:
        found = gather(
            db,
            assessment_id,
            session_id=session_id,
            compare_id=_compare_id(),
            min_group_size=_min_group_size(),
        )
        if found is None or not owns(found.assessment):
            abort(404, description="There is no such assessment.")
        # Touch what the templates read, while the database session is open.
        _ = [s.strand_keys for s in found.sessions]
        return found


def strand_chart(results: Results, strand: StrandResult) -> str:
    """The Hertfordshire chart for one strand: a group of bars per forum, coloured by level."""
    series: list[tuple[str, Any]] = [
        (f.name, None if f.suppressed else f.counts) for f in strand.forums
    ]
    reasons = [f.hidden for f in strand.forums]
    if len(strand.forums) != 1:
        series.append(("All forums", None if strand.hidden else strand.counts))
        reasons.append(strand.hidden)
    summary = "; ".join(
        f"{label}: "
        + (
            "not shown, " + disclosure.hidden_words(reason, results.min_group_size)
            if counts is None
            else ", ".join(
                f"{name} {n}" for name, n in zip(results.level_names, counts, strict=True)
            )
        )
        for (label, counts), reason in zip(series, reasons, strict=True)
    )
    return charts.grouped_bars(
        chart_id=f"chart-{strand.key}",
        title=f"Votes per level for {strand.name}, by forum",
        description=f"{strand.sentence} {summary}.",
        level_names=results.level_names,
        series=series,
        desk_levels=strand.desk.levels if strand.desk else (),
        note=f"Split: {strand.split_reason}" if strand.splits_room else None,
    )


def trend_chart(results: Results) -> str:
    """The trend over years: per strand, the desk, partners' median and agreed rating of each
    year. Drawn from the same ratings as the trend table, hidden medians included (absent)."""
    years = [year.label for year in results.trend]
    per_strand = "; ".join(
        f"{strand.label}: "
        + ", ".join(
            f"{year.label} "
            + " / ".join(
                f"{name.lower()} {rating or 'none'}"
                for (_, name, _), rating in zip(
                    charts.TREND_KINDS, year.ratings.get(strand.key, ("", "", "")), strict=True
                )
            )
            for year in results.trend
        )
        for strand in results.strands
    )
    return charts.trend_lines(
        chart_id="trend-chart",
        title=f"Ratings over the years, {analysis.join_names(years)}",
        description=(
            f"Desk rating, partners' median and agreed rating per strand and year, on the scale "
            f"{analysis.scale_words(results.level_names)}. {per_strand}."
        ),
        level_names=results.level_names,
        years=years,
        strands=[
            (
                strand.key,
                strand.label,
                [year.values.get(strand.key, (None, None, None)) for year in results.trend],
            )
            for strand in results.strands
        ],
    )


def split_flag(strand: StrandResult) -> str | None:
    """The split flag in words, naming the forums where the room split; None if it did not."""
    if not strand.splits_room:
        return None
    if strand.figures.split:
        return f"Split: {strand.split_reason}"
    return f"Split in {analysis.join_names(strand.split_forums)}"


def _partners_note(results: Results, strand: StrandResult) -> str | None:
    """Why a strand has no partners' median, in words; None when it has one."""
    if strand.hidden:
        return "not shown, " + disclosure.hidden_words(strand.hidden, results.min_group_size)
    if not strand.voted:
        return "not voted on"
    return None


def summary_chart(results: Results) -> str:
    """The report's first-page chart: each strand's three ratings on the level scale and its
    split flag. Its description says the same in words, as does the ratings table beside it."""
    rows, words = [], []
    for s in results.strands:
        note = _partners_note(results, s)
        median = None if note else s.figures.median
        flag = split_flag(s)
        rows.append(
            charts.RatingMarks(
                label=s.label,
                desk=s.desk.value if s.desk else None,
                median=median,
                agreed=s.agreed.value if s.agreed else None,
                split=flag,
                note=note,
            )
        )
        partners = note or analysis.level_label(median, results.level_names)
        words.append(
            f"{s.label}: desk {s.desk_label or 'not recorded'}, partners' median {partners}, "
            f"agreed {s.agreed_label or 'not yet agreed'}" + (f"; {flag}" if flag else "")
        )
    return charts.ratings_summary(
        chart_id="ratings-summary",
        title="Ratings per strand: desk, partners' median and agreed, on the level scale",
        description=". ".join(words) + ".",
        level_names=results.level_names,
        rows=rows,
    )


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def css_string(text: str) -> str:
    """`text` as a quoted CSS string: anything but letters, digits and plain punctuation is
    escaped, so an area's name cannot end the string or the rule."""
    safe = " .,-'()&/:"
    return '"' + "".join(c if c.isalnum() or c in safe else f"\\{ord(c):x} " for c in text) + '"'


def _context(results: Results, **extra: Any) -> dict[str, Any]:
    return {
        "results": results,
        "assessment": results.assessment,
        "level_label": analysis.level_label,
        "scale_words": analysis.scale_words,
        "chart": lambda strand: strand_chart(results, strand),
        "trend_chart": lambda: trend_chart(results),
        "forum_labels": FORUM_LABELS,
        "hidden_words": lambda reason: disclosure.hidden_words(reason, results.min_group_size),
        "pct": lambda value: f"{value:.0f}%",
        "num": lambda value, digits=2: "none" if value is None else f"{value:.{digits}f}",
        **extra,
    }


@bp.route("/assessments/<int:assessment_id>/results")
def assessment_results(assessment_id: int) -> str:
    results = _results_or_404(assessment_id)
    with get_database().read() as db:
        others = comparable_assessments(db, results.assessment)
    return render_template("results.html", **_context(results, session=None, others=others))


@bp.route("/sessions/<int:session_id>/results")
def session_results(session_id: int) -> str:
    with get_database().read() as db:
        session = db.get(VotingSession, session_id)
        if session is None or not owns(session.assessment):
            abort(404, description="There is no such session.")
        assessment_id = session.assessment_id
    results = _results_or_404(assessment_id, session_id=session_id)
    return render_template("results.html", **_context(results, session=session, others=[]))


@bp.route("/assessments/<int:assessment_id>/report")
def report(assessment_id: int) -> str:
    results = _results_or_404(assessment_id)
    return render_template(
        "report.html",
        **_context(
            results,
            summary_chart=summary_chart(results),
            split_flag=split_flag,
            printed_on=long_date(date.today()),
        ),
    )


@bp.route("/assessments/<int:assessment_id>/report-pages.css")
def report_pages_css(assessment_id: int) -> Response:
    """The report's running head: the area, the period and the date in the top margin of every
    printed page. Chromium draws @page margin boxes but not string-set, so the words cannot come
    from the page itself, and the policy allows no inline style: this stylesheet carries them."""
    with get_database().read() as db:
        found = db.get(Assessment, assessment_id)
        if found is None or not owns(found):
            abort(404, description="There is no such assessment.")
        head = f"{found.area} {found.period}: maturity self-assessment"
    body = (
        "@page {\n"
        f"  @top-left {{ content: {css_string(head)}; }}\n"
        f"  @top-right {{ content: {css_string(long_date(date.today()))}; }}\n"
        "}\n"
    )
    response = Response(body, mimetype="text/css")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/assessments/<int:assessment_id>/charts/<strand_key>.svg")
def chart_svg(assessment_id: int, strand_key: str) -> Response:
    results = _results_or_404(assessment_id)
    strand = next((s for s in results.strands if s.key == strand_key), None)
    if strand is None:
        abort(404, description="There is no such strand.")
    stem = exports.file_stem(results.assessment)
    return download(strand_chart(results, strand), f"{stem}-{strand_key}.svg", "image/svg+xml")


@bp.route("/assessments/<int:assessment_id>/trend.svg")
def trend_svg(assessment_id: int) -> Response:
    results = _results_or_404(assessment_id)
    if not results.trend:
        abort(404, description="There is no earlier assessment of this area to compare with.")
    stem = exports.file_stem(results.assessment)
    return download(trend_chart(results), f"{stem}-trend.svg", "image/svg+xml")


@bp.route("/assessments/<int:assessment_id>/summary.csv")
def summary_csv(assessment_id: int) -> Response:
    results = _results_or_404(assessment_id)
    stem = exports.file_stem(results.assessment)
    return download(exports.summary_csv(results), f"{stem}-summary.csv", "text/csv")


@bp.route("/assessments/<int:assessment_id>/assessment.xlsx")
def workbook(assessment_id: int) -> Response:
    from voting.reporting.workbook import assessment_workbook

    results = _results_or_404(assessment_id)
    return download(
        assessment_workbook(results),
        f"{exports.file_stem(results.assessment)}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@bp.route("/assessments/<int:assessment_id>/raw.json")
def raw_json(assessment_id: int) -> Response:
    """Raw data, programme team only: every session's own counts, small ones included."""
    with get_database().read() as db:
        found = db.get(Assessment, assessment_id)
        if found is None or not owns(found):
            abort(404, description="There is no such assessment.")
        body = exports.raw_json_text(db, found)
        stem = exports.file_stem(found)
    return download(body, f"{stem}-raw.json", "application/json")


@bp.route("/assessments/<int:assessment_id>/agreed", methods=["GET", "POST"])
def agreed(assessment_id: int) -> Any:
    with get_database().read() as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None or not owns(assessment):
            abort(404, description="There is no such assessment.")
        framework = framework_of(assessment)
        ratings = {a.strand_key: a for a in assessment.agreed_ratings}
    error = None
    if request.method == "POST":
        try:
            entries = [_agreed_entry(strand.key) for strand in framework.strands]
            save_agreed_ratings(get_database(), assessment_id, entries)
        except Refusal as refusal:
            error = refusal.message
        else:
            flash("Agreed ratings and next steps saved.")
            return redirect(url_for("reports.assessment_results", assessment_id=assessment_id))
    return render_template(
        "agreed_form.html",
        assessment=assessment,
        framework=framework,
        ratings=ratings,
        error=error,
    ), (400 if error else 200)


def _agreed_entry(key: str) -> AgreedEntry:
    level, upper = parse_rating(request.form.get(f"level-{key}", ""))
    return AgreedEntry(
        strand_key=key,
        level=level,
        upper_level=upper,
        next_steps=request.form.get(f"next-{key}", "")[:5000].strip(),
    )
