"""The participant's pages: join by code, the voting page, and the QR code."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from sqlalchemy import bindparam, select

from voting.access.ratelimit import TOO_MANY_ATTEMPTS, limits
from voting.database import get_database
from voting.live.qrcodes import join_url, qr_svg
from voting.live.votes import find_session_by_code, normalise_code
from voting.models import VotingSession

bp = Blueprint("participate", __name__)

# The voting page needs only these two columns: every phone loads it on joining.
_NAME_BY_CODE = select(VotingSession.name, VotingSession.join_code).where(
    VotingSession.join_code == bindparam("code")
)


@bp.route("/")
def join_page() -> str:
    return render_template("join.html", code="", error=None)


@bp.route("/join")
def join() -> Any:
    code = request.args.get("code", "")[:40]
    if not normalise_code(code):
        return render_template(
            "join.html", code=code, error="Enter the code shown on the screen."
        ), 400
    with get_database().read() as db:
        session = find_session_by_code(db, code)
    if session is None:
        error = "There is no session with that code. Check the code on the screen and try again."
        return render_template("join.html", code=code, error=error), 404
    return redirect(url_for("participate.vote_page", code=session.join_code))


@bp.route("/s/<code>")
def vote_page(code: str) -> Any:
    with get_database().read() as db:
        found = db.execute(_NAME_BY_CODE, {"code": normalise_code(code[:40])}).first()
    name, canonical = found if found is not None else (None, None)
    if canonical is None:
        error = "There is no session with that code. Check the code on the screen and try again."
        return render_template("join.html", code=code[:40], error=error), 404
    if canonical != code:
        return redirect(url_for("participate.vote_page", code=canonical))
    return render_template("vote.html", code=canonical, session_name=name)


@bp.route("/qr/<code>.svg")
def qr(code: str) -> Response:
    with get_database().read() as db:
        session = find_session_by_code(db, code[:40])
    if session is None:
        abort(404)
    response = Response(qr_svg(join_url(session.join_code)), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    return response


# Every page that answers whether a code exists: a miss counts against the client's address, so
# that codes cannot be found by trying them (see voting/ratelimit.py).
_LOOKUPS = ("participate.join", "participate.vote_page", "participate.qr")


@bp.before_request
def _refuse_guessers() -> Any:
    if request.endpoint in _LOOKUPS and limits().join.blocked(limits().address_key()):
        code = (request.args.get("code") or (request.view_args or {}).get("code") or "")[:40]
        return render_template("join.html", code=code, error=TOO_MANY_ATTEMPTS), 429
    return None


@bp.after_request
def _count_misses(response: Response) -> Response:
    if request.endpoint in _LOOKUPS and response.status_code == 404:
        limits().join.take(limits().address_key())
    return response
