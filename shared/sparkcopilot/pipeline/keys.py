"""API keys and their rate limit: keys are stored hashed, compared in constant time, and
each key draws from its own token bucket."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


def hash_key(key: str) -> str:
    """What is stored of a key: its SHA-256 (keys are random, so no salt or stretching)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "sc_" + secrets.token_urlsafe(24)


def key_id_of(hashes: Mapping[str, str], presented: str) -> str | None:
    """The id whose stored hash matches ``presented``; every hash is compared (in constant
    time), so the answer's timing does not tell which key came close."""
    digest = hash_key(presented)
    found = None
    for key_id, stored in hashes.items():
        if hmac.compare_digest(stored, digest):
            found = key_id
    return found


def parse_key_file(text: str) -> dict[str, str]:
    """``{"keys": {"<id>": "<sha256>"}}``: the local key file and the Secret Manager payload."""
    keys = json.loads(text)["keys"]
    if not isinstance(keys, dict):
        raise ValueError("keys must map ids to SHA-256 hashes")
    return {str(k): str(v) for k, v in keys.items()}


def key_file(hashes: Mapping[str, str]) -> str:
    return json.dumps({"keys": dict(hashes)}, indent=2, sort_keys=True) + "\n"


def gcra(tat: float | None, now: float, rate: float, burst: float) -> tuple[float, float]:
    """One request against a token bucket kept as its theoretical arrival time (GCRA):
    ``tat`` is when the bucket will be full again (None: full). Returns (the new TAT,
    seconds to wait): the wait is 0 when the request goes ahead, and then the TAT moves
    on by one request's worth; a refused request leaves it as it was."""
    interval = 1 / rate
    start = now if tat is None else max(tat, now)
    wait = start - now - (burst - 1) * interval
    if wait > 1e-9:
        return start, wait
    return start + interval, 0.0


@dataclass
class TokenBuckets:
    """Per-key token buckets in this process: ``burst`` requests at once, refilled at
    ``rate`` a second (the embedded :class:`~.ports.RateLimiter`)."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _arrivals: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key_id: str) -> float:
        with self._lock:
            tat, wait = gcra(self._arrivals.get(key_id), self.clock(), self.rate, self.burst)
            self._arrivals[key_id] = tat
            return wait


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
