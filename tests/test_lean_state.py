"""Lean broadcasts to phones: after each console action every phone is sent the `state` without
the framework's text (which it holds from its snapshot), and that, completed by strand key as
static/js/phone.js does, is exactly the full `state` a reconnecting phone gets, through a whole
workshop's actions (open, results, close, reveal, evidence, re-vote, next, end)."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import control, last, make_session, phone, received, screen, vote

STEPS: list[dict[str, Any]] = [
    {"action": "start"},
    {"action": "open", "strand": "family-experience"},
    {"action": "results", "show": True},
    {"action": "close", "strand": "family-experience"},
    {"action": "reveal", "strand": "family-experience", "reveal": True},
    {"action": "evidence", "strand": "family-experience", "show": True},
    {"action": "revote", "strand": "family-experience"},
    {"action": "next"},
    {"action": "open", "strand": "leadership"},
    {"action": "results", "show": False},
    {"action": "end"},
]


def with_framework_text(held: dict[str, Any], lean: dict[str, Any]) -> dict[str, Any]:
    """What phone.js does with a lean `state`: each strand's other fields from the one it holds."""
    had = {s["key"]: s for s in held["strands"]}
    completed = {k: v for k, v in lean.items() if k != "lean"}
    completed["strands"] = [{**had[s["key"]], **s} for s in lean["strands"]]
    return completed


def size(message: dict[str, Any]) -> int:
    return len(json.dumps(message, separators=(",", ":")))


def test_lean_states_rebuild_the_state_a_reconnecting_phone_gets(
    app: Flask, facilitator: FlaskClient, assessment_id: int
) -> None:
    session = make_session(app, assessment_id, collect_profile=True)
    console = screen(app, facilitator, "console", session.id)
    watcher = phone(app, session.join_code)
    messages = received(watcher)
    token = last(messages, "joined")["token"]
    held = last(messages, "state")
    assert "lean" not in held and held["strands"][0]["cells"]  # the snapshot is complete

    for step in STEPS:
        ack = control(console, **step)
        assert ack["ok"], (step, ack)
        if step == {"action": "open", "strand": "family-experience"}:
            assert vote(watcher, "family-experience", 2)["ok"]
        lean = last(received(watcher), "state")
        assert lean["lean"] is True, step
        assert all(set(s) == {"key", "status", "round", "desk", "counts"} for s in lean["strands"])

        again = phone(app, session.join_code, token)
        full = last(received(again), "state")
        again.disconnect()
        assert with_framework_text(held, lean) == full, step
        assert size(lean) * 5 < size(full), (size(lean), size(full))
        held = full
