"""WebSocket compression (permessage-deflate) is declined.

Chromium, and every current browser, offers `permessage-deflate; client_max_window_bits` when it
opens a WebSocket, and eventlet accepted it: each phone's connection then kept its own zlib
compressor (about 256 KB allocated for a 15-bit window at zlib's default memory level, and
eventlet offers no way to lower either) and decompressor for as long as it stayed open, and
every broadcast was compressed once per phone. With browser-like phones (benchmarks/phones.mjs,
200 phones) the server held 375 KB per phone with compression accepted and 203 KB without
(benchmarks/RESULTS.md), and compression saves no CPU: the app's messages are small apart from
the snapshot, and on a venue's Wi-Fi bytes are cheaper than the server's memory and CPU.

Declining is the client's ordinary fallback (RFC 7692: a server that does not answer the
offer has declined it), so every browser carries on uncompressed. Long-polling responses are
still gzipped by Engine.IO when they are large; they hold no state between requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app

OFFER = "HTTP_SEC_WEBSOCKET_EXTENSIONS"


def decline_websocket_compression(app: Flask) -> None:
    """Hide the client's extension offer from the WebSocket layer, which then answers none."""
    inner = app.wsgi_app

    def without_offer(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        environ.pop(OFFER, None)
        return inner(environ, start_response)

    # Flask documents wrapping wsgi_app this way; mypy sees it as assigning to a method.
    app.wsgi_app = without_offer  # type: ignore[method-assign]


# Flask-Compress keys its cache "<algorithm>;<our key>".
STATIC_KEY = ";static:"


class StaticOnlyCache:
    """Flask-Compress's cache, holding only the shipped static files' compressed bodies: every
    phone fetches the same scripts and styles on joining, and compressing them again for each
    (about 7 ms of CPU per phone for the voting page's) was the largest part of a join's cost
    that a bare Socket.IO server does not pay. Pages are never cached: they differ per request
    (CSRF tokens, session state). Bounded by the static folder's size per algorithm."""

    def __init__(self) -> None:
        self._bodies: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self._bodies.get(key) if STATIC_KEY in key else None

    def set(self, key: str, value: bytes) -> None:
        if STATIC_KEY in key:
            self._bodies[key] = value


def static_cache_key(request: Any) -> str:
    """`static:<path>:<mtime>` for a shipped static file (a changed file gets a new key), and
    nothing that StaticOnlyCache keeps for anything else."""
    if request.endpoint != "static":
        return ""
    path = Path(current_app.static_folder or "", request.view_args.get("filename", ""))
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return ""
    return f"static:{request.path}:{mtime}"


def cache_compressed_static_files(app: Flask) -> None:
    """Static files go out as whole bodies rather than streamed from disk, so that
    Flask-Compress compresses each once (COMPRESS_CACHE_*) instead of on every request."""
    serve: Callable[..., Response] = app.view_functions["static"]  # type: ignore[assignment]

    def static(**kwargs: Any) -> Response:
        response = serve(**kwargs)
        if response.direct_passthrough and response.status_code == 200:
            response.direct_passthrough = False
            body = response.get_data()
            response.close()  # the file it was read from
            response.set_data(body)
        return response

    app.view_functions["static"] = static
