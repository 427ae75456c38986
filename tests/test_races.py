"""Races, against the real eventlet server with real sockets.

The rules (docs/security.md, "Races"):
- A vote and a close of its strand: each vote is either counted in the strand before it closed
  or refused with a clear message, never half-applied. So the votes stored are exactly the votes
  acknowledged `ok`.
- Two consoles acting at once: actions are applied one at a time in the database; each gets an
  answer that matches what was done (the second "open" of a strand is told it is already open),
  and every screen ends with the same state.
- One participant voting from two tabs: one row, the last vote committed wins, every change is in
  the history (tests/test_live_workshop.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import socketio
from sqlalchemy import func, select

from tests.servers import (
    RunningServer,
    create_workshop,
    phone_clients,
    running_server,
    screen_client,
)
from tests.services import fresh_schema, postgres_url
from voting.database import Database
from voting.models import StrandState, Vote, VoteHistory

pytestmark = pytest.mark.server
PHONES = 60


async def _close_while_voting(
    server: RunningServer, http: Any, session_id: int, code: str, url: str
) -> tuple[list[dict[str, Any]], int]:
    """The phones' acknowledgements, and the votes stored when the close was acknowledged."""
    console = await screen_client(server, http, "console", session_id)
    assert (await console.call("control", {"action": "open", "strand": "culture"}))["ok"]
    phones = await phone_clients(server, code, PHONES)

    async def vote(i: int, p: socketio.AsyncClient) -> dict[str, Any]:
        await asyncio.sleep(0.002 * i)  # spread the votes across the close
        return await p.call("vote", {"strand": "culture", "level": 1 + i % 4}, timeout=30)

    async def close_midway() -> int:
        await asyncio.sleep(0.002 * PHONES / 2)
        closed = await console.call("control", {"action": "close", "strand": "culture"}, timeout=30)
        assert closed["ok"], closed
        return _count(url, select(func.count()).select_from(Vote))

    *acks, stored_at_close = await asyncio.gather(
        *(vote(i, p) for i, p in enumerate(phones)), close_midway()
    )
    await asyncio.gather(*(p.disconnect() for p in phones))
    await console.disconnect()
    return acks, stored_at_close


def _count(url: str, query: Any) -> int:
    database = Database(url)
    try:
        with database.read() as db:
            return db.scalar(query) or 0
    finally:
        database.dispose()


@contextmanager
def _database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    else:
        with fresh_schema(postgres_url()) as url:
            yield url


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_votes_racing_a_close_are_counted_or_refused_never_half_applied(
    tmp_path: Path, kind: str
) -> None:
    """On SQLite the write lock orders them; on PostgreSQL the vote's shared lock on the strand's
    row (`FOR SHARE OF strand_states`) does: either way a vote is stored exactly when it was
    acknowledged."""
    with (
        _database(kind, tmp_path) as url,
        running_server(
            url,
            tmp_path,
            VOTING_TALLY_INTERVAL="0.05",
            VOTING_EVENTS_PER_SECOND="1000",
            VOTING_EVENT_BURST="1000",
        ) as server,
    ):
        http = server.facilitator()
        session_id, code = create_workshop(server, http)
        acks, stored_at_close = asyncio.run(
            _close_while_voting(server, http, session_id, code, url)
        )
        accepted = [a for a in acks if a["ok"]]
        # No vote was stored after the close: every vote counted was in before it.
        assert _count(url, select(func.count()).select_from(Vote)) == len(accepted)
        assert stored_at_close == len(accepted)
        assert _count(url, select(func.count()).select_from(VoteHistory)) == len(accepted)
    refused = [a for a in acks if not a["ok"]]
    assert accepted and len(accepted) + len(refused) == PHONES
    assert {a["error"] for a in refused} <= {
        "Voting on this strand is closed. Your earlier vote, if any, still counts."
    }


async def _two_consoles(server: RunningServer, http: Any, session_id: int) -> Any:
    first = await screen_client(server, http, "console", session_id)
    second = await screen_client(server, http, "console", session_id)
    states: dict[str, dict[str, Any]] = {}
    first.on("state", lambda data: states.__setitem__("first", data))
    second.on("state", lambda data: states.__setitem__("second", data))
    results = []
    for _ in range(10):
        results.append(
            await asyncio.gather(
                first.call("control", {"action": "open", "strand": "leadership"}, timeout=30),
                second.call("control", {"action": "open", "strand": "leadership"}, timeout=30),
            )
        )
        results.append(
            await asyncio.gather(
                first.call("control", {"action": "close", "strand": "leadership"}, timeout=30),
                second.call("control", {"action": "close", "strand": "leadership"}, timeout=30),
            )
        )
    await asyncio.sleep(0.3)  # the last snapshots
    await first.disconnect()
    await second.disconnect()
    return results, states


def test_two_consoles_acting_at_once_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    with running_server(
        url, tmp_path, VOTING_EVENTS_PER_SECOND="1000", VOTING_EVENT_BURST="1000"
    ) as server:
        http = server.facilitator()
        session_id, _code = create_workshop(server, http)
        results, states = asyncio.run(_two_consoles(server, http, session_id))
    for pair in results:
        # Exactly one of the two did it; the other was told why not.
        assert sorted(a["ok"] for a in pair) == [False, True], pair
        refusal = next(a["error"] for a in pair if not a["ok"])
        assert refusal in (
            "Voting on Leadership is already open.",
            "Voting on Leadership is not open.",
        )
    assert states["first"] == states["second"]
    assert (
        _count(
            url,
            select(func.count())
            .select_from(StrandState)
            .where(StrandState.strand_key == "leadership", StrandState.status == "closed"),
        )
        == 1
    )
