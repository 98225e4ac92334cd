"""Upload → done latency of the pipeline on the local emulators, and its throughput.

    python bench/pipeline.py [--big-mb 100] [--burst 50]

Starts the whole topology (``emulator/``), then measures, in one run: the latency from
the end of an upload to its results message, for a small bundled log and for a log
inflated to ``--big-mb`` MB (``bench/parse.py``'s generator, cached under ``bench/_data/``);
and the time for ``--burst`` distinct logs dropped at once to all be done. The emulators
and every function share this machine's cores: read the figures as of this machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from emulator.topology import LOGS_BUCKET, SUBSCRIPTION_RESULTS, Topology  # noqa: E402
from parse import DEFAULT_SOURCE, make_log  # noqa: E402

SMALL = ROOT / "tests" / "data" / "logs" / "skew_join_v4.zstd"
#: Uncompressed, so a trailing newline makes each burst log distinct (no content reuse).
BURST_LOG = ROOT / "tests" / "data" / "logs" / "healthy_narrow_v35"


def _upload(name: str, data: bytes) -> None:
    from google.cloud import storage  # noqa: PLC0415 - the gcp extra

    storage.Client().bucket(LOGS_BUCKET).blob(name).upload_from_string(data)


def _wait_done(topology: Topology, names: set[str], timeout_s: float = 900) -> float:
    """Seconds until every object in ``names`` has its results message."""
    from sparkcopilot.pipeline.gcp import FirestoreAnalysisStore  # noqa: PLC0415

    store = FirestoreAnalysisStore(topology.project)
    start = time.perf_counter()
    left = set(names)
    while left and time.perf_counter() - start < timeout_s:
        for _, attributes in topology.pull(SUBSCRIPTION_RESULTS):
            doc = store.get(attributes["analysis_id"]) or {}
            left.discard(doc.get("object", ""))
        time.sleep(0.05)
    if left:
        raise RuntimeError(f"not done after {timeout_s} s: {sorted(left)[:3]}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mb", type=int, default=100)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    big, _ = make_log(DEFAULT_SOURCE, args.big_mb, "none")
    with tempfile.TemporaryDirectory() as run_dir, Topology(Path(run_dir)) as topology:
        _upload("warmup.zstd", SMALL.read_bytes())  # first calls pay imports and warm-ups
        _wait_done(topology, {"warmup.zstd"})
        _upload("warmup-2.json", BURST_LOG.read_bytes() + b"\n\n\n")
        _wait_done(topology, {"warmup-2.json"})
        small = (SMALL.read_bytes(), "small.zstd")
        rows = []
        for data, name in (small, (big.read_bytes(), f"big-{args.big_mb}mb.json")):
            _upload(name, data)
            rows.append((name, len(data), _wait_done(topology, {name})))
        base = BURST_LOG.read_bytes()
        names = {f"burst/{i:03d}.json" for i in range(args.burst)}
        start = time.perf_counter()
        for i, name in enumerate(sorted(names)):
            _upload(name, base + b"\n" * (i + 1))
        uploaded = time.perf_counter() - start
        burst_s = uploaded + _wait_done(topology, names)
    for name, size, seconds in rows:
        print(f"{name:>20}: {size / 1e6:8.1f} MB stored, upload → done {seconds:6.2f} s")
    print(
        f"{args.burst} logs dropped at once: all done in {burst_s:.1f} s "
        f"({args.burst / burst_s:.2f} logs/s; uploads took {uploaded:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
