"""The Delta agent: layout advice for Delta tables the plans read or write.

It reads the metadata agent's findings: small files in a Delta table call for OPTIMIZE
(and optimized writes / auto compaction on the writer), a full scan of a Delta table
for Z-ordering or liquid clustering by the filtered columns. A log whose plans show no
Delta table is "not applicable", which is an answer, not a gap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from ..model import Application
from .findings import Finding, finding_id

#: Delta's file indexes (Apache Delta and Databricks) and write commands in plan text.
_DELTA = re.compile(r"Delta|Tahoe", re.IGNORECASE)
_PATH = re.compile(r"\[([^\]]+)\]")
_TABLE = re.compile(r"^(?:Photon)?Scan \w+ (\S+)")


class DeltaPartial(BaseModel):
    """The Delta agent's typed partial result."""

    model_config = ConfigDict(frozen=True)

    applicable: bool
    reason: str
    #: Delta tables (names or paths) the plans read or write.
    tables: tuple[str, ...] = ()


def _delta_tables(app: Application) -> list[str]:
    tables: dict[str, None] = {}
    for sql in app.sql_executions:
        if sql.plan is None:
            continue
        for node in sql.plan.walk():
            location = node.metadata.get("Location", "")
            # Delta's own transaction-log reads ("Delta Table State") are not user tables.
            if "Table State" in node.name:
                continue
            if _DELTA.search(location) or ("Scan" not in node.name and _DELTA.search(node.name)):
                tables[_table_name(node.name, location)] = None
    return list(tables)


def _table_name(node_name: str, location: str) -> str:
    named = _TABLE.match(node_name)
    if named:
        return named.group(1)
    path = _PATH.search(location)
    return f"delta.`{path.group(1)}`" if path else (location or node_name)[:200]


def delta_partial(app: Application) -> DeltaPartial:
    tables = _delta_tables(app)
    if not tables:
        return DeltaPartial(applicable=False, reason="the plans read or write no Delta table")
    return DeltaPartial(
        applicable=True, reason=f"{len(tables)} Delta table(s) in the plans", tables=tuple(tables)
    )


def _optimize_target(location: str) -> str:
    path = _PATH.search(location)
    return f"delta.`{path.group(1).split(',')[0].strip()}`" if path else "<table>"


def delta_findings(app: Application, metadata: Iterable[Finding]) -> list[Finding]:
    """Layout advice for the metadata findings that concern a Delta table."""
    out = []
    for finding in metadata:
        location = str(finding.evidence.get("location", ""))
        if finding.kind not in ("small_files", "full_scan") or not _DELTA.search(location):
            continue
        target = _optimize_target(location)
        if finding.kind == "small_files":
            config = {
                "spark.databricks.delta.optimizeWrite.enabled": "true",
                "spark.databricks.delta.autoCompact.enabled": "true",
            }
            title = f"Delta table {target} is made of small files: compact it"
            advice = (
                f"Run OPTIMIZE {target} to compact it, and enable optimized writes and auto "
                "compaction on the jobs that write it so it stays compacted."
            )
        else:
            columns = str(finding.evidence.get("filter_columns", "")) or "<filtered columns>"
            config = {}
            title = f"Delta table {target} is not clustered by what queries filter on"
            advice = (
                f"Cluster {target} by {columns}: ALTER TABLE ... CLUSTER BY ({columns}) "
                f"(liquid clustering, Delta 3.1+ / Databricks Runtime 13.3+), or OPTIMIZE "
                f"{target} ZORDER BY ({columns}); data skipping then reads only the files "
                "whose statistics match the filter."
            )
        out.append(
            Finding(
                id=finding_id("delta_layout", finding.scope),
                kind="delta_layout",
                agent="delta",
                severity=finding.severity,
                title=title,
                scope=finding.scope,
                evidence={**finding.evidence, "because_of": finding.id},
                recommendation=advice,
                config=config,
                # The savings are the metadata finding's; counted there, not twice.
                confidence=round(finding.confidence * 0.9, 2),
                explanation=(
                    "Delta keeps min/max statistics per file and skips files that cannot "
                    "match a filter; that works when files are few, large and grouped by "
                    "the filtered columns, which OPTIMIZE, Z-ordering and liquid "
                    "clustering produce."
                ),
            )
        )
    return out
