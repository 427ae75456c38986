"""A file to download: the body, its type, and the name the browser saves it under."""

from __future__ import annotations

from flask import Response


def download(body: str | bytes, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
