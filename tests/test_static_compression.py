"""The shipped scripts and styles are compressed once and answered from memory, in front of
Flask (voting/live/staticfiles.py); pages are compressed per request and never cached, since
each carries its own CSRF token. These tests speak HTTP to the real server process, as a
phone does, and through Flask's test client."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import brotli
import pytest
import requests
from flask import Flask

from tests.apps import close_app, ready_app
from tests.servers import running_server
from voting.app import SECURITY_HEADERS
from voting.live.staticfiles import StaticFiles, accepted_encodings


def _layer(app: Flask) -> StaticFiles:
    layer = app.wsgi_app
    while not isinstance(layer, StaticFiles):
        layer = getattr(layer, "app", None) or getattr(layer, "wsgi_app", None)
        assert layer is not None, "no StaticFiles layer in front of the app"
    return layer


def test_a_static_file_is_compressed_once_and_served_whole(app: Flask) -> None:
    client = app.test_client()
    shipped = Path(app.static_folder or "", "js", "phone.js").read_bytes()
    first = client.get("/static/js/phone.js", headers={"Accept-Encoding": "gzip, deflate"})
    second = client.get("/static/js/phone.js", headers={"Accept-Encoding": "gzip, deflate"})
    assert first.status_code == second.status_code == 200
    assert first.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(first.data) == shipped
    assert second.data == first.data
    assert int(first.headers["Content-Length"]) == len(first.data) < len(shipped) // 2
    assert first.headers["Vary"] == "Accept-Encoding"
    assert first.headers["Content-Type"] == "text/javascript; charset=utf-8"
    # Kept once, by path, with every variant made when it was first read.
    kept = [k for k in _layer(app)._files if k.endswith(os.path.join("js", "phone.js"))]
    assert len(kept) == 1
    # A browser over HTTPS asks for Brotli too, and gets it; one that takes nothing compressed
    # gets the file itself.
    squeezed = client.get("/static/js/phone.js", headers={"Accept-Encoding": "gzip, br, zstd"})
    assert squeezed.headers["Content-Encoding"] == "br"
    assert brotli.decompress(squeezed.data) == shipped
    plain = client.get("/static/js/phone.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.data == shipped
    refused = client.get("/static/js/phone.js", headers={"Accept-Encoding": "br;q=0, gzip"})
    assert refused.headers["Content-Encoding"] == "gzip"
    # Each representation has its own ETag, and revalidation answers 304 without a body.
    assert len({first.headers["ETag"], squeezed.headers["ETag"], plain.headers["ETag"]}) == 3
    again = client.get(
        "/static/js/phone.js",
        headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304 and again.data == b""
    stale = client.get(
        "/static/js/phone.js", headers={"Accept-Encoding": "gzip", "If-None-Match": '"old"'}
    )
    assert stale.status_code == 200 and stale.data == first.data
    head = client.head("/static/js/phone.js", headers={"Accept-Encoding": "gzip"})
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == first.headers["Content-Length"]


def test_static_answers_carry_the_security_headers_and_no_cookie(app: Flask) -> None:
    response = app.test_client().get("/static/css/app.css")
    assert response.status_code == 200
    for name, value in SECURITY_HEADERS:
        assert response.headers[name] == value
    assert response.headers["Cache-Control"] == "no-cache"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/static/js/nothing-here.js",
        "/static/../voting/app.py",
        "/static/%2e%2e/setup.cfg",
        "/static/js",
        "/static/",
    ],
)
def test_a_path_that_names_no_shipped_file_gets_flasks_404(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    assert response.status_code == 404
    assert b"Page not found" in response.data or b"not found" in response.data.lower()


def test_other_methods_go_to_flask(app: Flask) -> None:
    response = app.test_client().post("/static/js/phone.js")
    assert response.status_code in (400, 405)


def test_pages_are_never_served_from_memory(app: Flask) -> None:
    # Two visitors: each gets a session and a CSRF token of its own.
    one = app.test_client().get("/login", headers={"Accept-Encoding": "gzip"})
    two = app.test_client().get("/login", headers={"Accept-Encoding": "gzip"})
    assert one.headers["Content-Encoding"] == two.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(one.data) != gzip.decompress(two.data)  # each its own CSRF token
    assert all(Path(key).is_relative_to(app.static_folder or "") for key in _layer(app)._files)


def test_a_changed_static_file_is_read_again(settings: dict[str, object], tmp_path: Path) -> None:
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
        assert before.headers["ETag"] != after.headers["ETag"]
    finally:
        close_app(application)


def test_accepted_encodings_reads_quality_values() -> None:
    assert accepted_encodings("gzip, deflate, br, zstd") == {"gzip", "deflate", "br", "zstd"}
    assert accepted_encodings("br;q=0, gzip;q=0.5, *;q=0") == {"gzip"}
    assert accepted_encodings("gzip;q=nonsense, br") == {"br"}
    assert accepted_encodings("") == set()


def test_the_real_server_answers_a_phones_file_requests(tmp_path: Path) -> None:
    """What a phone's browser sees from `voting serve`: the join page's own files, compressed,
    revalidated with a 304, and a 404 for a file that is not there."""
    with running_server(f"sqlite:///{tmp_path / 'v.sqlite3'}", tmp_path) as server:
        http = requests.Session()
        page = http.get(f"{server.url}/static/js/phone.js", timeout=10)
        assert page.status_code == 200
        assert page.headers["Content-Encoding"] in ("gzip", "br")
        shipped = (Path(__file__).parent.parent / "static" / "js" / "phone.js").read_bytes()
        assert page.content == shipped  # requests undoes the gzip
        again = http.get(
            f"{server.url}/static/js/phone.js",
            headers={"If-None-Match": page.headers["ETag"]},
            timeout=10,
        )
        assert again.status_code == 304
        missing = http.get(f"{server.url}/static/js/none.js", timeout=10)
        assert missing.status_code == 404 and "text/html" in missing.headers["Content-Type"]
