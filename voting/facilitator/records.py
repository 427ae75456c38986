"""What the facilitator records beside the phones' votes: votes counted by hand (a forum on
paper, by email or by a show of hands, or one paper slip handed in at a live session), and the
assessment's sectors and core partners."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from voting.access.accounts import owns
from voting.access.auth import login_required
from voting.assessments import (
    add_action,
    add_paper_slip,
    carry_over_actions,
    comments_for_moderation,
    framework_of,
    moderate_comment,
    parse_hand_counts_csv,
    recorded_by_hand,
    save_hand_counts,
    save_sectors,
    set_action_status,
)
from voting.database import get_database
from voting.labels import ACTION_STATUS_LABELS, METHOD_LABELS, core_partners, sector_choices
from voting.live import events
from voting.models import HAND_METHODS, Action, Assessment, VotingSession
from voting.reporting.results import comparable_assessments
from voting.tallies import level_counts
from voting.validation import Refusal

bp = Blueprint("records", __name__, url_prefix="/facilitator")
bp.before_request(login_required(lambda: None))

MAX_UPLOAD = 200_000  # bytes: a counts CSV is a few lines per strand


@bp.route("/sessions/<int:session_id>/hand-counts", methods=["GET", "POST"])
def hand_counts(session_id: int) -> Any:
    with get_database().read() as db:
        session = db.get(VotingSession, session_id)
        if session is None or not owns(session.assessment):
            abort(404, description="There is no such session.")
        framework = framework_of(session.assessment)
        strands = [framework.strand(k) for k in session.strand_keys]
        default_method = session.method if session.method in HAND_METHODS else "show_of_hands"
    error = None
    if request.method == "POST":
        try:
            message = _record(session_id, framework, session.strand_keys)
        except Refusal as refusal:
            error = refusal.message
        else:
            # Phones and screens of a live session see the new counts straight away.
            events.publish_tally(session_id)
            flash(message)
            return redirect(url_for("records.hand_counts", session_id=session_id))
    with get_database().read() as db:
        counts = level_counts(db, session_id, len(framework.levels))
        by_hand = recorded_by_hand(db, session_id, len(framework.levels))
    return render_template(
        "hand_counts.html",
        session=session,
        framework=framework,
        strands=[s for s in strands if s is not None],
        counts=counts,
        by_hand=by_hand,
        methods={k: v for k, v in METHOD_LABELS.items() if k in HAND_METHODS},
        default_method=default_method,
        error=error,
    ), (400 if error else 200)


def _record(session_id: int, framework: Any, strand_keys: list[str]) -> str:
    what = request.form.get("record", "")
    if what == "slip":
        level = request.form.get("level", "")
        if not (level.isascii() and level.isdigit() and len(level) < 3):
            raise Refusal("Choose the level on the slip.")
        return add_paper_slip(
            get_database(), session_id, request.form.get("strand", "")[:40], int(level)
        )
    method = request.form.get("method", "")
    if what == "upload":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise Refusal("Choose a CSV file of counts to upload.")
        raw = upload.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            raise Refusal("That file is too large for a CSV of counts.")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Refusal("The CSV must be saved as UTF-8 text.") from None
        counts = parse_hand_counts_csv(text, framework, strand_keys)
    elif what == "counts":
        counts = {}
        for key in strand_keys:
            values = [
                request.form.get(f"count-{key}-{lv.number}", "").strip() or "0"
                for lv in framework.levels
            ]
            if any(not (v.isascii() and v.isdigit() and len(v) <= 5) for v in values):
                strand = framework.strand(key)
                raise Refusal(f"Enter whole numbers for {strand.name if strand else key}.")
            counts[key] = [int(v) for v in values]
    else:
        raise Refusal("Choose what to record.")
    save_hand_counts(get_database(), session_id, method, counts)
    total = sum(sum(v) for v in counts.values())
    return f"{total} vote{'s' if total != 1 else ''} recorded ({METHOD_LABELS[method]})."


@bp.route("/assessments/<int:assessment_id>/sectors", methods=["GET", "POST"])
def sectors(assessment_id: int) -> Any:
    with get_database().read() as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None or not owns(assessment):
            abort(404, description="There is no such assessment.")
        current = list(sector_choices(assessment.sectors))
        core = list(core_partners(assessment.core_partners))
    error = None
    if request.method == "POST":
        current = request.form.get("sectors", "")[:10_000].splitlines()
        core = request.form.getlist("core")[:60]
        try:
            save_sectors(get_database(), assessment_id, current, core)
        except Refusal as refusal:
            error = refusal.message
        else:
            flash("Sectors and core partners saved.")
            return redirect(url_for("records.sectors", assessment_id=assessment_id))
    return render_template(
        "sectors_form.html",
        assessment=assessment,
        sectors=[s for s in current if s.strip()],
        core=core,
        error=error,
    ), (400 if error else 200)


@bp.route("/assessments/<int:assessment_id>/comments", methods=["GET", "POST"])
def comments(assessment_id: int) -> Any:
    """Moderation: hide a comment (a family's or a worker's name, say) from every circulated
    output, keeping the vote and, in the raw download, the comment and the reason."""
    with get_database().read() as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None or not owns(assessment):
            abort(404, description="There is no such assessment.")
    error = None
    if request.method == "POST":
        raw_id = request.form.get("vote", "")
        try:
            if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 12):
                raise Refusal("Choose a comment from the list.")
            hide = request.form.get("action") == "hide"
            reason = request.form.get("reason", "")
            moderate_comment(get_database(), assessment_id, int(raw_id), hide, reason)
        except Refusal as refusal:
            error = refusal.message
        else:
            flash("Comment hidden from every circulated output." if hide else "Comment shown.")
            return redirect(url_for("records.comments", assessment_id=assessment_id))
    with get_database().read() as db:
        framework = framework_of(db.get(Assessment, assessment_id))  # type: ignore[arg-type]
        listed = [
            {
                "id": vote.id,
                "session": name,
                "strand": _strand_name(framework, vote.strand_key),
                "comment": vote.comment,
                "hidden": vote.comment_hidden_at is not None,
                "reason": vote.comment_hidden_reason or "",
            }
            for vote, name in comments_for_moderation(db, assessment_id)
        ]
    return render_template("comments.html", assessment=assessment, comments=listed, error=error), (
        400 if error else 200
    )


def _strand_name(framework: Any, key: str) -> str:
    strand = framework.strand(key)
    return strand.name if strand else key


@bp.route("/assessments/<int:assessment_id>/actions", methods=["GET", "POST"])
def actions(assessment_id: int) -> Any:
    with get_database().read() as db:
        assessment = db.get(Assessment, assessment_id)
        if assessment is None or not owns(assessment):
            abort(404, description="There is no such assessment.")
        earlier = [a for a in comparable_assessments(db, assessment) if a.id < assessment_id]
    error = None
    if request.method == "POST":
        try:
            message = _change_actions(assessment_id, {a.id for a in earlier})
        except Refusal as refusal:
            error = refusal.message
        else:
            flash(message)
            return redirect(url_for("records.actions", assessment_id=assessment_id))
    with get_database().read() as db:
        found = db.get(Assessment, assessment_id)
        assert found is not None
        framework = framework_of(found)
        by_strand: dict[str, list[Action]] = {}
        for action in db.scalars(
            select(Action).where(Action.assessment_id == assessment_id).order_by(Action.id)
        ):
            by_strand.setdefault(action.strand_key, []).append(action)
    return render_template(
        "actions.html",
        assessment=assessment,
        framework=framework,
        actions=by_strand,
        earlier=earlier,
        statuses=ACTION_STATUS_LABELS,
        error=error,
    ), (400 if error else 200)


def _change_actions(assessment_id: int, earlier: set[int]) -> str:
    what = request.form.get("do", "")
    if what == "carry":
        raw = request.form.get("from", "")
        if not (raw.isascii() and raw.isdigit() and len(raw) < 12) or int(raw) not in earlier:
            raise Refusal("Choose an earlier assessment of the same area.")
        n = carry_over_actions(get_database(), assessment_id, int(raw))
        return f"{n} open action{'s' if n != 1 else ''} carried over."
    if what == "status":
        raw = request.form.get("action", "")
        if not (raw.isascii() and raw.isdigit() and len(raw) < 12):
            raise Refusal("Choose an action from the list.")
        set_action_status(get_database(), assessment_id, int(raw), request.form.get("status", ""))
        return "Status updated."
    if what == "add":
        due = request.form.get("due_on", "").strip()
        try:
            due_on = date.fromisoformat(due) if due else None
        except ValueError:
            raise Refusal("Enter the due date as a real date, for example 2018-03-31.") from None
        add_action(
            get_database(),
            assessment_id,
            request.form.get("strand", "")[:40],
            request.form.get("text", ""),
            request.form.get("owner", ""),
            due_on,
            request.form.get("status", "planned"),
        )
        return "Action added."
    raise Refusal("Choose what to change.")
