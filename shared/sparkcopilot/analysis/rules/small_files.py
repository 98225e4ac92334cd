"""small_files: a scan read (or a write produced) many files of a few MB or less.

Every file costs a listing entry, an open, a footer read and, on object stores, several
requests, whatever its size; Spark also charges ``spark.sql.files.openCostInBytes``
(4 MB) per file when it packs files into read partitions. Hundreds of tiny files make the
scan's time the per-file overhead rather than the bytes. Counts and sizes are the scan's
"number of files read" / "size of files read" and the write's "number of written files" /
"written output" SQL metrics. A table read by several queries is one finding.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from ...model import Application, PlanNode, SqlExecution
from ..findings import Finding, Severity, finding_id
from ..thresholds import MetadataLimits, Thresholds
from ._plan import MIB, human_bytes, metric, plan_nodes, sql_scope, wall_saved
from ._sizing import app_cores, savings_over_cores


@dataclass(frozen=True, slots=True)
class _Files:
    write: bool
    table: str
    node: str
    files: int
    bytes: int
    #: The scan's "scan time" (summed over tasks); None for writes and old logs.
    scan_ms: int | None = None

    @property
    def average(self) -> float:
        return self.bytes / self.files if self.files else 0.0


def _table(node: PlanNode) -> str:
    location = node.metadata.get("Location")
    if location:
        return location
    return node.description[:200] or node.name


def _files(sql: SqlExecution, node: PlanNode) -> _Files | None:
    read = metric(sql, node, "number of files read")
    if read is not None:
        size = metric(sql, node, "size of files read")
        if size is None:
            return None
        scan_ms = metric(sql, node, "scan time")
        return _Files(False, _table(node), node.name, read, size, scan_ms)
    written = metric(sql, node, "number of written files")
    if written is not None:
        size = metric(sql, node, "written output")
        if size is None:
            return None
        return _Files(True, node.description[:200] or node.name, node.name, written, size)
    return None


def _overhead_ms(entry: _Files, lim: MetadataLimits) -> int:
    """Task time the file count costs: the per-file charge, or the measured scan time."""
    return max(entry.files * lim.small_per_file_ms, entry.scan_ms or 0)


def _severity(entry: _Files, lim: MetadataLimits) -> Severity | None:
    if entry.files <= lim.small_min_files or entry.average >= lim.small_max_avg_bytes:
        return None
    if _overhead_ms(entry, lim) < lim.small_min_overhead_ms:
        return None
    if entry.files >= lim.small_critical_files and entry.average < lim.small_critical_avg_bytes:
        return "critical"
    return "warning"


def small_files(app: Application, limits: Thresholds) -> list[Finding]:
    lim = limits.metadata
    # One entry per table (or write target): the largest count any query saw.
    worst: dict[tuple[bool, str], _Files] = {}
    sqls: dict[tuple[bool, str], set[int]] = defaultdict(set)
    for sql, node in plan_nodes(app):
        entry = _files(sql, node)
        if entry is None or _severity(entry, lim) is None:
            continue
        key = (entry.write, entry.table)
        sqls[key].add(sql.id)
        if key not in worst or entry.files > worst[key].files:
            worst[key] = entry
    # Tables read by exactly the same queries share a scope, hence one finding.
    grouped: dict[tuple[bool, frozenset[int]], list[_Files]] = defaultdict(list)
    for key, entry in worst.items():
        grouped[(entry.write, frozenset(sqls[key]))].append(entry)
    return [
        _finding(app, sorted(ids), entries, lim)
        for (_, ids), entries in sorted(grouped.items(), key=lambda item: min(item[0][1]))
    ]


def _saved_ms(app: Application, sql_ids: list[int], entry: _Files, lim: MetadataLimits) -> int:
    """The per-file overhead of the files compaction removes, spread over the cores, at
    most the queries' length."""
    target = max(1, math.ceil(entry.bytes / lim.small_target_file_bytes))
    overhead = _overhead_ms(entry, lim) * (1 - target / entry.files)
    sqls = [s for s in app.sql_executions if s.id in sql_ids]
    return max((wall_saved(overhead, app_cores(app), s) for s in sqls), default=0)


def _finding(
    app: Application, sql_ids: list[int], entries: list[_Files], lim: MetadataLimits
) -> Finding:
    entry = max(entries, key=lambda e: e.files)
    severity = max(
        (_severity(e, lim) or "warning" for e in entries), key=("warning", "critical").index
    )
    target = max(1, math.ceil(entry.bytes / lim.small_target_file_bytes))
    config: dict[str, str] = {}
    if entry.write:
        verb, noun = "wrote", "write"
        advice = (
            f"Write fewer, larger files: about {target} file(s) of up to "
            f"{lim.small_target_file_bytes >> 20} MiB hold these {entry.bytes / MIB:,.1f} MiB; "
            f"coalesce({target}) or repartition by the partition columns before the write"
        )
        if app.app.databricks_runtime:
            config["spark.databricks.delta.optimizeWrite.enabled"] = "true"
            advice += ", or enable Delta optimized writes"
    else:
        verb, noun = "read", "scan"
        # Charge each file roughly what it holds, so Spark packs about
        # maxPartitionBytes of real data, not 32 tiny files, into one task.
        open_cost_mb = max(1, math.ceil(entry.average / MIB))
        config["spark.sql.files.openCostInBytes"] = f"{open_cost_mb}m"
        advice = (
            f"Compact the source into about {target} file(s) of ~"
            f"{lim.small_target_file_bytes >> 20} MiB (OPTIMIZE for Delta/Iceberg tables, or "
            f"rewrite with coalesce({target})) and fix the job that writes it; until then "
            f"lower spark.sql.files.openCostInBytes to {open_cost_mb}m so each task packs "
            f"more of the small files (splits stay at maxPartitionBytes="
            f"{lim.small_target_file_bytes >> 20}m)"
        )
    if entry.scan_ms is not None:
        evidence_scan: dict[str, int | float | str] = {"scan_time_ms": entry.scan_ms}
    else:
        evidence_scan = {}
    evidence: dict[str, int | float | str] = {
        **evidence_scan,
        "plan_node": entry.node,
        "files": entry.files,
        "bytes": entry.bytes,
        "average_file_bytes": int(entry.average),
        "target_file_bytes": lim.small_target_file_bytes,
        "estimated_file_overhead_ms": _overhead_ms(entry, lim),
        "tables": len(entries),
        "location": entry.table[:200],
    }
    scope = sql_scope(app, sql_ids)
    queries = f"SQL {sql_ids[0]}" if len(sql_ids) == 1 else f"SQL {', '.join(map(str, sql_ids))}"
    return Finding(
        id=finding_id("small_files", scope),
        kind="small_files",
        agent="metadata",
        severity=severity,
        title=(
            f"{queries}: {noun} {verb} {entry.files:,} files averaging "
            f"{human_bytes(entry.average)} ({human_bytes(entry.bytes)} in all)"
        ),
        scope=scope,
        evidence=evidence,
        recommendation=advice + ".",
        config=config,
        estimated_savings=savings_over_cores(app, _saved_ms(app, sql_ids, entry, lim)),
        confidence=0.85,
        explanation=(
            "Spark opens, lists and reads the footer of every file separately, and counts "
            "spark.sql.files.openCostInBytes (4 MB by default) per file when it packs "
            "files into partitions of spark.sql.files.maxPartitionBytes (128 MB), so many "
            "tiny files make a scan slow and create many small tasks. Files near 128 MB "
            "amortise that overhead; compaction (Delta/Iceberg OPTIMIZE) or writing with "
            "fewer output partitions produces them."
        ),
    )
