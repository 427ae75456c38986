"""Rate limits (voting/ratelimit.py) and message size: a guesser of passphrases or join codes is
slowed to a crawl, one phone cannot flood a session, an oversized Socket.IO message is refused by
closing that connection, and each refusal says so, changes nothing and leaves everybody else
served. Client addresses are never stored."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import socketio
import websocket
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.helpers import PASSPHRASE, RecordingClient, control, csrf_from, dump, phone, screen, vote
from tests.servers import open_workshop, running_server
from voting.access.ratelimit import TOO_MANY_ATTEMPTS, TOO_MANY_MESSAGES, TokenBucket, limits
from voting.database import Database
from voting.live.events import socketio as server_socketio
from voting.models import Vote, VotingSession


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- the bucket itself


def test_a_bucket_allows_its_burst_then_refills_steadily() -> None:
    clock = Clock()
    bucket = TokenBucket(3, 1.0, clock=clock)
    assert [bucket.allow("a") for _ in range(4)] == [True, True, True, False]
    assert bucket.allow("b"), "keys are independent"
    clock.now += 0.5
    assert not bucket.allow("a")
    clock.now += 0.5
    assert bucket.allow("a") and not bucket.allow("a")
    clock.now += 100
    assert [bucket.allow("a") for _ in range(4)] == [True, True, True, False], "never over capacity"


def test_blocked_counts_nothing_and_take_counts_only_failures() -> None:
    clock = Clock()
    bucket = TokenBucket(2, 2 / 60, clock=clock)
    for _ in range(10):
        assert not bucket.blocked("a")  # asking is free
    bucket.take("a")
    bucket.take("a")
    assert bucket.blocked("a")
    bucket.take("a")  # taking past empty does not dig a deeper hole
    clock.now += 30
    assert not bucket.blocked("a")


def test_a_limit_of_zero_is_off() -> None:
    bucket = TokenBucket(0, 0)
    assert all(bucket.allow("a") for _ in range(1000))
    bucket.take("a")
    assert not bucket.blocked("a") and len(bucket) == 0


def test_memory_stays_bounded_however_many_keys() -> None:
    clock = Clock()
    bucket = TokenBucket(5, 5 / 60, clock=clock, max_keys=100)
    for i in range(1000):
        bucket.take(f"address-{i}")
        clock.now += 0.001
    assert len(bucket) <= 101
    # The most recent offenders are the ones remembered.
    assert bucket._buckets.get("address-999") is not None


def test_refilled_buckets_are_forgotten() -> None:
    clock = Clock()
    bucket = TokenBucket(2, 1.0, clock=clock, max_keys=1)
    bucket.take("a")
    clock.now += 5  # "a" has refilled: nothing about it is worth keeping
    bucket.take("b")
    assert set(bucket._buckets) == {"b"}


# ---------------------------------------------------------------- login


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        **settings,
        "LOGIN_ATTEMPTS_PER_MINUTE": 3,
        "JOIN_ATTEMPTS_PER_MINUTE": 3,
        "EVENT_BURST": 5,
        "EVENTS_PER_SECOND": 1,
    }


@pytest.fixture
def clock(app: Flask) -> Clock:
    fake = Clock()
    for bucket in (limits(app).login, limits(app).join, limits(app).events):
        bucket.clock = fake
    return fake


def _login(client: FlaskClient, passphrase: str, address: str = "127.0.0.1") -> Any:
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    return client.post(
        "/login",
        data={"passphrase": passphrase, "csrf_token": csrf_from(page.get_data(True))},
        environ_base={"REMOTE_ADDR": address},
    )


def test_wrong_passphrases_are_limited_per_address(app: Flask, clock: Clock) -> None:
    guesser = app.test_client()
    before = dump(app)
    for _ in range(3):
        assert _login(guesser, "a guess").status_code == 401
    refused = _login(guesser, PASSPHRASE)
    # Even the right passphrase is refused while the address is over its limit: otherwise the
    # answer would tell a guesser that this guess was the one.
    assert refused.status_code == 429
    assert TOO_MANY_ATTEMPTS.replace("'", "&#39;") in refused.get_data(True)
    assert guesser.get("/facilitator/").status_code == 302, "not logged in"
    # The facilitator elsewhere is not locked out by someone else's guessing.
    assert _login(app.test_client(), PASSPHRASE, address="192.0.2.7").status_code == 302
    # A minute later the address may try again.
    clock.now += 60
    assert _login(guesser, PASSPHRASE).status_code == 302
    after = dump(app)
    logins, _none = after.pop("logins"), before.pop("logins")
    assert after == before, "refusals store nothing"
    # The two logins are kept (server-side logins): a token's hash, no account, two times.
    assert len(logins) == 2 and all(len(row) == 4 and row[1] is None for row in logins)


def test_a_right_passphrase_does_not_count(app: Flask, clock: Clock) -> None:
    for _ in range(6):
        assert _login(app.test_client(), PASSPHRASE).status_code == 302


# ---------------------------------------------------------------- join codes


def test_unknown_join_codes_are_limited_per_address_and_known_ones_never_count(
    app: Flask, live_session: VotingSession, clock: Clock
) -> None:
    client = app.test_client()
    code = live_session.join_code
    for _ in range(10):
        assert client.get(f"/join?code={code}").status_code == 302
        assert client.get(f"/s/{code}").status_code == 200
    # Misses count wherever a code is looked up: the join form, the phone page and the QR code.
    assert client.get("/join?code=AAAAAA").status_code == 404
    assert client.get("/s/BBBBBB").status_code == 404
    assert client.get("/qr/CCCCCC.svg").status_code == 404
    before = dump(app)
    for url in (f"/join?code={code}", f"/s/{code}", f"/qr/{code}.svg", "/join?code=DDDDDD"):
        refused = client.get(url)
        assert refused.status_code == 429, url
        assert "Too many attempts" in refused.get_data(True)
    # So does a phone's Socket.IO handshake, whose refusal says why.
    refused_phone = RecordingClient(
        app, server_socketio, auth={"role": "phone", "code": code}, flask_test_client=client
    )
    assert not refused_phone.is_connected()
    assert refused_phone.refusal == {"message": TOO_MANY_ATTEMPTS}
    assert dump(app) == before
    # Other addresses (other venues) are unaffected; the join page itself always loads.
    other = {"REMOTE_ADDR": "198.51.100.4"}
    assert client.get(f"/join?code={code}", environ_base=other).status_code == 302
    assert client.get("/").status_code == 200
    clock.now += 60
    assert client.get(f"/join?code={code}").status_code == 302


def test_unknown_codes_over_socket_io_count_too(
    app: Flask, live_session: VotingSession, clock: Clock
) -> None:
    # The handshake comes from the same address as the pages (127.0.0.1, the test client's).
    client = app.test_client()
    for guess in ("AAAAAA", "BBBBBB", "CCCCCC"):
        missed = RecordingClient(
            app, server_socketio, auth={"role": "phone", "code": guess}, flask_test_client=client
        )
        assert missed.refusal == {
            "message": "There is no session with that code. Check the code on the screen."
        }
    blocked = RecordingClient(
        app,
        server_socketio,
        auth={"role": "phone", "code": live_session.join_code},
        flask_test_client=client,
    )
    assert blocked.refusal == {"message": TOO_MANY_ATTEMPTS}
    assert client.get(f"/s/{live_session.join_code}").status_code == 429
    clock.now += 20  # a third of a minute: one more attempt
    assert client.get(f"/s/{live_session.join_code}").status_code == 200


def test_client_addresses_are_never_kept(app: Flask, live_session: VotingSession) -> None:
    """Neither the database nor the limiter's memory holds an address, only salted hashes."""
    address = "203.0.113.99"
    client = app.test_client()
    client.get("/join?code=ZZZZZZ", environ_base={"REMOTE_ADDR": address})
    _login(client, "wrong", address=address)
    assert address not in json.dumps(dump(app), default=str)
    for bucket in (limits(app).login, limits(app).join):
        assert len(bucket) == 1
        assert all(address not in key for key in bucket._buckets)


# ---------------------------------------------------------------- events


def test_one_phone_cannot_flood_a_session(
    app: Flask, facilitator: FlaskClient, live_session: VotingSession, clock: Clock
) -> None:
    console = screen(app, facilitator, "console", live_session.id)
    assert control(console, action="open", strand="culture")["ok"]
    flooder = phone(app, live_session.join_code)
    token = next(m["args"][0]["token"] for m in flooder.get_received() if m["name"] == "joined")
    second_tab = phone(app, live_session.join_code, token)
    neighbour = phone(app, live_session.join_code)
    acks = [vote(flooder, "culture", 1 + i % 4) for i in range(5)]
    assert all(a["ok"] for a in acks)
    before = dump(app)
    assert vote(flooder, "culture", 2) == {"ok": False, "error": TOO_MANY_MESSAGES}
    assert flooder.emit("sync", callback=True) == {"ok": False, "error": TOO_MANY_MESSAGES}
    # Another tab of the same phone shares its allowance: reloading buys nothing.
    assert vote(second_tab, "culture", 2) == {"ok": False, "error": TOO_MANY_MESSAGES}
    assert dump(app) == before
    # Everybody else carries on, the console included.
    assert vote(neighbour, "culture", 4)["ok"]
    assert control(console, action="results", show=True)["ok"]
    clock.now += 1  # ten a second by default; one a second here
    assert vote(flooder, "culture", 3)["ok"]
    assert flooder.is_connected() and second_tab.is_connected()


# ---------------------------------------------------------------- a real server


def _phone(server: Any, code: str, transport: str) -> tuple[socketio.Client, list[str]]:
    closed: list[str] = []
    client = socketio.Client(reconnection=False)
    client.on("disconnect", lambda *reason: closed.append(str(reason)))
    client.connect(
        server.url,
        auth={"role": "phone", "code": code},
        transports=[transport],
        wait_timeout=10,
    )
    return client, closed


def _close(client: socketio.Client) -> None:
    """Disconnect, and close what a dropped client would leave open."""
    if client.connected:
        client.disconnect()
    # A connection the server dropped leaves the client's socket for the garbage collector.
    ws = getattr(client.eio, "ws", None)
    if ws is not None:
        ws.shutdown()  # close() does nothing once the peer has gone
    http = getattr(client.eio, "http", None)
    if http is not None:
        http.close()


def _votes(database_url: str) -> int:
    database = Database(database_url)
    try:
        with database.read() as db:
            return db.scalar(select(func.count()).select_from(Vote)) or 0
    finally:
        database.dispose()


@pytest.mark.server
@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_an_oversized_message_is_refused_and_the_server_keeps_serving(
    tmp_path: Path, transport: str
) -> None:
    """MAX_HTTP_BUFFER_SIZE (64 KiB): a larger message closes the sender's connection without
    being read; a message under it is read and refused by the usual checks."""
    database_url = f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    with running_server(database_url, tmp_path) as server:
        _, code = open_workshop(server)
        bystander, _ = _phone(server, code, "websocket")
        sender, closed = _phone(server, code, transport)

        # Just under the limit: read, and refused for what it says.
        near = {"strand": "culture", "level": 2, "comment": "x" * 60_000}
        assert sender.call("vote", near, timeout=10) == {
            "ok": False,
            "error": "The comment must be 500 characters or fewer.",
        }

        huge = {"strand": "culture", "level": 2, "comment": "x" * 100_000}
        with pytest.raises(socketio.exceptions.TimeoutError):
            sender.call("vote", huge, timeout=3)
        deadline = time.monotonic() + 10
        while not closed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert closed, "the server closed the connection that sent too much"
        assert _votes(database_url) == 0

        # Everybody else is served: a phone already connected, and a new one.
        assert bystander.call("vote", {"strand": "culture", "level": 3}, timeout=10)["ok"]
        newcomer, _ = _phone(server, code, transport)
        assert newcomer.call("vote", {"strand": "culture", "level": 1}, timeout=10)["ok"]
        for client in (bystander, newcomer, sender):
            _close(client)
        assert "Traceback" not in server.log()
    assert _votes(database_url) == 2


@pytest.mark.server
def test_undecodable_packets_do_not_stop_the_server(tmp_path: Path) -> None:
    """Raw Engine.IO/Socket.IO frames that no client library would send: a bare number as the
    connect payload (read by the decoder as an ack id), broken JSON, an unknown packet type."""
    database_url = f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    with running_server(database_url, tmp_path) as server:
        _, code = open_workshop(server)
        bystander, _ = _phone(server, code, "websocket")
        ws_url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        for frame in ("400.0", '40{"role":', "4" + "9" * 30, "49{}", '42["vote",{]', "x"):
            raw = websocket.create_connection(ws_url, timeout=10)
            try:
                assert raw.recv().startswith("0")  # the Engine.IO open packet
                raw.send(frame)
                time.sleep(0.2)
            finally:
                raw.close()
        assert bystander.call("vote", {"strand": "culture", "level": 3}, timeout=10)["ok"]
        newcomer, _ = _phone(server, code, "websocket")
        assert newcomer.call("vote", {"strand": "culture", "level": 2}, timeout=10)["ok"]
        _close(bystander)
        _close(newcomer)
    assert _votes(database_url) == 2
