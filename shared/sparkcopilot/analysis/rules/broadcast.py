"""broadcast_join_missed: a shuffle join (sort-merge or shuffled hash) where one side was
small enough to broadcast.

A shuffle join shuffles (and for sort-merge, sorts) both sides; broadcasting the small
side ships it once to every executor and streams the big side through a hash lookup, with
no shuffle of the big side at all. Side sizes are the shuffle "data size" of the
exchanges that feed the join, i.e. what Spark actually moved. Bands are DataFlint's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from ...model import Application, PlanNode, SqlExecution
from ...prediction.simulator import size_bytes
from ..findings import Finding, Severity, finding_id
from ..thresholds import MetadataLimits, Thresholds
from ._plan import (
    MIB,
    human_bytes,
    plan_nodes,
    side_bytes,
    side_rows,
    spark_version_at_least,
    sql_scope,
    sql_stage_times,
    wall_saved,
)
from ._sizing import app_cores, savings_over_cores

_SHUFFLE_JOINS = ("SortMergeJoin", "ShuffledHashJoin")
_DEFAULT_THRESHOLD = 10 << 20


@dataclass(frozen=True, slots=True)
class _Join:
    node: PlanNode
    small_bytes: int
    big_bytes: int
    small_rows: int | None
    big_rows: int | None
    small_is_left: bool


def _join_type(node: PlanNode) -> str:
    """Spark's simpleString ends ``..., <JoinType>, <condition>`` (e.g. Inner, LeftOuter)."""
    for kind in ("FullOuter", "LeftOuter", "RightOuter", "LeftSemi", "LeftAnti", "Existence"):
        if f", {kind}" in node.description:
            return kind
    return "Inner"


def _buildable(join_type: str, small_is_left: bool) -> bool:
    """Which side a broadcast hash join may build on: not the preserved side of an outer
    join, not the left of a semi/anti join, neither side of a full outer join."""
    if join_type == "FullOuter":
        return False
    if join_type in ("LeftOuter", "LeftSemi", "LeftAnti", "Existence"):
        return not small_is_left
    if join_type == "RightOuter":
        return small_is_left
    return True


def _in_band(small: int, big: int, lim: MetadataLimits) -> bool:
    """DataFlint's SMJ-should-broadcast bands, capped at its broadcast-too-large size."""
    if small > lim.bcast_max_bytes:
        return False
    return (
        small < lim.bcast_small_bytes
        or (small < lim.bcast_mid_small_bytes and big > lim.bcast_mid_big_bytes)
        or (small < lim.bcast_large_small_bytes and big > lim.bcast_large_big_bytes)
    )


def _candidate(sql: SqlExecution, node: PlanNode, lim: MetadataLimits) -> _Join | None:
    if not any(name in node.name for name in _SHUFFLE_JOINS) or len(node.children) != 2:
        return None
    left, right = node.children
    sizes = side_bytes(sql, left), side_bytes(sql, right)
    if sizes[0] is None or sizes[1] is None:
        return None
    small_is_left = sizes[0] <= sizes[1]
    small, big = (sizes[0], sizes[1]) if small_is_left else (sizes[1], sizes[0])
    if not _buildable(_join_type(node), small_is_left) or not _in_band(small, big, lim):
        return None
    rows = side_rows(sql, left), side_rows(sql, right)
    return _Join(
        node=node,
        small_bytes=small,
        big_bytes=big,
        small_rows=rows[0] if small_is_left else rows[1],
        big_rows=rows[1] if small_is_left else rows[0],
        small_is_left=small_is_left,
    )


def broadcast_join_missed(app: Application, limits: Thresholds) -> list[Finding]:
    lim = limits.metadata
    by_sql: dict[int, list[_Join]] = defaultdict(list)
    for sql, node in plan_nodes(app):
        join = _candidate(sql, node, lim)
        if join is not None:
            by_sql[sql.id].append(join)
    sqls = {sql.id: sql for sql in app.sql_executions}
    return [_finding(app, sqls[sql_id], joins, lim) for sql_id, joins in by_sql.items()]


def _saved_ms(app: Application, sql: SqlExecution, join: _Join) -> int:
    """The stages that read the join's shuffles spend their time fetching, sorting and
    merging both sides; a broadcast hash join probes the big side's rows where they are
    made instead, in the stage that wrote them to the shuffle. We count the big side's
    share of the reading stages' task time as saved: a hash probe costs little against
    a fetch, a sort and a merge (our assumption; on the closed loop's real Spark runs
    80–85 % of the reading stage went, the probe and the aggregation after it moving to
    the writing stage)."""
    reading = [(task_ms, read) for _, task_ms, read in sql_stage_times(app, sql.id) if read > 0]
    share = join.big_bytes / max(1, join.big_bytes + join.small_bytes)
    task_ms = sum(t for t, read in reading if read >= join.small_bytes) * share
    return wall_saved(task_ms, app_cores(app), sql)


def _finding(
    app: Application, sql: SqlExecution, joins: list[_Join], lim: MetadataLimits
) -> Finding:
    sql_id = sql.id
    # The join that shuffles the most avoidable bytes speaks for the SQL execution.
    join = max(joins, key=lambda j: j.big_bytes)
    serious = [j for j in joins if j.big_bytes >= lim.bcast_min_big_bytes] or joins
    biggest_small = max(j.small_bytes for j in serious)
    severity: Severity = "info"
    if join.big_bytes >= lim.bcast_critical_big_bytes:
        severity = "critical"
    elif join.big_bytes >= lim.bcast_min_big_bytes:
        severity = "warning"

    setting = size_bytes(app.spark_conf.get("spark.sql.autoBroadcastJoinThreshold"))
    wanted_mb = math.ceil(biggest_small * lim.bcast_headroom / MIB)
    threshold = min(max(wanted_mb << 20, _DEFAULT_THRESHOLD), lim.bcast_max_bytes)
    config: dict[str, str] = {}
    notes: list[str] = []
    if setting is not None and setting < 0:
        notes.append("the application disabled broadcast joins (autoBroadcastJoinThreshold=-1)")
    if setting is None or setting < threshold:
        config["spark.sql.autoBroadcastJoinThreshold"] = f"{threshold >> 20}m"
    default = "true" if spark_version_at_least(app, 3, 2) else "false"
    adaptive = app.spark_conf.get("spark.sql.adaptive.enabled", default).strip().lower()
    if adaptive != "true" and spark_version_at_least(app, 3, 0):
        notes.append("adaptive query execution was off, so Spark could not switch at run time")
        config["spark.sql.adaptive.enabled"] = "true"
    side = "left" if join.small_is_left else "right"
    rows = f" ({join.small_rows:,} rows)" if join.small_rows is not None else ""
    advice = (
        f"Broadcast the {side} side of the join ({human_bytes(join.small_bytes)}{rows}): "
        f"add a broadcast() hint on that DataFrame / a /*+ BROADCAST */ hint, or raise "
        f"spark.sql.autoBroadcastJoinThreshold to {threshold >> 20}m "
        f"(above the small side with headroom, at most {lim.bcast_max_bytes >> 20} MiB)"
    )
    if notes:
        advice += "; note " + " and ".join(notes)
    evidence: dict[str, int | float | str] = {
        "join": join.node.name,
        "join_type": _join_type(join.node),
        "small_side_bytes": join.small_bytes,
        "big_side_bytes": join.big_bytes,
        "shuffle_joins_that_could_broadcast": len(joins),
    }
    if join.small_rows is not None:
        evidence["small_side_rows"] = join.small_rows
    if join.big_rows is not None:
        evidence["big_side_rows"] = join.big_rows
    if setting is not None:
        evidence["spark.sql.autoBroadcastJoinThreshold"] = app.spark_conf[
            "spark.sql.autoBroadcastJoinThreshold"
        ]
    scope = sql_scope(app, [sql_id])
    return Finding(
        id=finding_id("broadcast_join_missed", scope),
        kind="broadcast_join_missed",
        agent="metadata",
        severity=severity,
        title=(
            f"SQL {sql_id}: {join.node.name} shuffled {human_bytes(join.big_bytes)} to join "
            f"a {human_bytes(join.small_bytes)} side that could have been broadcast"
        ),
        scope=scope,
        evidence=evidence,
        recommendation=advice + ".",
        config=config,
        estimated_savings=savings_over_cores(app, _saved_ms(app, sql, join)),
        confidence=0.8,
        explanation=(
            "Spark plans a broadcast hash join when the optimizer's size estimate of one "
            "side is under spark.sql.autoBroadcastJoinThreshold (10 MB by default), or, "
            "with adaptive query execution, when the side's shuffle turns out small at run "
            "time. Otherwise it shuffles both sides, and a sort-merge join sorts them. "
            "Broadcasting the small side removes the big side's shuffle and sort; very "
            "large broadcasts (over about 1 GB) strain the driver and executor memory."
        ),
    )
