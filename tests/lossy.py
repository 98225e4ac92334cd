"""Copies of real event logs with lines deleted at random, for event-loss detection."""

from __future__ import annotations

import random
from pathlib import Path

from sparkcopilot.eventlog._codecs import DecodeStats, decoded_chunks, sniff_codec
from sparkcopilot.eventlog._layouts import resolve


def log_lines(log: Path) -> list[bytes]:
    """Every line of a log, its parts decoded and joined in reading order."""
    resolved = resolve(log)
    data = bytearray()
    for part in resolved.paths():
        with part.open("rb") as raw:
            codec = sniff_codec(raw.read(16))
        with part.open("rb") as raw:
            if codec is None:
                data += raw.read()
            else:
                data += b"".join(
                    decoded_chunks(
                        raw,
                        codec,
                        source=str(part),
                        stats=DecodeStats(),
                        max_decoded_bytes=1 << 34,
                        max_ratio=1e6,
                    )
                )
        if data and not data.endswith(b"\n"):
            data += b"\n"
    return [line for line in bytes(data).split(b"\n") if line.strip()]


def lossy_copy(lines: list[bytes], fraction: float, seed: int, out: Path) -> list[int]:
    """Write ``lines`` to ``out`` as a plain log without ``fraction`` of them (at least
    one) chosen at random; return the deleted line numbers."""
    rng = random.Random(seed)
    count = max(1, round(len(lines) * fraction))
    deleted = sorted(rng.sample(range(len(lines)), count))
    gone = set(deleted)
    out.write_bytes(b"".join(line + b"\n" for i, line in enumerate(lines) if i not in gone))
    return deleted
