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


@dataclass
class TokenBuckets:
    """Per-key token buckets: ``burst`` requests at once, refilled at ``rate`` a second."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _levels: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key_id: str) -> float:
        """0 when a request may go ahead (its token taken), else seconds until one is due."""
        with self._lock:
            now = self.clock()
            level, then = self._levels.get(key_id, (self.burst, now))
            level = min(self.burst, level + (now - then) * self.rate)
            if level >= 1:
                self._levels[key_id] = (level - 1, now)
                return 0.0
            self._levels[key_id] = (level, now)
            return (1 - level) / self.rate


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
