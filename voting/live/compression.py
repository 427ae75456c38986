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
from typing import Any

from flask import Flask

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
