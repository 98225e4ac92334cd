"""Shared plan reading of the metadata agent's rules: SQL metric values of plan nodes,
the sizes and row counts of a join's sides, and the scope of a SQL execution."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ...model import Application, PlanNode, SqlExecution
from ..findings import Scope

MIB = 1 << 20


def metric(sql: SqlExecution, node: PlanNode, name: str) -> int | None:
    """The final value of the node's SQL metric ``name``, or None when the log has none."""
    for m in node.metrics:
        if m.name == name:
            value = sql.metric_values.get(m.accumulator_id)
            if value is not None:
                return int(value)
    return None


def plan_nodes(app: Application) -> Iterator[tuple[SqlExecution, PlanNode]]:
    """Every node of every SQL execution's final plan."""
    for sql in app.sql_executions:
        if sql.plan is not None:
            for node in sql.plan.walk():
                yield sql, node


def _frontier(sql: SqlExecution, node: PlanNode, name: str) -> list[int] | None:
    """Values of ``name`` on the topmost nodes of the subtree that carry it; None when a
    branch reaches a leaf without one."""
    value = metric(sql, node, name)
    if value is not None:
        return [value]
    if not node.children:
        return None
    found: list[int] = []
    for child in node.children:
        sub = _frontier(sql, child, name)
        if sub is None:
            return None
        found.extend(sub)
    return found


def side_bytes(sql: SqlExecution, side: PlanNode) -> int | None:
    """Bytes a join side delivers: the shuffle "data size" of the exchanges feeding it
    (what a broadcast would have to hold), None when some branch has no exchange."""
    sizes = _frontier(sql, side, "data size")
    return sum(sizes) if sizes else None


def side_rows(sql: SqlExecution, side: PlanNode) -> int | None:
    """Rows a join side delivers: the nearest "number of output rows", else the shuffle's
    "shuffle records written" (a cartesian product re-reads shuffle blocks, so "records
    read" overcounts)."""
    for node in side.walk():
        rows = metric(sql, node, "number of output rows")
        if rows is None:
            rows = metric(sql, node, "shuffle records written")
        if rows is not None:
            return rows
    return None


def human_bytes(value: float) -> str:
    """1.5 KiB, 27.3 MiB, 4.0 GiB: the unit that keeps the number readable."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:,.0f} B" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TiB"  # pragma: no cover


def sql_scope(app: Application, sql_ids: Iterable[int]) -> Scope:
    ids = sorted(set(sql_ids))
    jobs = sorted({j for sql in app.sql_executions if sql.id in ids for j in sql.job_ids})
    stages = sorted({s.stage_id for s in app.stages if s.sql_id in ids})
    return Scope(job_ids=tuple(jobs), stage_ids=tuple(stages), sql_ids=tuple(ids))


def sql_duration_ms(sql: SqlExecution) -> int:
    if sql.start_ms is None or sql.end_ms is None or sql.end_ms < sql.start_ms:
        return 0
    return sql.end_ms - sql.start_ms


def sql_stage_times(app: Application, sql_id: int) -> list[tuple[int, int, int]]:
    """(stage duration, summed task time, shuffle bytes read) of each stage of a query."""
    out = []
    for stage in app.stages:
        if stage.sql_id != sql_id:
            continue
        tasks = app.stage_tasks(stage)
        out.append(
            (
                stage.duration_ms or 0,
                int(tasks.duration_ms.sum()),
                int(tasks.shuffle_read_bytes.sum()),
            )
        )
    return out


def wall_saved(task_ms: float, cores: int, sql: SqlExecution) -> int:
    """Task time spread over the cores, at most the query's own length."""
    saved = task_ms / max(1, cores)
    length = sql_duration_ms(sql)
    return int(min(saved, length) if length else saved)


def spark_version_at_least(app: Application, major: int, minor: int) -> bool:
    parts = (app.app.spark_version or "").split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= (major, minor)
    except (ValueError, IndexError):
        return False
