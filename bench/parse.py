"""Reader speed and memory against a plain ``json.loads`` loop, on the same file, in one run.

    python bench/parse.py [--target-mb 300] [--source LOG] [--codec none|zstd|gzip] [--repeat 2]

Inflates a real Spark log with ``../shared/tools/gen_synthetic_big.py`` (cached under
``bench/_data/``, git-ignored), then runs each reader in its own fresh process, the
two alternating, best of ``--repeat``. It prints MB/s of uncompressed JSON, peak RSS,
and the ratio of the two readers. The machine is shared: only ratios measured side by
side mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEFAULT_SOURCE = SHARED / "eventlogs" / "generated" / "runtime" / "rt_etl_s8_p200_r1.zstd"
DATA = ROOT / "bench" / "_data"

# Each measured reader runs as `python -c CHILD <kind> <path>` and prints one JSON line.
CHILD = r"""
import json, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
if kind != "json.loads":
    from sparkcopilot.config import ReaderSettings  # imports are not reading
    from sparkcopilot.eventlog import read_application
    settings = ReaderSettings(accelerated=kind == "sparkcopilot")
start = time.perf_counter()
if kind == "json.loads":
    import gzip, io
    raw = open(path, "rb")
    head = raw.read(4); raw.seek(0)
    if head == b"\x28\xb5\x2f\xfd":
        import zstandard
        dctx = zstandard.ZstdDecompressor()
        raw = io.BufferedReader(dctx.stream_reader(raw, read_across_frames=True))
    elif head[:2] == b"\x1f\x8b":
        raw = gzip.GzipFile(fileobj=raw)
    events = 0
    for line in raw:
        if line.strip():
            json.loads(line)
            events += 1
else:
    app = read_application(path, settings)
    events = app.counts.events
elapsed = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": elapsed, "events": events, "rss_kib": own, "worker_rss_kib": workers}))
"""


@dataclass
class Run:
    seconds: float
    events: int
    rss_mib: float
    worker_rss_mib: float


def make_log(source: Path, target_mb: int, codec: str) -> tuple[Path, int]:
    """The inflated log and its uncompressed size (cached by name)."""
    DATA.mkdir(parents=True, exist_ok=True)
    suffix = {"none": ".json", "zstd": ".json.zst", "gzip": ".json.gz"}[codec]
    out = DATA / f"{source.name.split('.')[0]}_{target_mb}mb{suffix}"
    size_file = out.with_name(out.name + ".size")
    if not out.exists() or not size_file.exists():
        tool = SHARED / "tools" / "gen_synthetic_big.py"
        subprocess.run(
            [
                sys.executable,
                str(tool),
                str(source),
                str(out),
                "--target-mb",
                str(target_mb),
                "--codec",
                codec,
            ],
            check=True,
        )
        plain = out if codec == "none" else None
        size = plain.stat().st_size if plain else _uncompressed_size(out)
        size_file.write_text(str(size))
    return out, int(size_file.read_text())


def _uncompressed_size(path: Path) -> int:
    code = (
        "import sys\n"
        "from sparkcopilot.eventlog._codecs import DecodeStats, decoded_chunks, sniff_codec\n"
        "f = open(sys.argv[1], 'rb'); head = f.read(16); f.seek(0)\n"
        "s = DecodeStats()\n"
        "for _ in decoded_chunks(f, sniff_codec(head) or 'none', source='x', stats=s,"
        " max_decoded_bytes=1 << 40, max_ratio=1e9): pass\n"
        "print(s.decoded_bytes)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True)
    return int(out.stdout)


def measure(kind: str, path: Path) -> Run:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(path)], check=True, capture_output=True, text=True
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return Run(
        data["seconds"], data["events"], data["rss_kib"] / 1024, data["worker_rss_kib"] / 1024
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--target-mb", type=int, default=300)
    parser.add_argument("--codec", choices=("none", "zstd", "gzip"), default="none")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-baseline", action="store_true", help="measure only the reader")
    parser.add_argument(
        "--pure-python", action="store_true", help="also measure the reader without its C scanner"
    )
    args = parser.parse_args()

    path, plain_bytes = make_log(args.source, args.target_mb, args.codec)
    mb = plain_bytes / 1e6
    print(
        f"log: {path.name}  {plain_bytes / 2**20:.0f} MiB of JSON lines "
        f"({path.stat().st_size / 2**20:.0f} MiB stored), source {args.source.name}"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    kinds = ["sparkcopilot", "pure-python"] if args.pure_python else ["sparkcopilot"]
    if not args.skip_baseline:
        kinds.insert(0, "json.loads")
    best: dict[str, Run] = {}
    for attempt in range(args.repeat):
        for kind in kinds:
            run = measure(kind, path)
            print(
                f"  run {attempt + 1} {kind:13s} {mb / run.seconds:8.1f} MB/s  "
                f"{run.seconds:6.2f} s  peak RSS {run.rss_mib:6.0f} MiB"
                f" (+ workers {run.worker_rss_mib:.0f} MiB each)  events {run.events}"
            )
            if kind not in best or run.seconds < best[kind].seconds:
                best[kind] = run
    print()
    print(f"{'reader':14s} {'MB/s':>8s} {'peak RSS MiB':>13s} {'worker RSS MiB':>15s}")
    for kind, run in best.items():
        print(f"{kind:14s} {mb / run.seconds:8.1f} {run.rss_mib:13.0f} {run.worker_rss_mib:15.0f}")
    if "json.loads" in best:
        print()
        for kind in kinds[1:]:
            ratio = best["json.loads"].seconds / best[kind].seconds
            print(f"{kind} speed-up over the json.loads loop (best of {args.repeat}): {ratio:.1f}x")
    print(
        f"bench process RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB,"
        f" finished {time.strftime('%H:%M:%S')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
