"""Facilitator login, CSRF protection for forms, and the app's generated secrets."""

from __future__ import annotations

import functools
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from blinker import Namespace
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.security import check_password_hash, generate_password_hash

from voting.access import accounts, logins
from voting.access.ratelimit import TOO_MANY_ATTEMPTS, limits
from voting.database import get_database
from voting.models import AppSetting

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])
PASSPHRASE_KEY = "facilitator_passphrase_hash"
SECRET_KEY_KEY = "secret_key"
CSRF_FIELD = "csrf_token"


# Sent with `login_id=` when a facilitator logs out, so that the live loop (a layer above)
# can close the screens opened under that login without this module importing it.
login_ended = Namespace().signal("login-ended")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_check_csrf)
    app.after_request(_no_store_for_facilitators)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["is_facilitator"] = is_facilitator


def load_secrets(app: Flask) -> None:
    """The cookie-signing key and the facilitator passphrase kept in the database, made the
    first time if the environment sets neither (start-up work: needs the migrated schema)."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _stored_or_new(app, SECRET_KEY_KEY, secrets.token_hex(32))
    if not app.config.get("FACILITATOR_PASSPHRASE"):
        _ensure_generated_passphrase(app)


def _stored_or_new(app: Flask, key: str, candidate: str) -> str:
    """The value stored under `key`, storing `candidate` first if there is none. Several workers
    starting at once agree, because the loser of the insert reads the winner's value."""
    database = get_database(app)
    with database.read() as db:
        found = db.get(AppSetting, key)
        if found is not None:
            return found.value
    try:
        with database.write() as db:
            db.add(AppSetting(key=key, value=candidate))
        return candidate
    except IntegrityError:
        with database.read() as db:
            return db.get(AppSetting, key).value  # type: ignore[union-attr]


def new_passphrase() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def _ensure_generated_passphrase(app: Flask) -> None:
    passphrase = new_passphrase()
    stored = _stored_or_new(app, PASSPHRASE_KEY, generate_password_hash(passphrase))
    if check_password_hash(stored, passphrase):
        # Shown once, by the server at start-up; only its hash is kept.
        app.config["GENERATED_PASSPHRASE"] = passphrase


def set_passphrase(app: Flask, passphrase: str) -> None:
    """A new passphrase for the main account; every login made with the old one ends."""
    with get_database(app).write() as db:
        row = db.get(AppSetting, PASSPHRASE_KEY)
        if row is None:
            db.add(AppSetting(key=PASSPHRASE_KEY, value=generate_password_hash(passphrase)))
        else:
            row.value = generate_password_hash(passphrase)
    logins.end_all(get_database(app), main_account_only=True)


def passphrase_matches(candidate: str) -> bool:
    configured = current_app.config.get("FACILITATOR_PASSPHRASE")
    if configured:
        return hmac.compare_digest(candidate.encode("utf-8"), configured.encode("utf-8"))
    with get_database().read() as db:
        stored = db.get(AppSetting, PASSPHRASE_KEY)
    return stored is not None and check_password_hash(stored.value, candidate)


def is_facilitator() -> bool:
    """A facilitator's cookie whose login is still on (see `logins`); checked once per request
    or Socket.IO event."""
    if not session.get("facilitator"):
        return False
    if "voting_login_live" not in g:
        token = session.get("login_id")
        try:
            g.voting_login_live = isinstance(token, str) and logins.is_live(
                get_database(), token, login_idle_timeout()
            )
        except OperationalError:
            # The database is away: no facilitator page can be served anyway, and the error
            # page must still render (it asks whether to show the facilitator's links).
            g.voting_login_live = False
            raise
    return bool(g.voting_login_live)


def login_idle_timeout(app: Flask | None = None) -> timedelta:
    return timedelta(minutes=float((app or current_app).config["LOGIN_IDLE_MINUTES"]))


def login_id() -> str | None:
    return session.get("login_id")


def may_run_session(session_id: int) -> bool:
    """The session exists and belongs to the logged-in account."""
    return accounts.owns_session(get_database(), session_id)


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_facilitator():
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.routing_exception is not None:
        return  # no such page, or not that method: a 404 or 405 says so better than a 400
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    expected = session.get(CSRF_FIELD) or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="This form has expired. Go back, reload the page and try again.")


# Pages that show desk evidence, profiles and downloads, and the login pages themselves: a shared
# computer's browser must not keep them for the next person.
_PRIVATE_PATHS = ("/facilitator", "/login", "/logout")


def _no_store_for_facilitators(response: Any) -> Any:
    if request.path.startswith(_PRIVATE_PATHS):
        response.headers["Cache-Control"] = "no-store"
    return response


# A path on this site, optionally with a query: printable URL characters only. Browsers drop tabs
# and newlines and read a backslash as a slash, so "/\t/evil.example" or "/\\evil.example" would
# otherwise leave the site.
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an open redirect would let a link log someone in and send them on.
    if target and _LOCAL_PATH.fullmatch(target):
        return target
    return url_for("facilitate.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        guesses, address = limits().login, limits().address_key()
        if guesses.blocked(address):
            # Refused before the passphrase is even compared, so a guess cannot be confirmed.
            error = TOO_MANY_ATTEMPTS
            return render_template(
                "login.html", error=error, next=request.values.get("next", "")
            ), 429
        candidate = request.form.get("passphrase", "")
        name = request.form.get("account", "").strip().lower()[:60]
        account_id = None
        if len(candidate) > 200:
            admitted = False
        elif name:
            account_id = accounts.verify(get_database(), name, candidate)
            admitted = account_id is not None
        else:
            admitted = passphrase_matches(candidate)
        if admitted:
            session.clear()
            session["facilitator"] = True
            session[accounts.ACCOUNT_KEY] = account_id
            session["login_id"] = logins.start(get_database(), account_id)
            session.permanent = True
            return redirect(_safe_next(request.form.get("next")))
        guesses.take(address)
        error = "That account name or passphrase is not right. Check them and try again."
    status = 401 if error else 200
    return render_template("login.html", error=error, next=request.values.get("next", "")), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    ended = session.get("login_id")
    session.clear()
    if ended:
        logins.end(get_database(), ended)
        # The app itself, not the proxy, is the sender receivers are connected for; Flask
        # documents _get_current_object for this but does not type it on current_app.
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        login_ended.send(app, login_id=ended)
    flash("You have logged out.")
    return redirect(url_for("auth.login"))
