"""A hostile room cannot take the server down (issue #15). Each test runs the real `voting serve`
(eventlet) and attacks it over real sockets, as a laptop on the venue's Wi-Fi could, while an
honest phone from another address (127.0.0.2 and up, distinct clients on loopback) must still be
served.

Limits under test, with their defaults (voting/config.py, docs/security.md): IDLE_TIMEOUT,
HEADER_TIMEOUT and BODY_TIMEOUT of 10 s, 1,000 connections and 500 joined phones per client
address, one message of at most 64 KiB attachments included, a `sync` snapshot at most every
2 s per connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import socketio
from sqlalchemy.engine import make_url

from tests.servers import RunningServer, create_workshop, running_server, screen_client
from tests.services import Forwarder, fresh_schema, postgres_url
from voting.live.events import DATABASE_UNAVAILABLE

pytestmark = pytest.mark.server

TIMEOUT = 10.0  # IDLE_TIMEOUT, HEADER_TIMEOUT and BODY_TIMEOUT as documented
# Time for the server to notice on a loaded machine, on top of the documented timeout.
GRACE = 5.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(f"sqlite:///{tmp_path / 'voting.sqlite3'}", tmp_path) as running:
        yield running


def _port(server: RunningServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _descriptors(server: RunningServer) -> int:
    return len(os.listdir(f"/proc/{server.process.pid}/fd"))


def _answers_quickly(server: RunningServer) -> bool:
    """GET / answers within 1 s (the issue's limit for 'still serving everyone else')."""
    try:
        return requests.get(f"{server.url}/", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _engineio_session(server: RunningServer) -> str:
    opened = requests.get(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=5)
    return str(json.loads(opened.text[1:])["sid"])


def _closed_by_server(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (reads end), or None if it was still open."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except OSError:
        pass  # reset: closed too
    return time.monotonic() - started


@contextlib.contextmanager
def _open_files(wanted: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"this test needs {wanted} open files; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _phone_from(address: str) -> socketio.AsyncClient:
    """A phone whose connections come from `address` (a loopback address of its own)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    return socketio.AsyncClient(http_session=aiohttp.ClientSession(connector=connector))


async def _join_and_vote(server: RunningServer, code: str, address: str, level: int) -> Any:
    phone = _phone_from(address)
    try:
        await phone.connect(
            server.url,
            transports=["websocket"],
            wait_timeout=10,
            auth={"role": "phone", "code": code},
        )
        return await phone.call("vote", {"strand": "culture", "level": level}, timeout=10)
    finally:
        await phone.disconnect()
        await phone.eio.http.close()  # type: ignore[union-attr]


def _open_culture(server: RunningServer) -> tuple[requests.Session, int, str]:
    http = server.facilitator()
    session_id, code = create_workshop(server, http)

    async def open_voting() -> None:
        console = await screen_client(server, http, "console", session_id)
        ack = await console.call("control", {"action": "open", "strand": "culture"}, timeout=10)
        assert ack["ok"], ack
        await console.disconnect()

    asyncio.run(open_voting())
    return http, session_id, code


# ---------------------------------------------------------------- sockets and requests


def test_a_flood_of_bodiless_posts_leaves_no_descriptor_behind(server: RunningServer) -> None:
    """Each request opens an Engine.IO session, announces a 999,999-byte long-polling POST,
    sends no body and hangs up. Before: every one left a descriptor the server never closed,
    until GET / went unanswered. Now each is answered 413 and closed at once."""
    port = _port(server)
    baseline = _descriptors(server)
    slow = []
    for i in range(600):
        sid = _engineio_session(server)
        with socket.create_connection(("127.0.0.1", port)) as flood:
            flood.sendall(
                f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 999999\r\n\r\n".encode()
            )
        if i % 50 == 0 and not _answers_quickly(server):
            slow.append(i)
    assert slow == [], f"GET / took over 1 s during the flood, after requests {slow}"
    deadline = time.monotonic() + TIMEOUT + GRACE
    while _descriptors(server) > baseline + 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _descriptors(server) <= baseline + 3, (baseline, _descriptors(server))
    assert _answers_quickly(server)


def test_an_oversized_post_is_answered_413_at_once(server: RunningServer) -> None:
    port = _port(server)
    for path in (f"/socket.io/?EIO=4&transport=polling&sid={_engineio_session(server)}", "/login"):
        size = 70_000 if path.startswith("/socket.io") else 3 * 1024 * 1024
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
            )
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413"), (path, answer)


def test_idle_and_half_sent_sockets_are_closed_within_the_timeout(server: RunningServer) -> None:
    port = _port(server)
    started = {}
    sockets = {}
    for kind, sent in {
        "silent": b"",
        "half a request line": b"GET /join?code=ABC",
        "half the headers": b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: slow",
        "half a body": b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
        "kept alive after a request": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    }.items():
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(sent)
        sockets[kind], started[kind] = sock, time.monotonic()
    # A client trickling its headers a byte a second is cut off too (a total, not per byte).
    trickle = socket.create_connection(("127.0.0.1", port))
    trickle.sendall(b"GET / HTTP/1.1\r\n")
    trickle_started = time.monotonic()
    trickle.settimeout(0.1)
    trickled_until = None
    while time.monotonic() - trickle_started < TIMEOUT * 2 + GRACE:
        try:
            trickle.sendall(b"X-a: b\r\n")
            if trickle.recv(65536) == b"":
                trickled_until = time.monotonic() - trickle_started
                break
        except TimeoutError:
            pass
        except OSError:
            trickled_until = time.monotonic() - trickle_started
            break
        time.sleep(0.9)
    trickle.close()

    lasted = {}
    for kind, sock in sockets.items():
        left = TIMEOUT + GRACE - (time.monotonic() - started[kind])
        closed = _closed_by_server(sock, max(left, 0.1))
        lasted[kind] = None if closed is None else time.monotonic() - started[kind]
        sock.close()
    assert all(seconds is not None for seconds in lasted.values()), lasted
    assert trickled_until is not None and trickled_until <= TIMEOUT + GRACE, trickled_until
    assert _answers_quickly(server)


def test_ten_thousand_idle_sockets_from_one_address_do_not_shut_out_another(
    server: RunningServer,
) -> None:
    """Before: eventlet's pool of 10,000 filled and the server stopped accepting. Now one
    address holds at most 1,000 connections; the rest are turned away at once (503)."""
    _http, _session_id, code = _open_culture(server)
    port = _port(server)
    baseline = _descriptors(server)
    with _open_files(10_000 + 500):
        idle = []
        try:
            for _ in range(10_000):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            held = _descriptors(server) - baseline
            ack = asyncio.run(_join_and_vote(server, code, "127.0.0.2", 3))
            served = _answers_quickly_from(server, "127.0.0.3")
        finally:
            for sock in idle:
                sock.close()
    assert ack["ok"] and ack["vote"]["level"] == 3, ack
    assert served
    # However the attacker's sockets come and go, the server never holds more than the cap.
    assert held <= 1_000 + 20, held


def _answers_quickly_from(server: RunningServer, address: str) -> bool:
    with socket.create_connection(("127.0.0.1", _port(server)), 1, (address, 0)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return sock.recv(64).startswith(b"HTTP/1.1 200")


# ---------------------------------------------------------------- Socket.IO


async def _raw_socket(server: RunningServer, address: str = "127.0.0.1") -> Any:
    """An Engine.IO WebSocket spoken by hand: (aiohttp session, websocket), open packet read."""
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))
    ws = await http.ws_connect(
        f"{server.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket"
    )
    opened = await ws.receive(timeout=5)
    assert opened.data.startswith("0{"), opened
    return http, ws


async def _until_closed(ws: Any, seconds: float, answer_pings: bool = True) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            message = await ws.receive(timeout=seconds)
        except TimeoutError:
            return None
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) or ws.closed:
            return time.monotonic() - started
        if message.type == aiohttp.WSMsgType.ERROR:
            return time.monotonic() - started
        if answer_pings and message.data == "2":
            await ws.send_str("3")
    return None


def test_a_websocket_that_never_sends_connect_is_closed(server: RunningServer) -> None:
    async def attack() -> float | None:
        http, ws = await _raw_socket(server)
        try:
            return await _until_closed(ws, TIMEOUT + GRACE)
        finally:
            await ws.close()
            await http.close()

    closed_after = asyncio.run(attack())
    assert closed_after is not None and closed_after <= TIMEOUT + GRACE


def _rss_kib(server: RunningServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


def test_attachments_beyond_the_total_cap_close_the_connection(server: RunningServer) -> None:
    """A vote announcing 1,000,000 attachments, then 60 KB frames (each under the 64 KiB frame
    limit). Before: all were kept (RSS grew by 150 MB for one phone). Now the connection is
    closed once the message passes 64 KiB, and the server's memory grows by under 20 MB."""
    _http, _session_id, code = _open_culture(server)

    async def attack() -> tuple[int, bool]:
        http, ws = await _raw_socket(server)
        try:
            await ws.send_str("40" + json.dumps({"role": "phone", "code": code}))
            while not (await ws.receive(timeout=5)).data.startswith("40"):
                pass
            await ws.send_str(
                '451000000-["vote",{"strand":"culture","level":{"_placeholder":true,"num":0}}]'
            )
            sent = 0
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                for _ in range(300):
                    if ws.closed:
                        break
                    await ws.send_bytes(b"\0" * 60_000)
                    sent += 1
                    await asyncio.sleep(0.005)
            closed = ws.closed or await _until_closed(ws, TIMEOUT) is not None
            return sent, closed
        finally:
            await ws.close()
            await http.close()

    before = _rss_kib(server)
    sent, closed = asyncio.run(attack())
    grown = _rss_kib(server) - before
    assert closed, f"still open after {sent} frames of 60 KB"
    assert grown < 20 * 1024, f"RSS grew by {grown} KiB"
    assert _answers_quickly(server)


def test_a_binary_comment_is_refused_with_a_message(server: RunningServer) -> None:
    _http, _session_id, code = _open_culture(server)

    async def send() -> str:
        http, ws = await _raw_socket(server)
        try:
            await ws.send_str("40" + json.dumps({"role": "phone", "code": code}))
            await ws.send_str(
                '451-7["vote",{"strand":"culture","level":2,'
                '"comment":{"_placeholder":true,"num":0}}]'
            )
            await ws.send_bytes(b"not text")
            while True:
                message = await ws.receive(timeout=10)
                if isinstance(message.data, str) and message.data.startswith("437"):
                    return str(message.data)
                if message.data == "2":
                    await ws.send_str("3")
        finally:
            await ws.close()
            await http.close()

    answer = json.loads(asyncio.run(send())[3:])
    assert answer == [{"ok": False, "error": "The comment must be text."}]


def test_sixty_phones_syncing_from_one_address_do_not_starve_the_room(
    server: RunningServer,
) -> None:
    """60 phones from one address each send `sync` 10 times a second, inside their own rate
    limit. Before: every sync cost a full snapshot, honest votes took 4.5-15 s and phones were
    disconnected. Now each connection gets at most one snapshot per SYNC_INTERVAL."""
    http, session_id, code = _open_culture(server)

    async def room() -> dict[str, Any]:
        console = await screen_client(server, http, "console", session_id)
        flooders = [_phone_from("127.0.0.1") for _ in range(60)]
        honest = [_phone_from(f"127.0.0.{2 + i}") for i in range(8)]
        everyone = [*flooders, *honest]
        await asyncio.gather(
            *(
                p.connect(
                    server.url,
                    transports=["websocket"],
                    wait_timeout=20,
                    auth={"role": "phone", "code": code},
                )
                for p in everyone
            )
        )
        stop = asyncio.Event()
        refused: list[Any] = []

        async def flood(phone: socketio.AsyncClient) -> None:
            while not stop.is_set():
                ack = await phone.call("sync", timeout=30)
                if not ack.get("ok"):
                    refused.append(ack)
                await asyncio.sleep(0.1)

        async def vote(phone: socketio.AsyncClient, index: int) -> list[float]:
            waits = []
            for n in range(10):
                started = time.monotonic()
                ack = await phone.call(
                    "vote", {"strand": "culture", "level": 1 + (index + n) % 4}, timeout=30
                )
                assert ack["ok"], ack
                waits.append(time.monotonic() - started)
                await asyncio.sleep(0.5)
            return waits

        floods = [asyncio.create_task(flood(p)) for p in flooders]
        await asyncio.sleep(2)  # the flood is under way before anyone votes
        waits = await asyncio.gather(*(vote(p, i) for i, p in enumerate(honest)))
        stop.set()
        await asyncio.gather(*floods)
        connected = [p.connected for p in everyone] + [console.connected]
        for client in [*everyone, console]:
            await client.disconnect()
        for p in everyone:
            await p.eio.http.close()  # type: ignore[union-attr]
        return {
            "waits": sorted(w for phone in waits for w in phone),
            "connected": connected,
            "refused": refused,
        }

    result = asyncio.run(room())
    assert all(result["connected"]), "a phone or the console was disconnected"
    assert result["refused"] == [], result["refused"][:3]
    # Under 1 s, as the issue asks; a loaded test machine may pause any process now and then,
    # so two of the 80 may take longer, though none as long as a phone's 15 s timeout.
    waits = result["waits"]
    assert waits[-3] < 1.0 and waits[-1] < 5.0, f"honest votes' slowest acks: {waits[-5:]}"


def test_no_client_address_in_anything_the_process_writes(tmp_path: Path) -> None:
    """Malformed requests and refused connections from 127.0.0.77: nothing the server writes
    (its log, stdout and stderr together) carries that address, though before eventlet wrote
    lines such as '127.0.0.77 - - [...] code 400, message Bad HTTP/0.9 request type'."""
    url = f"sqlite:///{tmp_path / 'voting.sqlite3'}"
    with running_server(url, tmp_path, VOTING_CONNECTIONS_PER_ADDRESS=5) as server:
        port = _port(server)
        attacks = [
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
            b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nBad header line\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /socket.io/?EIO=4&transport=polling&sid=nonsense HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /socket.io/?EIO=9 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # TLS to a plain port
        ]
        for attack in attacks:
            with socket.create_connection(("127.0.0.1", port), 5, ("127.0.0.77", 0)) as sock:
                sock.sendall(attack)
                with contextlib.suppress(OSError):
                    sock.recv(65536)
        # Over the cap of 5 connections from this address: turned away.
        held = [
            socket.create_connection(("127.0.0.1", port), 5, ("127.0.0.77", 0)) for _ in range(8)
        ]
        for sock in held:
            sock.close()
        requests.get(f"{server.url}/nothing-here", timeout=5)
        time.sleep(1)
        written = server.log()
    assert "127.0.0.77" not in written, written
    assert "::ffff:127.0.0.77" not in written


# ---------------------------------------------------------------- a database that stalls


@pytest.mark.services
def test_a_paused_database_link_answers_votes_clearly_within_5_s(tmp_path: Path) -> None:
    """PostgreSQL through a link that stops passing bytes (neither closed nor refused), as a
    frozen database host or a stalled network would. Before: votes went unanswered past the
    phones' 15 s and the join page timed out. Now every vote is refused with the clear message
    within 5 s, pages answer 503, and once the link flows again votes are stored."""
    with fresh_schema(postgres_url()) as url:
        parsed = make_url(url)
        forwarder = Forwarder(parsed.host or "127.0.0.1", parsed.port or 5432)
        forwarded = parsed.set(host="127.0.0.1", port=forwarder.port)
        through = forwarded.render_as_string(hide_password=False)
        try:
            with running_server(through, tmp_path) as server:
                http, _session_id, code = _open_culture(server)
                outcome = asyncio.run(_vote_through_a_stall(server, http, code, forwarder))
        finally:
            forwarder.close()
    assert outcome["before"] == [True] * 5
    assert outcome["paused"] == [{"ok": False, "error": DATABASE_UNAVAILABLE}] * 5, outcome
    assert max(outcome["paused_seconds"]) < 5.0, outcome["paused_seconds"]
    assert outcome["page"] == 503 and outcome["join"] == 503, outcome
    assert outcome["start_page"] == 200
    assert outcome["after"] == [True] * 5, outcome


async def _vote_through_a_stall(
    server: RunningServer, http: requests.Session, code: str, forwarder: Forwarder
) -> dict[str, Any]:
    phones = [_phone_from(f"127.0.0.{10 + i}") for i in range(5)]
    await asyncio.gather(
        *(
            p.connect(
                server.url,
                transports=["websocket"],
                wait_timeout=10,
                auth={"role": "phone", "code": code},
            )
            for p in phones
        )
    )

    async def vote(phone: socketio.AsyncClient, level: int) -> tuple[Any, float]:
        started = time.monotonic()
        try:
            ack = await phone.call("vote", {"strand": "culture", "level": level}, timeout=15)
        except socketio.exceptions.TimeoutError:
            ack = "no answer in 15 s"
        return ack, time.monotonic() - started

    before = await asyncio.gather(*(vote(p, 2) for p in phones))
    forwarder.pause()
    try:
        paused = await asyncio.gather(*(vote(p, 3) for p in phones))
        page = await asyncio.to_thread(_status, http, f"{server.url}/facilitator/")
        join = await asyncio.to_thread(_status, requests.Session(), f"{server.url}/s/{code}")
        start_page = await asyncio.to_thread(_status, requests.Session(), f"{server.url}/")
    finally:
        forwarder.resume()
    after = []
    for p in phones:
        deadline = time.monotonic() + 20
        ack: Any = None
        while time.monotonic() < deadline:
            ack, _seconds = await vote(p, 4)
            if isinstance(ack, dict) and ack.get("ok"):
                break
            await asyncio.sleep(0.5)
        after.append(isinstance(ack, dict) and bool(ack.get("ok")))
    for p in phones:
        await p.disconnect()
        await p.eio.http.close()  # type: ignore[union-attr]
    return {
        "before": [bool(a["ok"]) for a, _s in before],
        "paused": [a for a, _s in paused],
        "paused_seconds": [s for _a, s in paused],
        "page": page,
        "join": join,
        "start_page": start_page,
        "after": after,
    }


def _status(http: requests.Session, url: str) -> int | str:
    try:
        return http.get(url, timeout=5, allow_redirects=False).status_code
    except requests.RequestException as error:
        return f"no answer in 5 s ({type(error).__name__})"
