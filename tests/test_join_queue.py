"""Phones joining all at once (a restart with the room connected) take turns at the database:
a join waits for a turn rather than failing, and only one that waits JOIN_QUEUE_SECONDS is
refused with `retry`, as a join the database could not finish is."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask

from tests.apps import close_app, ready_app
from tests.helpers import phone
from voting.models import VotingSession


def _join_in_background(app: Flask, code: str) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def join() -> None:
        started = time.monotonic()
        client = phone(app, code)
        outcome["seconds"] = time.monotonic() - started
        outcome["connected"] = client.is_connected()
        received = client.get_received() if client.is_connected() else []
        outcome["events"] = [m["name"] for m in received]

    thread = threading.Thread(target=join)
    thread.start()
    return thread, outcome


def test_a_join_waits_for_its_turn_and_then_joins(app: Flask, live_session: VotingSession) -> None:
    gate = app.extensions["voting_join_gate"]
    held = [gate.acquire(blocking=False) for _ in range(app.config["JOINS_IN_FLIGHT"])]
    assert all(held) and not gate.acquire(blocking=False)  # every turn is taken
    thread, outcome = _join_in_background(app, live_session.join_code)
    time.sleep(0.5)
    assert thread.is_alive(), "the join did not wait for a turn"
    for _ in held:
        gate.release()
    thread.join(timeout=10)
    assert outcome["connected"] and "joined" in outcome["events"], outcome
    assert outcome["seconds"] >= 0.45
    # The turn was given back: every one is free again.
    taken = [gate.acquire(blocking=False) for _ in range(app.config["JOINS_IN_FLIGHT"])]
    assert all(taken)
    for _ in taken:
        gate.release()


def test_a_join_that_waits_too_long_is_refused_with_retry(
    settings: dict[str, Any], live_session: VotingSession, caplog: pytest.LogCaptureFixture
) -> None:
    app = ready_app({**settings, "JOINS_IN_FLIGHT": 1, "JOIN_QUEUE_SECONDS": 0.3})
    try:
        gate = app.extensions["voting_join_gate"]
        assert gate.acquire(blocking=False)
        started = time.monotonic()
        client = phone(app, live_session.join_code)
        waited = time.monotonic() - started
        gate.release()
        assert not client.is_connected()
        assert 0.3 <= waited < 5
        # Refused the way a join the database could not finish is: with `retry` (SERVER_BUSY).
        assert "connect failed; the client is told to retry" in caplog.text
        assert "no turn to join within JOIN_QUEUE_SECONDS" in caplog.text
        later = phone(app, live_session.join_code)  # with its turn free, it joins
        assert later.is_connected()
        later.disconnect()
    finally:
        close_app(app)
