"""The facilitator's pages: assessments, desk ratings, sessions, console, presenter, downloads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

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
from sqlalchemy import func, select

from voting.access.accounts import current_account, owned_assessments, owns
from voting.access.auth import login_required
from voting.assessments import (
    DeskEntry,
    SessionSpec,
    create_assessment,
    create_session,
    framework_of,
    save_desk_ratings,
)
from voting.database import get_database
from voting.frameworks import DEFAULT_FRAMEWORK_ID, Framework, FrameworkError, load_text
from voting.labels import FORUM_LABELS, METHOD_LABELS, rating_label
from voting.live import events
from voting.live.qrcodes import join_url, reachable_by_phones
from voting.models import FORUM_TYPES, Assessment, Participant, Vote, VotingSession
from voting.reporting import exports
from voting.reporting.downloads import download
from voting.upkeep.retention import purge_due, set_retention
from voting.validation import Refusal, parse_rating

bp = Blueprint("facilitate", __name__, url_prefix="/facilitator")
bp.before_request(login_required(lambda: None))

LOCAL_TIME = ZoneInfo("Europe/London")
PACING_LABELS = {
    "live": "Live: I open one strand at a time",
    "self_paced": "Self-paced: every strand open until a closing time",
}


def _frameworks() -> dict[str, Framework]:
    return current_app.extensions["voting_frameworks"]


def _field(name: str, max_length: int) -> str:
    return " ".join(request.form.get(name, "").split())[:max_length]


def _assessment_or_404(db: Any, assessment_id: int) -> Assessment:
    assessment = db.get(Assessment, assessment_id)
    # Another account's assessment is answered exactly as a missing one.
    if assessment is None or not owns(assessment):
        abort(404, description="There is no such assessment.")
    return assessment


@bp.route("/")
def dashboard() -> str:
    with get_database().read() as db:
        assessments = db.scalars(owned_assessments()).all()
        session_counts = dict(
            db.execute(
                select(VotingSession.assessment_id, func.count()).group_by(
                    VotingSession.assessment_id
                )
            ).all()
        )
    return render_template("dashboard.html", assessments=assessments, session_counts=session_counts)


@bp.route("/assessments/new", methods=["GET", "POST"])
def new_assessment() -> Any:
    errors: dict[str, str] = {}
    form = {"area": "", "period": "", "framework": DEFAULT_FRAMEWORK_ID, "localities": ""}
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in form}
        area, period = _field("area", 120), _field("period", 60)
        if not area:
            errors["area"] = "Enter the area, for example Hertfordshire."
        if not period:
            errors["period"] = "Enter the period, for example 2017."
        framework = _chosen_framework(errors)
        localities = _lines(request.form.get("localities", ""), 80, 60)
        if not errors and framework is not None:
            assessment_id = create_assessment(
                get_database(), area, period, framework, localities, owner_id=current_account()
            )
            flash("Assessment created. Record the desk assessment next.")
            return redirect(url_for("facilitate.assessment", assessment_id=assessment_id))
    return render_template(
        "assessment_form.html", form=form, errors=errors, frameworks=_frameworks()
    ), (400 if errors else 200)


def _chosen_framework(errors: dict[str, str]) -> Framework | None:
    upload = request.files.get("framework_file")
    if upload is not None and upload.filename:
        try:
            return load_text(upload.read(), upload.filename[:120])
        except FrameworkError as exc:
            errors["framework_file"] = f"This framework file cannot be used. {exc}"
            return None
    chosen = _frameworks().get(request.form.get("framework", ""))
    if chosen is None:
        errors["framework"] = "Choose a framework."
    return chosen


def _lines(text: str, max_length: int, max_lines: int) -> list[str]:
    seen: list[str] = []
    for line in text.splitlines():
        cleaned = " ".join(line.split())[:max_length]
        if cleaned and cleaned not in seen:
            seen.append(cleaned)
    return seen[:max_lines]


@bp.route("/assessments/<int:assessment_id>")
def assessment(assessment_id: int) -> str:
    with get_database().read() as db:
        found = _assessment_or_404(db, assessment_id)
        framework = framework_of(found)
        desk = {d.strand_key: d for d in found.desk_ratings}
        joined = dict(
            db.execute(
                select(Participant.session_id, func.count())
                .join(VotingSession, VotingSession.id == Participant.session_id)
                .where(VotingSession.assessment_id == assessment_id)
                .group_by(Participant.session_id)
            ).all()
        )
        sessions = list(found.sessions)
    return render_template(
        "assessment.html",
        assessment=found,
        framework=framework,
        desk=desk,
        desk_label=rating_label,
        sessions=sessions,
        joined=joined,
        forum_labels=FORUM_LABELS,
    )


@bp.route("/assessments/<int:assessment_id>/desk", methods=["GET", "POST"])
def desk(assessment_id: int) -> Any:
    with get_database().read() as db:
        found = _assessment_or_404(db, assessment_id)
        framework = framework_of(found)
        ratings = {d.strand_key: d for d in found.desk_ratings}
    error = None
    if request.method == "POST":
        try:
            entries = [_desk_entry(strand.key) for strand in framework.strands]
            save_desk_ratings(get_database(), assessment_id, entries)
        except Refusal as refusal:
            error = refusal.message
        else:
            flash("Desk assessment saved. It stays hidden from participants until you reveal it.")
            return redirect(url_for("facilitate.assessment", assessment_id=assessment_id))
    return render_template(
        "desk_form.html", assessment=found, framework=framework, ratings=ratings, error=error
    ), (400 if error else 200)


def _desk_entry(key: str) -> DeskEntry:
    level, upper = parse_rating(request.form.get(f"level-{key}", ""))
    return DeskEntry(
        strand_key=key,
        level=level,
        upper_level=upper,
        evidence=request.form.get(f"evidence-{key}", "")[:5000].strip(),
        sources=request.form.get(f"sources-{key}", "")[:2000].strip(),
    )


@bp.route("/assessments/<int:assessment_id>/sessions/new", methods=["GET", "POST"])
def new_session(assessment_id: int) -> Any:
    with get_database().read() as db:
        found = _assessment_or_404(db, assessment_id)
        framework = framework_of(found)
    errors: dict[str, str] = {}
    form: dict[str, Any] = {
        "name": "",
        "held_on": date.today().isoformat(),
        "forum_type": "mixed",
        "locality": "",
        "strands": [s.key for s in framework.strands],
        "pacing": "live",
        "closes_at": "",
        "collect_profile": True,
        "method": "phones",
        "live_results": False,
    }
    if request.method == "POST":
        form = {
            **{k: request.form.get(k, "") for k in form},
            "strands": request.form.getlist("strands"),
            "collect_profile": request.form.get("collect_profile") == "yes",
            # Phones unless the form says otherwise (a form saved before the choice existed).
            "method": request.form.get("method") or "phones",
            "live_results": request.form.get("live_results") == "yes",
        }
        spec = _session_spec(form, errors)
        if spec is not None and not errors:
            try:
                session_id = create_session(get_database(), assessment_id, spec)
            except Refusal as refusal:
                errors["strands"] = refusal.message
            else:
                return redirect(url_for("facilitate.console", session_id=session_id))
    return render_template(
        "session_form.html",
        assessment=found,
        framework=framework,
        form=form,
        errors=errors,
        forum_labels=FORUM_LABELS,
        pacing_labels=PACING_LABELS,
        method_labels=METHOD_LABELS,
    ), (400 if errors else 200)


def _session_spec(form: dict[str, Any], errors: dict[str, str]) -> SessionSpec | None:
    name = " ".join(str(form["name"]).split())[:120]
    if not name:
        errors["name"] = (
            "Enter a name for the session, for example 'District implementation group'."
        )
    held_on = None
    if form["held_on"]:
        try:
            held_on = date.fromisoformat(str(form["held_on"]))
        except ValueError:
            errors["held_on"] = "Enter the date as a real date, for example 2017-06-14."
    if form["forum_type"] not in FORUM_TYPES:
        errors["forum_type"] = "Choose the kind of forum."
    if form["pacing"] not in PACING_LABELS:
        errors["pacing"] = "Choose how the session is paced."
    if form["method"] not in METHOD_LABELS:
        errors["method"] = "Choose how partners vote at this forum."
    strands = [str(k)[:40] for k in form["strands"]][:40]
    if not strands:
        errors["strands"] = "Choose at least one strand."
    closes_at = None
    if form["pacing"] == "self_paced":
        closes_at = _local_to_utc(str(form["closes_at"]))
        if closes_at is None:
            errors["closes_at"] = "Enter when a self-paced session closes, as a date and time."
    if errors:
        return None
    return SessionSpec(
        name,
        held_on,
        str(form["forum_type"]),
        " ".join(str(form["locality"]).split())[:80],
        strands,
        str(form["pacing"]),
        closes_at,
        bool(form["collect_profile"]),
        str(form["method"]),
        bool(form["live_results"]),
    )


def _local_to_utc(value: str) -> datetime | None:
    try:
        local = datetime.fromisoformat(value).replace(tzinfo=LOCAL_TIME)
    except ValueError:
        return None
    return local.astimezone(UTC).replace(tzinfo=None)


def _session_or_404(db: Any, session_id: int) -> VotingSession:
    found = db.get(VotingSession, session_id)
    if found is None or not owns(found.assessment):
        abort(404, description="There is no such session.")
    return found


@bp.route("/sessions/<int:session_id>")
def console(session_id: int) -> str:
    with get_database().read() as db:
        found = _session_or_404(db, session_id)
        assessment_row = found.assessment
    url = join_url(found.join_code)
    return render_template(
        "console.html",
        session=found,
        assessment=assessment_row,
        join_url=url,
        reachable=reachable_by_phones(url),
    )


@bp.route("/sessions/<int:session_id>/present")
def presenter(session_id: int) -> str:
    with get_database().read() as db:
        found = _session_or_404(db, session_id)
    return render_template("presenter.html", session=found, join_url=join_url(found.join_code))


@bp.route("/assessments/<int:assessment_id>/votes.csv")
def assessment_csv(assessment_id: int) -> Response:
    with get_database().read() as db:
        found = _assessment_or_404(db, assessment_id)
        body = exports.votes_csv(db, found)
    return download(body, f"{exports.file_stem(found)}-votes.csv", "text/csv")


@bp.route("/sessions/<int:session_id>/votes.csv")
def session_csv(session_id: int) -> Response:
    with get_database().read() as db:
        found = _session_or_404(db, session_id)
        body = exports.votes_csv(db, found.assessment, session_id=session_id)
        stem = exports.file_stem(found.assessment) + f"-session-{session_id}"
    return download(body, f"{stem}-votes.csv", "text/csv")


@bp.route("/assessments/<int:assessment_id>/assessment.json")
def assessment_json(assessment_id: int) -> Response:
    with get_database().read() as db:
        found = _assessment_or_404(db, assessment_id)
        body = exports.assessment_json_text(db, found, current_app.config["MIN_GROUP_SIZE"])
    return download(body, f"{exports.file_stem(found)}.json", "application/json")


def _counts_for_deletion(db: Any, session_ids: list[int]) -> dict[str, int]:
    if not session_ids:
        return {"sessions": 0, "participants": 0, "votes": 0, "comments": 0}
    votes = select(func.count()).select_from(Vote).where(Vote.session_id.in_(session_ids))
    return {
        "sessions": len(session_ids),
        "participants": db.scalar(
            select(func.count())
            .select_from(Participant)
            .where(Participant.session_id.in_(session_ids))
        )
        or 0,
        "votes": db.scalar(votes) or 0,
        "comments": db.scalar(votes.where(Vote.comment.is_not(None), Vote.comment != "")) or 0,
    }


@bp.route("/assessments/<int:assessment_id>/delete", methods=["GET", "POST"])
def delete_assessment(assessment_id: int) -> Any:
    with get_database().read() as db:
        found = _assessment_or_404(db, assessment_id)
        counts = _counts_for_deletion(db, [s.id for s in found.sessions])
        label = f"{found.area} {found.period}"
    if request.method == "POST":
        with get_database().write() as db:
            target = db.get(Assessment, assessment_id)
            if target is not None:
                db.delete(target)
        flash(f"{label} and everything in it has been deleted.")
        return redirect(url_for("facilitate.dashboard"))
    return render_template(
        "confirm_delete.html",
        what=f"the assessment {label}",
        counts=counts,
        assessment=found,
        session=None,
    )


@bp.route("/sessions/<int:session_id>/delete", methods=["GET", "POST"])
def delete_session(session_id: int) -> Any:
    with get_database().read() as db:
        found = _session_or_404(db, session_id)
        counts = _counts_for_deletion(db, [session_id])
        assessment_row = found.assessment
        label = found.name
    if request.method == "POST":
        with get_database().write() as db:
            target = db.get(VotingSession, session_id)
            if target is not None:
                db.delete(target)
        events.close_deleted_session(session_id)
        flash(f"The session {label} and its votes have been deleted.")
        return redirect(url_for("facilitate.assessment", assessment_id=assessment_row.id))
    return render_template(
        "confirm_delete.html",
        what=f"the session {label}",
        counts=counts,
        assessment=assessment_row,
        session=found,
    )


@bp.route("/assessments/<int:assessment_id>/retention", methods=["POST"])
def retention(assessment_id: int) -> Any:
    raw = request.form.get("retention_days", "").strip()
    with get_database().read() as db:
        _assessment_or_404(db, assessment_id)
    try:
        if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 5):
            raise Refusal("Enter the number of days as a whole number, or leave it empty.")
        set_retention(get_database(), assessment_id, int(raw) if raw else None)
    except Refusal as refusal:
        flash(refusal.message)
        return redirect(url_for("facilitate.assessment", assessment_id=assessment_id)), 303
    purged = purge_due(get_database())
    message = (
        f"Raw votes will be deleted {raw} days after each session's date; totals are kept."
        if raw
        else "Raw votes will be kept until you delete them."
    )
    if purged:
        message += f" Raw votes of {len(purged)} session(s) past that date were deleted now."
    flash(message)
    return redirect(url_for("facilitate.assessment", assessment_id=assessment_id))
