"""The shipped scripts and styles are compressed once and served from memory to every phone
that follows (Flask-Compress's cache, restricted to static files); pages are compressed per
request and never cached, since each carries its own CSRF token."""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from pathlib import Path

from flask import Flask

from tests.apps import close_app, ready_app
from voting.live.compression import StaticOnlyCache


def _cache(app: Flask) -> StaticOnlyCache:
    for handler in app.after_request_funcs[None]:
        cache = getattr(getattr(handler, "__self__", None), "cache", None)
        if isinstance(cache, StaticOnlyCache):
            return cache
    raise AssertionError("Flask-Compress has no StaticOnlyCache")


def test_a_static_file_is_compressed_once_and_served_whole(app: Flask) -> None:
    client = app.test_client()
    shipped = Path(app.static_folder or "", "js", "phone.js").read_bytes()
    first = client.get("/static/js/phone.js", headers={"Accept-Encoding": "gzip, deflate"})
    second = client.get("/static/js/phone.js", headers={"Accept-Encoding": "gzip, deflate"})
    assert first.status_code == second.status_code == 200
    # Whole bodies (not streamed) may use gzip, which Flask-Compress never streams.
    assert first.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(first.data) == shipped
    assert second.data == first.data
    assert int(first.headers["Content-Length"]) == len(first.data) < len(shipped) // 2
    kept = [k for k in _cache(app)._bodies if k.startswith("gzip;static:/static/js/phone.js:")]
    assert len(kept) == 1
    # A client that asks for deflate only gets deflate, cached under its own key.
    deflated = client.get("/static/js/phone.js", headers={"Accept-Encoding": "deflate"})
    assert deflated.headers["Content-Encoding"] == "deflate"
    assert zlib.decompress(deflated.data) == shipped
    # Revalidation still works on the compressed body's ETag.
    etag = first.headers["ETag"]
    again = client.get(
        "/static/js/phone.js", headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.data == b""


def test_pages_are_never_served_from_the_cache(app: Flask) -> None:
    # Two visitors: each gets a session and a CSRF token of its own.
    one = app.test_client().get("/login", headers={"Accept-Encoding": "gzip"})
    two = app.test_client().get("/login", headers={"Accept-Encoding": "gzip"})
    assert one.headers["Content-Encoding"] == two.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(one.data) != gzip.decompress(two.data)  # each its own CSRF token
    assert all(";static:" in key for key in _cache(app)._bodies)


def test_a_changed_static_file_is_compressed_again(
    settings: dict[str, object], tmp_path: Path
) -> None:
    from voting import app as app_module

    folder = tmp_path / "static"
    shutil.copytree(app_module.shipped_folder("static"), folder)
    application = ready_app(settings)
    application.static_folder = str(folder)
    try:
        client = application.test_client()
        before = client.get("/static/js/live.js", headers={"Accept-Encoding": "gzip"})
        script = folder / "js" / "live.js"
        script.write_bytes(script.read_bytes() + b"\n// changed\n")
        stat = script.stat()
        os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        after = client.get("/static/js/live.js", headers={"Accept-Encoding": "gzip"})
        assert gzip.decompress(after.data).endswith(b"// changed\n")
        assert gzip.decompress(before.data) != gzip.decompress(after.data)
    finally:
        close_app(application)
