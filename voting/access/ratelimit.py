"""Rate limits: in-memory token buckets, one set per server process.

Three limits, each a bucket per key that holds up to `capacity` tokens and refills steadily:

- facilitator login: per client address, each wrong passphrase counts; 10 a minute
  (`VOTING_LOGIN_ATTEMPTS_PER_MINUTE`);
- join codes: per client address, each code that finds no session counts; 20 a minute
  (`VOTING_JOIN_ATTEMPTS_PER_MINUTE`);
- Socket.IO events: per participant (a phone, across its tabs) or per connection (a console or
  presenter), every event counts; bursts of 20, then 10 a second (`VOTING_EVENT_BURST`,
  `VOTING_EVENTS_PER_SECOND`).

While a bucket is empty every attempt under that key is refused with a message (HTTP 429, or an
ack / connection refusal) and changes nothing, a correct passphrase or code included: otherwise
the answer would still tell a guesser when it was right. A setting of 0 turns that limit off.

Why these shapes: a join code is 6 characters from 31, so about 887 million codes; at 20 misses a
minute an address needs years to find a live one. The limit counts only misses, and is generous,
because a whole workshop may share one address (venue Wi-Fi behind NAT) and phones with the
right code never count. A flood from one phone is cut per participant, so reloading or opening
tabs does not buy a fresh allowance.

Privacy: client addresses are never stored, logged or kept beyond the process. Even in memory a
key is a salted hash (the salt is random per process), and a bucket that has refilled is
forgotten, so after a quiet minute nothing of an address remains. Limits are per process: with
several workers behind sticky sessions each keeps its own, which only makes them looser by the
number of workers.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request

TOO_MANY_ATTEMPTS = "Too many attempts; wait a minute and try again."
TOO_MANY_MESSAGES = "Too many messages from this screen; wait a few seconds and try again."
# Beyond this many tracked keys, refilled buckets are dropped, then the oldest: memory stays
# bounded however many addresses an attacker uses.
MAX_KEYS = 10_000


class TokenBucket:
    """`capacity` tokens per key, refilled at `per_second`; thread- and green-thread-safe."""

    def __init__(
        self,
        capacity: float,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.capacity = float(capacity)
        self.per_second = float(per_second)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, as of)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0 and self.per_second > 0

    def _level(self, key: str, now: float) -> float:
        tokens, since = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - since) * self.per_second)

    def blocked(self, key: str) -> bool:
        """Whether the next attempt under `key` must be refused (takes nothing)."""
        if not self.enabled:
            return False
        with self._lock:
            return self._level(key, self.clock()) < 1

    def take(self, key: str) -> None:
        """Count one attempt under `key` (a failure, for the login and join limits)."""
        if not self.enabled:
            return
        with self._lock:
            now = self.clock()
            self._buckets[key] = (max(0.0, self._level(key, now) - 1), now)
            if len(self._buckets) > self.max_keys:
                self._prune(now)

    def allow(self, key: str) -> bool:
        """Count one attempt and say whether it may go ahead."""
        if not self.enabled:
            return True
        with self._lock:
            now = self.clock()
            level = self._level(key, now)
            if level < 1:
                return False
            self._buckets[key] = (level - 1, now)
            if len(self._buckets) > self.max_keys:
                self._prune(now)
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        full = [k for k in self._buckets if self._level(k, now) >= self.capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) > self.max_keys:
            # Still too many: drop the longest untouched, which are the nearest to full.
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for key in by_age[: len(self._buckets) - self.max_keys]:
                del self._buckets[key]


@dataclass
class Limits:
    login: TokenBucket
    join: TokenBucket
    events: TokenBucket
    salt: bytes

    @classmethod
    def from_config(cls, config: Any) -> Limits:
        login = float(config.get("LOGIN_ATTEMPTS_PER_MINUTE", 0))
        join = float(config.get("JOIN_ATTEMPTS_PER_MINUTE", 0))
        return cls(
            login=TokenBucket(login, login / 60),
            join=TokenBucket(join, join / 60),
            events=TokenBucket(
                float(config.get("EVENT_BURST", 0)), float(config.get("EVENTS_PER_SECOND", 0))
            ),
            salt=os.urandom(16),
        )

    def address_key(self) -> str:
        """The current request's client address, as a salted hash (never the address itself)."""
        address = (request.remote_addr or "").encode("utf-8", "replace")
        return hashlib.blake2b(address, key=self.salt, digest_size=16).hexdigest()


def limits(app: Flask | None = None) -> Limits:
    """This process's limits for the app, made on first use from its configuration."""
    target = app or current_app
    found = target.extensions.get("voting_limits")
    if found is None:
        found = target.extensions.setdefault("voting_limits", Limits.from_config(target.config))
    return found
