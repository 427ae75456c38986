// Browser-like phones for benchmarks/loadgen.py (--client node): the socket.io client the pages
// ship (socket.io-client 4.8.4, the version in static/vendor/README.md), in Node.
//
// Each phone behaves as a phone's browser does on first opening the join link:
//   1. loads the page /s/<code> and every script and stylesheet it references, over its own
//      keep-alive connections (a browser's per-host pool), accepting gzip as Chromium does;
//   2. connects as static/js/live.js does: long-polling first, then the upgrade to WebSocket,
//      offering compression exactly as Chromium offers it (`permessage-deflate;
//      client_max_window_bits`, the `ws` package's default offer) and compressing every message
//      it sends, as Chromium does (threshold 0);
//   3. joins with the auth object static/js/phone.js sends, keeps the token it is given;
//   4. votes when told to, with an acknowledgement.
//
// Commands arrive as JSON lines on stdin; results leave as JSON lines on stdout. Times are
// CLOCK_MONOTONIC seconds (process.hrtime), the clock of Python's time.monotonic(), so the
// driver can compare them with its own.
//
//   {"cmd": "connect", "url": "http://127.0.0.1:5000", "code": "ABC123", "first": 0,
//    "count": 500, "concurrency": 25, "page": true, "deflate": true, "idle": 300}
//   {"cmd": "vote", "strand": "leadership", "schedule": [[0, 0.0], [1, 0.002]], "t0": 1234.5}
//   {"cmd": "extensions"}    which WebSocket extensions each phone's server agreed to
//   {"cmd": "states"}        when each phone last received a `state` broadcast
//   {"cmd": "where"}         each phone's Engine.IO session id (it names the worker) or null
//   {"cmd": "stop"}
//
// With "reconnect": true (the scale-out run, benchmarks/scaleout.py) a phone also behaves as
// static/js/live.js and phone.js do when its server goes away: socket.io-client reconnects
// with back-off (reconnectionDelayMax 5 s), a join refused with `retry` is tried again after a
// randomised doubling pause, and a vote without an answer within 10 s is sent again, with the
// same client_vote_id, once the phone is connected, until it is acknowledged (a vote then
// reports when it was first sent, when it was acknowledged and how many sends it took).

import http from "node:http";
import readline from "node:readline";
import zlib from "node:zlib";
import { io } from "socket.io-client";

const CHROMIUM_UA =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) " +
  "Chrome/142.0.0.0 Mobile Safari/537.36";
const CALL_TIMEOUT_MS = 30000;
const RESEND_AFTER_MS = 10000; // static/js/phone.js: socket.timeout(10000)
const VOTE_GIVE_UP_S = 90;
const JOIN_LIMIT_MS = 90000;

const now = () => Number(process.hrtime.bigint()) / 1e9;
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, Math.max(0, seconds * 1000)));
const phones = [];

function send(kind, payload) {
  process.stdout.write(JSON.stringify({ kind, payload }) + "\n");
}

function get(agent, url, accept) {
  return new Promise((resolve, reject) => {
    const request = http.get(
      url,
      {
        agent,
        headers: { "User-Agent": CHROMIUM_UA, Accept: accept, "Accept-Encoding": "gzip, deflate" },
      },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => {
          let body = Buffer.concat(chunks);
          const encoding = response.headers["content-encoding"];
          if (encoding === "gzip") body = zlib.gunzipSync(body);
          else if (encoding === "deflate") body = zlib.inflateSync(body);
          if (response.statusCode !== 200) reject(new Error(`${url}: ${response.statusCode}`));
          else resolve(body.toString("utf8"));
        });
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.setTimeout(30000, () => request.destroy(new Error(`${url}: timed out`)));
  });
}

async function loadPage(agent, url, code) {
  const html = await get(agent, `${url}/s/${code}`, "text/html,application/xhtml+xml,*/*;q=0.8");
  const assets = new Set();
  for (const match of html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"/g)) {
    if (match[1].startsWith("/")) assets.add(match[1].replace(/&amp;/g, "&"));
  }
  await Promise.all([...assets].map((path) => get(agent, url + path, "*/*")));
}

function join(index, url, code, options) {
  // One browser: its own connection pool to the host, as Chromium keeps per profile.
  // Chromium keeps a used idle connection for 5 minutes (`idle` seconds here).
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: 6,
    timeout: (options.idle ?? 300) * 1000,
  });
  const phone = { index, socket: null, agent, token: null, extensions: null };
  phones[index] = phone;
  const started = now();
  return (async () => {
    if (options.page) await loadPage(agent, url, code);
    const socket = io(url, {
      auth: (cb) => cb({ role: "phone", code, token: phone.token }),
      reconnection: Boolean(options.reconnect),
      reconnectionDelayMax: 5000,
      transports: ["polling", "websocket"],
      upgrade: true,
      agent,
      origin: url,
      extraHeaders: { "User-Agent": CHROMIUM_UA },
      perMessageDeflate: options.deflate ? { threshold: 0 } : false,
      timeout: 30000,
    });
    phone.socket = socket;
    socket.on("state", () => {
      phone.lastState = now();
    });
    socket.on("joined", (data) => {
      if (data && data.token) phone.token = data.token;
    });
    if (options.reconnect) retryRefusedJoins(socket);
    socket.io.on("open", () => {
      socket.io.engine.on("upgrade", (transport) => {
        const ws = transport.ws;
        phone.extensions = (ws && ws.extensions) || "";
        phone.upgraded = now();
      });
    });
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
      // A join that neither connects nor is refused counts as failed, so the phase ends.
      setTimeout(() => reject(new Error("no answer to the join")), JOIN_LIMIT_MS);
    });
    return [now() - started, true];
  })().catch(() => [now() - started, false]);
}

// phone.js: a join refused with `retry` is tried again after min(30 s, 2^n s) x [0.5, 1.5).
function retryRefusedJoins(socket) {
  let retries = 0;
  socket.on("connect", () => {
    retries = 0;
  });
  socket.on("connect_error", (err) => {
    if (socket.active || !(err && err.data && err.data.retry)) return;
    const delay = Math.min(30000, 1000 * 2 ** retries) * (0.5 + Math.random());
    retries += 1;
    setTimeout(() => {
      if (!socket.connected) socket.connect();
    }, delay);
  });
}

async function connect(command) {
  const { url, code, first, count, concurrency } = command;
  const results = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      results[i] = await join(first + i, url, code, command);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  send("connected", results);
}

async function cast(phone, strand, level, at) {
  await sleep(at - now());
  const sent = now();
  if (!phone || !phone.socket || !phone.socket.connected) return [sent, null, false];
  try {
    const ack = await phone.socket
      .timeout(CALL_TIMEOUT_MS)
      .emitWithAck("vote", { strand, level });
    return [sent, now(), Boolean(ack && ack.ok)];
  } catch {
    return [sent, null, false];
  }
}

// phone.js's outbox: the same vote (same client_vote_id) is sent again after 10 s without an
// answer, or as soon as the phone is connected again, until it is acknowledged.
async function castUntilAcknowledged(phone, strand, level, at) {
  await sleep(at - now());
  const sent = now();
  const entry = { strand, level, client_vote_id: `${phone.index}-${strand}-${sent}` };
  let sends = 0;
  while (now() - sent < VOTE_GIVE_UP_S) {
    if (!phone.socket || !phone.socket.connected) {
      await sleep(0.1);
      continue;
    }
    sends += 1;
    try {
      const ack = await phone.socket.timeout(RESEND_AFTER_MS).emitWithAck("vote", entry);
      return [sent, now(), Boolean(ack && ack.ok), sends];
    } catch {
      await sleep(0.1);
    }
  }
  return [sent, null, false, sends];
}

async function vote(command) {
  const { strand, schedule, t0, resend } = command;
  const one = resend ? castUntilAcknowledged : cast;
  const votes = await Promise.all(
    schedule.map(([i, offset]) => one(phones[i], strand, 1 + (i % 4), t0 + offset)),
  );
  send("voted", votes);
}

function where() {
  // The Engine.IO session id of each connected phone (`<worker port>-…` behind deploy/'s
  // nginx), or null for a phone that is not connected right now.
  send(
    "where",
    phones.filter(Boolean).map((p) =>
      p.socket && p.socket.connected && p.socket.io.engine ? p.socket.io.engine.id : null,
    ),
  );
}

function states() {
  // When each phone last received a `state` broadcast (null: never).
  send("states", phones.filter(Boolean).map((p) => (p.lastState === undefined ? null : p.lastState)));
}

function extensions() {
  // What the server answered to each phone's offer (ws's negotiated extensions header).
  send(
    "extensions",
    phones.filter(Boolean).map((p) => ({
      upgraded: Boolean(p.upgraded),
      transport: p.socket && p.socket.io.engine ? p.socket.io.engine.transport.name : null,
      extensions: p.extensions,
    })),
  );
}

function stop() {
  for (const phone of phones) {
    if (phone && phone.socket) phone.socket.disconnect();
    if (phone) phone.agent.destroy();
  }
  send("stopped", null);
  setTimeout(() => process.exit(0), 100);
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const command = JSON.parse(line);
  if (command.cmd === "connect") connect(command);
  else if (command.cmd === "vote") vote(command);
  else if (command.cmd === "extensions") extensions();
  else if (command.cmd === "states") states();
  else if (command.cmd === "where") where();
  else stop();
});
lines.on("close", () => stop());
