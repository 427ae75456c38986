"""Configuration read from `VOTING_*` environment variables."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


def shipped_folder(name: str) -> Path:
    """`templates` or `static`: inside the package when installed from a wheel (the build
    copies them there), else the checkout's top-level folder (an editable install)."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


def default_instance_dir() -> Path:
    """`sessions/` under the directory the server is started from: instance data never lands
    inside the installed package."""
    return Path.cwd() / "sessions"


ASYNC_MODES = ("threading", "eventlet", "gevent")


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"VOTING_{name}")
    return value if value not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"VOTING_{name} must be a number, not {raw!r}") from exc


class Config:
    """Defaults, each overridable by `VOTING_<NAME>` in the environment."""

    def __init__(self) -> None:
        self.INSTANCE_DIR: str = str(Path(_env("INSTANCE_DIR") or default_instance_dir()).resolve())
        self.DATABASE_URL: str = _env("DATABASE_URL") or (
            f"sqlite:///{Path(self.INSTANCE_DIR) / 'voting.sqlite3'}"
        )
        # Flask signs the facilitator's session cookie with this; without one set, a random key
        # is generated and kept in the database so logins survive a restart.
        self.SECRET_KEY: str | None = _env("SECRET_KEY")
        self.PUBLIC_URL: str | None = (_env("PUBLIC_URL") or "").rstrip("/") or None
        self.FACILITATOR_PASSPHRASE: str | None = _env("FACILITATOR_PASSPHRASE")
        # The server entry point defaults to eventlet; everything else (tests, the other commands)
        # runs threading so that an installed eventlet is never picked up by accident.
        self.ASYNC_MODE: str = _env("ASYNC_MODE", "threading") or "threading"
        self.MESSAGE_QUEUE: str | None = _env("MESSAGE_QUEUE")
        # Workers sharing one queue must share one channel; a second deployment (or a test run)
        # on the same Redis picks its own so their broadcasts never mix.
        self.MESSAGE_QUEUE_CHANNEL: str = (
            _env("MESSAGE_QUEUE_CHANNEL", "flask-socketio") or "flask-socketio"
        )
        # Prefixed to every Engine.IO session id this process makes, so that a proxy can send a
        # session's later requests back to it by the id alone (deploy/nginx.conf), whatever the
        # client's address. `voting serve` uses its port when this is unset; letters and digits.
        self.WORKER_ID: str | None = _env("WORKER_ID")
        # Seconds between live tally broadcasts per session; 0 sends one after every vote.
        self.TALLY_INTERVAL: float = _env_float("TALLY_INTERVAL", 0.1)
        # Groups smaller than this are shown as "fewer than N" and never broken down.
        self.MIN_GROUP_SIZE: int = int(_env_float("MIN_GROUP_SIZE", 5))
        # Rate limits per process (voting/ratelimit.py); 0 turns one off. Wrong passphrases and
        # unknown join codes per client address, and events per phone or screen.
        self.LOGIN_ATTEMPTS_PER_MINUTE: float = _env_float("LOGIN_ATTEMPTS_PER_MINUTE", 10)
        self.JOIN_ATTEMPTS_PER_MINUTE: float = _env_float("JOIN_ATTEMPTS_PER_MINUTE", 20)
        self.EVENT_BURST: float = _env_float("EVENT_BURST", 20)
        self.EVENTS_PER_SECOND: float = _env_float("EVENTS_PER_SECOND", 10)
        # Behind a reverse proxy every request comes from the proxy's address: set this to the
        # number of proxies in front, so that X-Forwarded-For gives the client's (for the limits).
        self.PROXY_COUNT: int = int(_env_float("PROXY_COUNT", 0))
        # What one client address may hold (voting serve; counted in memory, never stored). A
        # venue's Wi-Fi may put a whole room behind one address, hence generous defaults.
        self.CONNECTIONS_PER_ADDRESS: int = int(_env_float("CONNECTIONS_PER_ADDRESS", 1000))
        self.PHONES_PER_ADDRESS: int = int(_env_float("PHONES_PER_ADDRESS", 500))
        # Seconds: a connection waiting for its next request (keep-alive) or its first byte;
        # to send a request's line and headers; for each read or write of a body; and for an
        # Engine.IO session to send its Socket.IO CONNECT.
        self.IDLE_TIMEOUT: float = _env_float("IDLE_TIMEOUT", 10)
        self.HEADER_TIMEOUT: float = _env_float("HEADER_TIMEOUT", 10)
        self.BODY_TIMEOUT: float = _env_float("BODY_TIMEOUT", 10)
        self.CONNECT_TIMEOUT: float = _env_float("CONNECT_TIMEOUT", 10)
        # A `sync` sends the screen its snapshot at most once per this many seconds; more
        # often, the next snapshot is sent when the interval is up.
        self.SYNC_INTERVAL: float = _env_float("SYNC_INTERVAL", 2)
        # Seconds the database may take to connect, to run a statement, or to grant a lock,
        # before the phone is told it cannot be reached.
        self.DATABASE_TIMEOUT: float = _env_float("DATABASE_TIMEOUT", 2)
        # A facilitator login not used for this long ends (server-side logins, voting/access).
        self.LOGIN_IDLE_MINUTES: float = _env_float("LOGIN_IDLE_MINUTES", 720)
        self.MAX_COMMENT_LENGTH: int = 500
        self.MAX_HTTP_BUFFER_SIZE: int = 64 * 1024
        self.MAX_CONTENT_LENGTH: int = 2 * 1024 * 1024
        self.FRAMEWORK_DIRS: list[str] = [
            p for p in (_env("FRAMEWORK_DIR") or "").split(os.pathsep) if p
        ]
        self.SESSION_COOKIE_HTTPONLY: bool = True
        self.SESSION_COOKIE_SAMESITE: str = "Lax"
        self.SESSION_COOKIE_SECURE: bool = bool(
            self.PUBLIC_URL and self.PUBLIC_URL.startswith("https://")
        )
        self.TESTING: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.isupper()}

    @staticmethod
    def validate(settings: dict[str, Any]) -> None:
        worker = settings.get("WORKER_ID")
        if worker is not None and not re.fullmatch(r"[A-Za-z0-9]{1,16}", str(worker)):
            raise ValueError(f"VOTING_WORKER_ID must be 1 to 16 letters or digits, not {worker!r}")
        mode = settings.get("ASYNC_MODE")
        if mode not in ASYNC_MODES:
            raise ValueError(
                f"VOTING_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, not {mode!r}"
            )
