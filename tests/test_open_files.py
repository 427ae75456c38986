"""The open-file limit: a server started under a low `ulimit -n` that it cannot raise says how
many phones it can hold, turns the extra phones away without exiting, and keeps counting the
phones it holds exactly; once some leave, new phones join again."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.servers import RunningServer, create_workshop, running_server, screen_client
from voting import openfiles

pytestmark = pytest.mark.server
LIMIT = 64  # soft and hard: the server cannot raise it
PHONES = 70  # more than the limit can hold


def _low_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


async def _join(server: RunningServer, code: str) -> socketio.AsyncClient | None:
    phone = socketio.AsyncClient(reconnection=False)
    try:
        await phone.connect(
            server.url,
            transports=["websocket"],
            wait_timeout=5,
            auth={"role": "phone", "code": code},
        )
    except socketio.exceptions.ConnectionError:
        await phone.disconnect()  # closes its HTTP session
        return None
    return phone


async def _until(check: Any, limit: float = 20.0) -> None:
    for _ in range(int(limit / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)


async def _crowd(server: RunningServer, http: requests.Session, session_id: int, code: str) -> None:
    tallies: list[dict[str, Any]] = []
    console = await screen_client(server, http, "console", session_id)
    presenter = await screen_client(
        server, http, "presenter", session_id, handlers={"tally": tallies.append}
    )
    # Phones arrive a few at a time, as in a room, until well past what the limit holds.
    joined: list[socketio.AsyncClient] = []
    turned_away = 0
    for first in range(0, PHONES, 5):
        batch = await asyncio.gather(*(_join(server, code) for _ in range(first, first + 5)))
        joined.extend(p for p in batch if p is not None)
        turned_away += sum(p is None for p in batch)
    assert turned_away > 0, "the limit should have turned some phones away"
    assert len(joined) > 10
    assert server.process.poll() is None, server.log()

    # Everyone it holds is still served and counted exactly.
    await _until(lambda: bool(tallies) and tallies[-1]["joined"] == len(joined))
    assert tallies[-1]["joined"] == len(joined)
    leaving = joined[:10]
    staying = joined[10:]
    for phone in leaving:
        await phone.disconnect()
    assert (await console.call("control", {"action": "open", "strand": "leadership"}))["ok"]
    acks = await asyncio.gather(
        *(
            p.call("vote", {"strand": "leadership", "level": 1 + i % 4}, timeout=20)
            for i, p in enumerate(staying)
        )
    )
    assert all(ack["ok"] for ack in acks), acks
    await _until(lambda: tallies[-1]["voted"].get("leadership") == len(staying))
    assert tallies[-1]["voted"]["leadership"] == len(staying)

    # With descriptors free again, a new phone joins.
    late = await _join(server, code)
    assert late is not None
    await _until(lambda: tallies[-1]["joined"] == len(joined) + 1)
    assert tallies[-1]["joined"] == len(joined) + 1
    for phone in [*staying, late, console, presenter]:
        await phone.disconnect()


def test_a_low_open_file_limit_turns_extra_phones_away_and_keeps_serving(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    with running_server(url, tmp_path, preexec_fn=_low_limit) as server:
        http = server.facilitator()
        session_id, code = create_workshop(server, http)
        asyncio.run(_crowd(server, http, session_id, code))
        assert server.process.poll() is None
        log = server.log()
    assert f"Open-file limit: {LIMIT}" in log
    assert f"about {openfiles.phones_allowed(LIMIT)} phones" in log
    assert "Out of open files" in log
    assert "Traceback" not in log, log
