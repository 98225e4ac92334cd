"""Check the reader against an independent reference on a held-out set of real event logs.

Usage: ``python bench/check_heldout.py DIR [--json OUT]``

For every event log found under DIR (single files, rolling ``eventlog_v2_*`` directories,
Databricks cluster-log folders, Spark 1.x ``EVENT_LOG_*`` directories) this script

1. computes the DESIGN.md §3 facts with a deliberately simple *reference*: it decompresses
   each file with the plain libraries (``zstandard`` stream reader across frames, ``gzip``,
   and a few lines each for Spark's framings of lz4 (lz4-java ``LZ4Block``, via ``lz4``),
   snappy (snappy-java stream, via ``cramjam``) and lzf (ning ``ZV`` chunks, via
   ``python-lzf``)), runs ``json.loads`` on every line and sums exactly per §3;
2. runs our reader (``read_application`` + ``summarize``) on the same log;
3. prints one row per log and, under it, every fact on which the two disagree with both
   values, then ``N of M logs: every fact equal``.

Why the reference is independent: it imports nothing from ``sparkcopilot``; it shares no
code, no codec detection, no event model and no numeric representation with the reader
(plain ints from ``json``; no pandas/numpy columns); every fact is one loop over decoded
JSON objects, written from the wording of DESIGN.md §3 alone. A disagreement therefore
points at a bug in one of the two, to be decided by looking at the raw events.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cramjam
import lz4.block
import lzf
import zstandard

from sparkcopilot.eventlog import read_application
from sparkcopilot.summary import summarize

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
LZ4_MAGIC = b"LZ4Block"
SNAPPY_MAGIC = b"\x82SNAPPY\x00"
LZF_MAGIC = b"ZV"

SQL_START = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"
ROLLING_EVENTS = re.compile(r"^events_(\d+)_")
DATABRICKS_ROTATED = re.compile(r"^eventlog-\d{4}-\d\d-\d\d--\d\d-\d\d")
SKIP_NAMES = {"SOURCES.md", "README.md", "LICENSE", "NOTICE"}

# The facts compared, in the order of the per-log match column.
FACTS: tuple[str, ...] = (
    "app_id",
    "app_name",
    "spark_version",
    "duration_ms",
    "codec",
    "layout",
    "files",
    "complete",
    "jobs",
    "jobs_failed",
    "stages_completed",
    "stages_failed",
    "tasks",
    "tasks_failed",
    "executors",
    "sql_executions",
    "events",
    "lines_malformed",
    "input_bytes",
    "output_bytes",
    "shuffle_read_bytes",
    "shuffle_write_bytes",
    "memory_spilled_bytes",
    "disk_spilled_bytes",
    "executor_run_time_ms",
    "jvm_gc_time_ms",
)


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class LogUnit:
    """One application's log: what to hand our reader, and its parts in reading order."""

    path: Path
    layout: str
    parts: tuple[Path, ...]
    version_hint: str | None = None
    status_inprogress: bool = False


def _rolling(d: Path) -> LogUnit:
    files = [p for p in d.iterdir() if p.is_file()]
    events = sorted(
        (p for p in files if ROLLING_EVENTS.match(p.name)),
        key=lambda p: int(ROLLING_EVENTS.match(p.name).group(1)),  # type: ignore[union-attr]
    )
    inprogress = any(
        p.name.startswith("appstatus_") and p.name.endswith(".inprogress") for p in files
    )
    return LogUnit(d, "rolling", tuple(events), status_inprogress=inprogress)


def _databricks(d: Path) -> LogUnit:
    rotated = sorted(p for p in d.iterdir() if p.is_file() and DATABRICKS_ROTATED.match(p.name))
    current = [d / "eventlog"] if (d / "eventlog").is_file() else []
    return LogUnit(d, "databricks", tuple(rotated + current))


def _legacy(d: Path) -> LogUnit:
    names = [p.name for p in d.iterdir()]
    parts = sorted(
        (d / n for n in names if n.startswith("EVENT_LOG_")),
        key=lambda p: int(p.name.rsplit("_", 1)[1] or 0),
    )
    version = next(
        (n[len("SPARK_VERSION_") :] for n in names if n.startswith("SPARK_VERSION_")), None
    )
    return LogUnit(d, "legacy_dir", tuple(parts), version_hint=version)


def find_logs(root: Path) -> list[LogUnit]:
    """Every log under ``root``; a directory is one log when its layout says so."""
    if root.is_file():
        return [_single(root)]
    found: list[LogUnit] = []
    for entry in sorted(root.iterdir()):
        if _not_a_log(entry):
            continue
        if entry.is_file():
            found.append(_single(entry))
            continue
        names = {p.name for p in entry.iterdir()}
        if entry.name.startswith("eventlog_v2_"):
            found.append(_rolling(entry))
        elif "eventlog" in names or any(DATABRICKS_ROTATED.match(n) for n in names):
            found.append(_databricks(entry))
        elif any(n.startswith("EVENT_LOG_") for n in names):
            found.append(_legacy(entry))
        else:
            found.extend(find_logs(entry))
    return found


def _not_a_log(p: Path) -> bool:
    """Hidden entries, ``_licenses``-style folders, provenance and label files."""
    if p.name.startswith((".", "_")) or p.name in SKIP_NAMES:
        return True
    return p.is_file() and (p.suffix in {".md", ".NOTICE"} or p.name.startswith("labels"))


def _single(p: Path) -> LogUnit:
    layout = "inprogress" if p.name.endswith(".inprogress") else "single"
    return LogUnit(p, layout, (p,))


# --------------------------------------------------------------------------- decompression


def _unzstd(data: bytes) -> tuple[bytes, bool]:
    out = bytearray()
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    try:
        while chunk := reader.read(1 << 20):
            out += chunk
    except zstandard.ZstdError:
        return bytes(out), True
    return bytes(out), False


def _ungzip(data: bytes) -> tuple[bytes, bool]:
    out = bytearray()
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
        try:
            while chunk := f.read(1 << 20):
                out += chunk
        except (EOFError, OSError):
            return bytes(out), True
    return bytes(out), False


def _unlz4(data: bytes) -> tuple[bytes, bool]:
    """lz4-java LZ4BlockOutputStream: 'LZ4Block', token, clen, dlen, checksum, payload."""
    out, pos = bytearray(), 0
    while pos < len(data):
        if data[pos : pos + 8] != LZ4_MAGIC or pos + 21 > len(data):
            return bytes(out), True
        token = data[pos + 8]
        clen, dlen, _checksum = struct.unpack_from("<iii", data, pos + 9)
        payload = data[pos + 21 : pos + 21 + clen]
        if len(payload) < clen:
            return bytes(out), True
        out += (
            payload
            if token & 0xF0 == 0x10
            else lz4.block.decompress(payload, uncompressed_size=dlen)
        )
        pos += 21 + clen
    return bytes(out), False


def _unsnappy(data: bytes) -> tuple[bytes, bool]:
    """snappy-java SnappyOutputStream: 16-byte header, then (int32 BE length, raw block)*."""
    out, pos = bytearray(), 0
    while pos < len(data):
        if data[pos : pos + 8] == SNAPPY_MAGIC:
            pos += 16
            continue
        if pos + 4 > len(data):
            return bytes(out), True
        (n,) = struct.unpack_from(">i", data, pos)
        block = data[pos + 4 : pos + 4 + n]
        if len(block) < n:
            return bytes(out), True
        out += bytes(cramjam.snappy.decompress_raw(block))
        pos += 4 + n
    return bytes(out), False


def _unlzf(data: bytes) -> tuple[bytes, bool]:
    """ning LZFOutputStream: 'ZV' 0 len payload | 'ZV' 1 clen ulen payload."""
    out, pos = bytearray(), 0
    while pos < len(data):
        if data[pos : pos + 2] != LZF_MAGIC or pos + 5 > len(data):
            return bytes(out), True
        if data[pos + 2] == 0:
            (n,) = struct.unpack_from(">H", data, pos + 3)
            chunk, pos = data[pos + 5 : pos + 5 + n], pos + 5 + n
            if len(chunk) < n:
                return bytes(out), True
            out += chunk
            continue
        clen, ulen = struct.unpack_from(">HH", data, pos + 3)
        payload, pos = data[pos + 7 : pos + 7 + clen], pos + 7 + clen
        if len(payload) < clen:
            return bytes(out), True
        out += lzf.decompress(payload, ulen)
    return bytes(out), False


def decompress(data: bytes) -> tuple[str, bytes, bool]:
    """(codec, plain bytes, stream cut short) from the magic bytes alone."""
    for magic, codec, fn in (
        (ZSTD_MAGIC, "zstd", _unzstd),
        (GZIP_MAGIC, "gzip", _ungzip),
        (LZ4_MAGIC, "lz4", _unlz4),
        (SNAPPY_MAGIC, "snappy", _unsnappy),
        (LZF_MAGIC, "lzf", _unlzf),
    ):
        if data.startswith(magic):
            plain, cut = fn(data)
            return codec, plain, cut
    return "none", data, False


# --------------------------------------------------------------------------- reference facts


def _n(obj: Any, *keys: str) -> int:
    """The integer at ``obj[k1][k2]...``, 0 when any key is missing or null."""
    for k in keys:
        if not isinstance(obj, dict) or obj.get(k) is None:
            return 0
        obj = obj[k]
    return int(obj)


@dataclass
class Reference:
    """The §3 facts of one log, summed line by line."""

    codec: str = "none"
    layout: str = "single"
    files: int = 0
    version: str | None = None
    app_id: str | None = None
    app_name: str | None = None
    start: int | None = None
    end: int | None = None
    cut: bool = False
    events: int = 0
    malformed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    executors: set[str] = field(default_factory=set)

    def add(self, fact: str, n: int = 1) -> None:
        self.counts[fact] = self.counts.get(fact, 0) + n

    def facts(self) -> dict[str, Any]:
        keys = FACTS[8:]
        out: dict[str, Any] = {k: self.counts.get(k, 0) for k in keys}
        out |= {
            "app_id": self.app_id,
            "app_name": self.app_name,
            "spark_version": self.version,
            "duration_ms": None
            if self.end is None or self.start is None
            else self.end - self.start,
            "codec": self.codec,
            "layout": self.layout,
            "files": self.files,
            "complete": self.end is not None and not self.cut,
            "executors": len(self.executors),
            "events": self.events,
            "lines_malformed": self.malformed,
        }
        return out


def _task_end(ref: Reference, ev: dict[str, Any]) -> None:
    ref.add("tasks")
    reason = ev.get("Task End Reason") or {}
    if reason.get("Reason") != "Success":
        ref.add("tasks_failed")
    m = ev.get("Task Metrics") or {}
    ref.add("input_bytes", _n(m, "Input Metrics", "Bytes Read"))
    ref.add("output_bytes", _n(m, "Output Metrics", "Bytes Written"))
    ref.add(
        "shuffle_read_bytes",
        _n(m, "Shuffle Read Metrics", "Remote Bytes Read")
        + _n(m, "Shuffle Read Metrics", "Local Bytes Read"),
    )
    ref.add("shuffle_write_bytes", _n(m, "Shuffle Write Metrics", "Shuffle Bytes Written"))
    ref.add("memory_spilled_bytes", _n(m, "Memory Bytes Spilled"))
    ref.add("disk_spilled_bytes", _n(m, "Disk Bytes Spilled"))
    ref.add("executor_run_time_ms", _n(m, "Executor Run Time"))
    ref.add("jvm_gc_time_ms", _n(m, "JVM GC Time"))


def _event(ref: Reference, ev: dict[str, Any]) -> None:
    kind = ev.get("Event")
    if kind == "SparkListenerTaskEnd":
        _task_end(ref, ev)
    elif kind == "SparkListenerJobStart":
        ref.add("jobs")
    elif kind == "SparkListenerJobEnd":
        if (ev.get("Job Result") or {}).get("Result") == "JobFailed":
            ref.add("jobs_failed")
    elif kind == "SparkListenerStageCompleted":
        failed = "Failure Reason" in (ev.get("Stage Info") or {})
        ref.add("stages_failed" if failed else "stages_completed")
    elif kind == "SparkListenerExecutorAdded":
        ref.executors.add(str(ev.get("Executor ID")))
    elif kind == SQL_START:
        ref.add("sql_executions")
    elif kind in ("SparkListenerLogStart", "DBCEventLoggingListenerMetadata"):
        ref.version = ref.version or ev.get("Spark Version")
    elif kind == "SparkListenerApplicationStart" and ref.app_id is None:
        ref.app_id, ref.app_name = ev.get("App ID"), ev.get("App Name")
        ref.start = ev.get("Timestamp")
    elif kind == "SparkListenerApplicationEnd":
        ref.end = ev.get("Timestamp")


def _lines(plain: bytes) -> Iterator[tuple[bytes, bool]]:
    """Each line, and whether it is the last one with no newline after it."""
    lines = plain.split(b"\n")
    for i, line in enumerate(lines):
        yield line, i == len(lines) - 1


def reference(unit: LogUnit) -> Reference:
    ref = Reference(layout=unit.layout, files=len(unit.parts), version=unit.version_hint)
    for part in unit.parts:
        codec, plain, cut = decompress(part.read_bytes())
        if ref.codec == "none":
            ref.codec = codec
        ref.cut = ref.cut or cut
        for line, last in _lines(plain):
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                if last:  # cut mid-line (in-progress): parsed as far as complete
                    ref.cut = True
                else:
                    ref.malformed += 1
                continue
            if not isinstance(ev, dict) or "Event" not in ev:
                ref.malformed += 1
                continue
            ref.events += 1
            _event(ref, ev)
    ref.cut = ref.cut or unit.status_inprogress or unit.layout == "inprogress"
    return ref


# --------------------------------------------------------------------------- our reader


def ours(unit: LogUnit) -> tuple[dict[str, Any] | None, str | None]:
    """Our reader's facts, or the error it raised (type and message, one line)."""
    try:
        s = summarize(read_application(unit.path)).to_json_dict()
    except Exception as exc:  # any failure is a finding to report
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    src, app = s["source"], s["app"]
    assert isinstance(src, dict) and isinstance(app, dict)
    facts: dict[str, Any] = dict(s["counts"]) | dict(s["totals"])  # type: ignore[call-overload]
    facts |= {
        "app_id": app["id"],
        "app_name": app["name"],
        "spark_version": app["spark_version"],
        "duration_ms": app["duration_ms"],
        "codec": src["codec"],
        "layout": src["layout"],
        "files": src["files"],
        "complete": src["complete"],
    }
    return facts, None


# --------------------------------------------------------------------------- report


@dataclass
class Row:
    name: str
    ref: dict[str, Any]
    our: dict[str, Any] | None
    error: str | None

    def mismatches(self) -> list[str]:
        if self.our is None:
            return list(FACTS)
        return [f for f in FACTS if self.ref.get(f) != self.our.get(f)]


def _marks(row: Row) -> str:
    if row.our is None:
        return "-" * len(FACTS)
    bad = set(row.mismatches())
    return "".join("X" if f in bad else "." for f in FACTS)


def render(rows: Iterable[Row], out: io.TextIOBase | Any = sys.stdout) -> int:
    rows = list(rows)
    width = max([len(r.name) for r in rows] + [3])
    print("fact order in the 'facts' column ('.' equal, 'X' differs, '-' reader failed):", file=out)
    for i, f in enumerate(FACTS, 1):
        print(f"  {i:2d} {f}", file=out)
    head = (
        f"{'log':<{width}}  {'spark':<14} {'codec':<6} {'layout':<10} "
        f"{'events':>7} {'tasks':>6}  {'reader':<6} facts"
    )
    print(head, file=out)
    print("-" * len(head.expandtabs()) + "-" * len(FACTS), file=out)
    equal = 0
    for r in rows:
        status = "ERROR" if r.error else "ok"
        print(
            f"{r.name:<{width}}  {r.ref['spark_version']!s:<14.14} {r.ref['codec']:<6} "
            f"{r.ref['layout']:<10} {r.ref['events']:>7} {r.ref['tasks']:>6}  "
            f"{status:<6} {_marks(r)}",
            file=out,
        )
        if r.error:
            print(f"    reader raised {r.error}", file=out)
        elif r.mismatches():
            for f in r.mismatches():
                ours_v = r.our.get(f) if r.our else None
                print(f"    {f}: reference={r.ref.get(f)!r} ours={ours_v!r}", file=out)
        else:
            equal += 1
    print(f"{equal} of {len(rows)} logs: every fact equal", file=out)
    return equal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="directory holding the held-out logs")
    parser.add_argument("--json", type=Path, help="also write both sides' facts here")
    args = parser.parse_args(argv)
    units = find_logs(args.dir)
    rows: list[Row] = []
    for unit in units:
        name = str(unit.path.relative_to(args.dir)) if unit.path != args.dir else unit.path.name
        our, error = ours(unit)
        rows.append(Row(name, reference(unit).facts(), our, error))
    equal = render(rows)
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {"log": r.name, "reference": r.ref, "ours": r.our, "error": r.error}
                    for r in rows
                ],
                indent=1,
            )
        )
    return 0 if equal == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
