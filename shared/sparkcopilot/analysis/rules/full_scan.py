"""full_scan: a large file scan whose filter threw nearly every row away.

When the filter right above a scan keeps a tenth of the rows or less, nothing upstream
pruned: no partition filter skipped directories and the files' min/max statistics (row
groups, Delta data skipping) did not rule the rest out, because the data is not laid out
by the filtered columns or the predicate could not be pushed (a function or cast on the
column). Rows are the scan's and the filter's "number of output rows" SQL metrics; bytes
the scan's "size of files read". A table read the same way by several queries is one
finding.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from ...model import Application, PlanNode, SqlExecution
from ..findings import Finding, Severity, finding_id
from ..thresholds import MetadataLimits, Thresholds
from ._plan import human_bytes, metric, plan_nodes, sql_duration_ms, sql_scope
from ._sizing import app_cores, app_wall_ms, savings_over_cores

#: Nodes between a filter and its scan that pass rows through unchanged.
_PASS_THROUGH = re.compile(r"^(?:ColumnarToRow|InputAdapter|WholeStageCodegen.*|.*ColumnarToRow)$")
_COLUMN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)#\d+")

#: Share of the ideal (reading only the kept rows) that pruning reaches in practice:
#: row groups and files mix kept and dropped rows. Our assumption, hence a low confidence.
_PRUNING_EFFICIENCY = 0.5


@dataclass(frozen=True, slots=True)
class PrunableScan:
    sql: SqlExecution
    location: str
    node: str
    bytes_read: int
    rows_scanned: int
    rows_kept: int
    #: Summed over tasks; None when the log has no "scan time" metric.
    scan_ms: int | None
    filter_columns: tuple[str, ...]
    partition_filters: str

    @property
    def kept_share(self) -> float:
        return self.rows_kept / self.rows_scanned if self.rows_scanned else 1.0


def _scan_below(node: PlanNode) -> PlanNode | None:
    while len(node.children) == 1:
        node = node.children[0]
        if "Scan" in node.name:
            return node
        if not _PASS_THROUGH.match(node.name):
            return None
    return None


def prunable_scans(app: Application) -> list[PrunableScan]:
    """Every filter-over-file-scan pair of every query, with its rows in and out."""
    found = []
    for sql, node in plan_nodes(app):
        if not node.name.endswith("Filter"):
            continue
        scan = _scan_below(node)
        if scan is None:
            continue
        bytes_read = metric(sql, scan, "size of files read")
        scanned = metric(sql, scan, "number of output rows")
        kept = metric(sql, node, "number of output rows")
        if bytes_read is None or scanned is None or kept is None:
            continue
        data_filters = scan.metadata.get("DataFilters", "")
        columns = tuple(dict.fromkeys(_COLUMN.findall(data_filters)))
        found.append(
            PrunableScan(
                sql=sql,
                location=scan.metadata.get("Location", scan.name)[:300],
                node=scan.name,
                bytes_read=bytes_read,
                rows_scanned=scanned,
                rows_kept=kept,
                scan_ms=metric(sql, scan, "scan time"),
                filter_columns=columns,
                partition_filters=scan.metadata.get("PartitionFilters", ""),
            )
        )
    return found


def _severity(scan: PrunableScan, lim: MetadataLimits) -> Severity | None:
    if scan.bytes_read < lim.scan_min_bytes or scan.rows_scanned < lim.scan_min_rows:
        return None
    if scan.kept_share > lim.scan_kept_share_warning:
        return None
    if (
        scan.kept_share <= lim.scan_kept_share_critical
        and scan.bytes_read >= lim.scan_critical_bytes
    ):
        return "critical"
    return "warning"


def _saved_ms(app: Application, scan: PrunableScan, cores: int) -> int:
    """Wall time pruning would give back: the scan's task time beyond the kept share, at
    the assumed pruning efficiency, spread over the cores, at most the query's length."""
    if scan.scan_ms is not None:
        task_ms = scan.scan_ms
    else:
        stages = [s for s in app.stages if s.sql_id == scan.sql.id]
        task_ms = sum(
            int(app.stage_tasks(s).duration_ms[app.stage_tasks(s).input_bytes > 0].sum())
            for s in stages
        )
    saved = task_ms * (1 - scan.kept_share) * _PRUNING_EFFICIENCY / max(1, cores)
    length = sql_duration_ms(scan.sql)
    return int(min(saved, length) if length else saved)


def full_scan(app: Application, limits: Thresholds) -> list[Finding]:
    lim = limits.metadata
    wall = app_wall_ms(app)
    cores = app_cores(app)
    by_table: dict[str, list[tuple[PrunableScan, Severity, int]]] = defaultdict(list)
    for scan in prunable_scans(app):
        severity = _severity(scan, lim)
        if severity is None:
            continue
        saved = _saved_ms(app, scan, cores)
        if saved < lim.scan_min_savings_ms or saved < lim.scan_min_share_of_app * wall:
            continue
        by_table[scan.location].append((scan, severity, saved))
    return [_finding(app, entries) for _, entries in sorted(by_table.items())]


def _finding(app: Application, entries: list[tuple[PrunableScan, Severity, int]]) -> Finding:
    scan, _, _ = max(entries, key=lambda e: e[0].bytes_read)
    severity: Severity = "critical" if any(e[1] == "critical" for e in entries) else "warning"
    saved = sum(e[2] for e in entries)
    scope = sql_scope(app, (e[0].sql.id for e in entries))
    columns = ", ".join(scan.filter_columns) or "the filtered columns"
    evidence: dict[str, int | float | str] = {
        "location": scan.location,
        "plan_node": scan.node,
        "bytes_read": scan.bytes_read,
        "rows_scanned": scan.rows_scanned,
        "rows_kept_by_filter": scan.rows_kept,
        "kept_share": round(scan.kept_share, 4),
        "filter_columns": ", ".join(scan.filter_columns),
        "partition_filters": scan.partition_filters,
        "queries": len(entries),
    }
    if scan.scan_ms is not None:
        evidence["scan_time_ms"] = scan.scan_ms
    return Finding(
        id=finding_id("full_scan", scope),
        kind="full_scan",
        agent="metadata",
        severity=severity,
        title=(
            f"Read {human_bytes(scan.bytes_read)} ({scan.rows_scanned:,} rows) to keep "
            f"{scan.kept_share:.1%} of them: the filter on {columns} pruned nothing"
        ),
        scope=scope,
        evidence=evidence,
        recommendation=(
            f"Lay the table out by {columns} so the scan can skip what the filter drops: "
            "partition by it when it has few distinct values (and filter on the partition "
            "column itself), otherwise sort or cluster the files by it (Delta: OPTIMIZE ... "
            "ZORDER BY or liquid clustering) so min/max statistics skip row groups and "
            "files. Keep the predicate pushable: compare the bare column, not a function "
            "or cast of it."
        ),
        estimated_savings=savings_over_cores(app, saved),
        confidence=0.6,
        explanation=(
            "Spark can skip whole partitions when the query filters on a partition column, "
            "and Parquet row groups or Delta files whose min/max statistics exclude the "
            "predicate. Neither helps when the data is not organised by the filtered column: "
            "every byte is read and decoded, then thrown away by the filter."
        ),
    )
