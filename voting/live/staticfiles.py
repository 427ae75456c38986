"""The shipped scripts, styles and images, served from memory in front of Flask.

Every phone fetches the same six files on joining. Through Flask each cost a request context,
the session cookie's check, routing, `send_file` reading the file and Flask-Compress's cache:
about as much CPU as the join's Socket.IO handshake, and a join's largest cost that a plain
static server does not pay. Here each file is read and compressed (Brotli and gzip) once, kept
with its validators, and answered without Flask; a changed file (by its modification time) is
read again. A path that names no file falls through to Flask, whose 404 page it gets.

The answers carry what Flask's static route sent: `Cache-Control: no-cache` with an ETag, so a
phone revalidates (a 304, no body) rather than keeping an old script after an upgrade, and the
security headers every response of the app carries.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from stat import S_ISREG
from typing import Any

import brotli
from werkzeug.http import parse_accept_header, parse_etags, quote_etag, unquote_etag
from werkzeug.security import safe_join
from werkzeug.utils import get_content_type

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Flask-Compress's own threshold: smaller bodies gain nothing from compression.
MIN_COMPRESS_SIZE = 500
# What is worth compressing among the static folder's types (fonts and PNGs are compressed
# already).
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")


@dataclass(frozen=True)
class Variant:
    body: bytes
    etag: str
    encoding: str | None


@dataclass
class StaticFile:
    mtime_ns: int
    content_type: str
    last_modified: str
    variants: dict[str, Variant] = field(default_factory=dict)


def _etag(body: bytes, encoding: str | None) -> str:
    """A strong ETag, quoted, of one representation (each encoding its own)."""
    digest = hashlib.sha1(body, usedforsecurity=False).hexdigest()[:20]
    return quote_etag(f"{digest}-{encoding}" if encoding else digest)


def read_static_file(path: Path, mtime_ns: int) -> StaticFile:
    """The file's identity body and, for text types worth it, its Brotli and gzip bodies."""
    body = path.read_bytes()
    # As Flask's static route labels them (a charset on text, scripts and XML such as SVG).
    content_type = get_content_type(
        mimetypes.guess_type(path.name)[0] or "application/octet-stream", "utf-8"
    )
    found = StaticFile(
        mtime_ns=mtime_ns,
        content_type=content_type,
        last_modified=formatdate(mtime_ns / 1e9, usegmt=True),
    )
    found.variants["identity"] = Variant(body, _etag(body, None), None)
    if len(body) >= MIN_COMPRESS_SIZE and content_type.startswith(COMPRESSIBLE):
        for name, squeezed in (
            ("br", brotli.compress(body, quality=11)),
            ("gzip", gzip.compress(body, compresslevel=9, mtime=0)),
        ):
            if len(squeezed) < len(body):
                found.variants[name] = Variant(squeezed, _etag(body, name), name)
    return found


def accepted_encodings(header: str) -> set[str]:
    """The content codings an Accept-Encoding header allows (q=0 refuses one)."""
    return {name.lower() for name, quality in parse_accept_header(header) if quality > 0}


def choose_variant(found: StaticFile, accept_encoding: str) -> Variant:
    allowed = accepted_encodings(accept_encoding)
    for name in ("br", "gzip"):
        if name in found.variants and (name in allowed or "*" in allowed):
            return found.variants[name]
    return found.variants["identity"]


class StaticFiles:
    """WSGI middleware: GET and HEAD under `prefix` answered from memory (see the module's
    docstring); everything else goes to `app`."""

    def __init__(
        self,
        app: WSGIApp,
        folder: Callable[[], str],
        headers: list[tuple[str, str]],
        prefix: str = "/static/",
    ) -> None:
        self.app = app
        self.folder = folder  # read per request: tests point an app at a copy of the folder
        self.prefix = prefix
        self.headers = headers
        self._files: dict[str, StaticFile] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        if not path.startswith(self.prefix) or method not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        found = self.lookup(path[len(self.prefix) :])
        if found is None:
            return self.app(environ, start_response)
        variant = choose_variant(found, environ.get("HTTP_ACCEPT_ENCODING", ""))
        headers = [
            ("Content-Type", found.content_type),
            ("ETag", variant.etag),
            ("Last-Modified", found.last_modified),
            ("Cache-Control", "no-cache"),
            ("Vary", "Accept-Encoding"),
            *self.headers,
        ]
        if variant.encoding:
            headers.append(("Content-Encoding", variant.encoding))
        wanted = parse_etags(environ.get("HTTP_IF_NONE_MATCH"))
        if wanted.contains_weak(unquote_etag(variant.etag)[0]):
            start_response("304 Not Modified", headers)
            return []
        headers.append(("Content-Length", str(len(variant.body))))
        start_response("200 OK", headers)
        return [] if method == "HEAD" else [variant.body]

    def lookup(self, name: str) -> StaticFile | None:
        """The file at `name` under the folder, read again if it changed; None if none."""
        joined = safe_join(self.folder(), name)
        if joined is None:
            return None
        path = Path(joined)
        try:
            status = path.stat()
        except (OSError, ValueError):
            return None
        if not S_ISREG(status.st_mode):
            return None
        found = self._files.get(joined)
        if found is not None and found.mtime_ns == status.st_mtime_ns:
            return found
        try:
            fresh = read_static_file(path, status.st_mtime_ns)
        except OSError:
            return None
        with self._lock:
            self._files[joined] = fresh
        return fresh
