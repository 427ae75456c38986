"""An error that escapes Flask (seen with a template missing from an install) is answered with
eventlet's plain 500, never with the traceback as the response body (issue #15)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from tests.servers import running_server

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc")


def _package_without_the_error_page(target: Path) -> Path:
    """A copy of the package laid out as a wheel installs it, with error.html missing, so that
    rendering any error page raises inside Flask's own error handling."""
    package = target / "voting"
    shutil.copytree(ROOT / "voting", package, ignore=LEFT_OUT)
    shutil.copytree(ROOT / "templates", package / "templates", ignore=LEFT_OUT)
    shutil.copytree(ROOT / "static", package / "static", ignore=LEFT_OUT)
    (package / "templates" / "error.html").unlink()
    return target


def test_an_error_escaping_flask_sends_no_traceback(tmp_path: Path) -> None:
    broken = _package_without_the_error_page(tmp_path / "broken")
    with running_server(
        f"sqlite:///{tmp_path / 'voting.sqlite3'}", tmp_path, cwd=broken, PYTHONPATH=str(broken)
    ) as server:
        response = requests.get(f"{server.url}/no-such-page", timeout=10)
        log = server.log()
    # The copy was served (a 404 page that cannot render becomes a 500) ...
    assert response.status_code == 500, response.text[:500]
    assert "error.html" in log  # ... and the server logged why, for its operator.
    body = response.text
    for leak in ("Traceback", "TemplateNotFound", 'File "', "jinja2", str(broken)):
        assert leak not in body, body[:1000]
