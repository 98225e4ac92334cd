"""cartesian_join: a cartesian product or broadcast nested-loop join compared many row
pairs.

``CartesianProduct`` and ``BroadcastNestedLoopJoin`` evaluate the join condition on every
pair of rows, so their work grows with the product of the sides' row counts. Spark falls
back to them for joins without an equality condition (or explicit crossJoin). A side of
a handful of rows (a scalar compared against every row) is only a filter, so both sides
must be of some size.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ...model import Application, PlanNode, SqlExecution
from ..findings import Finding, Severity, finding_id
from ..thresholds import Thresholds
from ._plan import (
    metric,
    plan_nodes,
    side_rows,
    sql_duration_ms,
    sql_scope,
    sql_stage_times,
    wall_saved,
)
from ._sizing import app_cores, savings_over_cores

_NESTED_LOOPS = ("CartesianProduct", "BroadcastNestedLoopJoin")


@dataclass(frozen=True, slots=True)
class _Loop:
    node: PlanNode
    left_rows: int
    right_rows: int
    output_rows: int | None

    @property
    def pairs(self) -> int:
        return self.left_rows * self.right_rows


def _loop(sql: SqlExecution, node: PlanNode) -> _Loop | None:
    if not any(name in node.name for name in _NESTED_LOOPS) or len(node.children) != 2:
        return None
    left, right = (side_rows(sql, child) for child in node.children)
    if left is None or right is None:
        return None
    return _Loop(node, left, right, metric(sql, node, "number of output rows"))


def cartesian_join(app: Application, limits: Thresholds) -> list[Finding]:
    by_sql: dict[int, list[tuple[SqlExecution, _Loop]]] = defaultdict(list)
    for sql, node in plan_nodes(app):
        loop = _loop(sql, node)
        if loop is not None:
            by_sql[sql.id].append((sql, loop))
    # Nested loops over a few pairs (a scalar subquery's one row, say) are not worth a line.
    return [
        _finding(app, loops, limits)
        for loops in by_sql.values()
        if max(loop.pairs for _, loop in loops) >= limits.metadata.cartesian_min_pairs
    ]


def _saved_ms(app: Application, sql: SqlExecution) -> int:
    """The nested loop runs inside the query's longest stage; an equi-join does the same
    work in time linear in the rows, so we count 90 % of that stage's task time as saved
    (our assumption: the rows are still read and written)."""
    longest = max(sql_stage_times(app, sql.id), default=(0, 0, 0))
    return wall_saved(longest[1] * 0.9, app_cores(app), sql)


def _finding(
    app: Application, loops: list[tuple[SqlExecution, _Loop]], limits: Thresholds
) -> Finding:
    lim = limits.metadata
    sql, loop = max(loops, key=lambda item: item[1].pairs)
    smaller = min(loop.left_rows, loop.right_rows)
    severity: Severity = "info"
    if smaller >= lim.cartesian_min_side_rows:
        if loop.pairs >= lim.cartesian_critical_pairs:
            severity = "critical"
        elif loop.pairs >= lim.cartesian_min_pairs:
            severity = "warning"
    evidence: dict[str, int | float | str] = {
        "join": loop.node.name,
        "left_rows": loop.left_rows,
        "right_rows": loop.right_rows,
        "row_pairs_compared": loop.pairs,
        "nested_loop_joins": len(loops),
        "sql_duration_ms": sql_duration_ms(sql),
    }
    if loop.output_rows is not None:
        evidence["output_rows"] = loop.output_rows
        if loop.pairs:
            evidence["output_per_pair"] = round(loop.output_rows / loop.pairs, 6)
    kept = ""
    if loop.output_rows is not None and loop.pairs:
        kept = f", kept {loop.output_rows:,} ({loop.output_rows / loop.pairs:.4%})"
    scope = sql_scope(app, [sql.id])
    return Finding(
        id=finding_id("cartesian_join", scope),
        kind="cartesian_join",
        agent="metadata",
        severity=severity,
        title=(
            f"SQL {sql.id}: {loop.node.name} compared {loop.pairs:,} row pairs "
            f"({loop.left_rows:,} x {loop.right_rows:,}{kept})"
        ),
        scope=scope,
        evidence=evidence,
        recommendation=(
            "Give the join an equality condition Spark can hash or sort on: for range or "
            "near-equality conditions, bucket both sides on a derived key (e.g. "
            "floor(price / width)) and join on the bucket and its neighbours, then apply "
            "the exact condition as a filter; drop an accidental crossJoin or a join "
            "whose condition lost its key columns."
        ),
        estimated_savings=savings_over_cores(app, _saved_ms(app, sql)),
        confidence=0.85,
        explanation=(
            "Without an equi-join key Spark can only run a nested loop: CartesianProduct "
            "pairs every partition of one side with every partition of the other, and "
            "BroadcastNestedLoopJoin tests every streamed row against the whole broadcast "
            "side. The work is the product of the row counts, so it grows quadratically "
            "with the data, while a hash or sort-merge join grows linearly."
        ),
    )
