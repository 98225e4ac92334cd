"""python_udf: a row-at-a-time Python UDF (``BatchEvalPython``) spent real time.

``BatchEvalPython`` pickles every row to a Python worker and back, one row per call.
Arrow/pandas UDFs (``ArrowEvalPython``, ``*InPandas``, ``MapInArrow``) move columnar
batches and are the fix, not the problem; a built-in SQL function avoids Python entirely.
The time the log shows is "time to run Python workers" (Spark 4.0+), summed over tasks;
older logs are judged by the rows that went through the UDF.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ...model import Application, PlanNode, SqlExecution
from ..findings import Finding, Savings, Severity, finding_id
from ..thresholds import Thresholds
from ._plan import MIB, metric, plan_nodes, spark_version_at_least, sql_scope
from ._sizing import app_cores

_ROW_AT_A_TIME = ("BatchEvalPython",)
_UDF_NAME = re.compile(r"\[([A-Za-z_][\w.]*)\(")


def _is_row_udf(node: PlanNode) -> bool:
    return any(node.name.endswith(name) for name in _ROW_AT_A_TIME) and "Arrow" not in node.name


def python_udf(app: Application, limits: Thresholds) -> list[Finding]:
    by_sql: dict[int, list[tuple[SqlExecution, PlanNode]]] = defaultdict(list)
    for sql, node in plan_nodes(app):
        if _is_row_udf(node):
            by_sql[sql.id].append((sql, node))
    return [_finding(app, nodes, limits) for nodes in by_sql.values()]


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _finding(
    app: Application, nodes: list[tuple[SqlExecution, PlanNode]], limits: Thresholds
) -> Finding:
    lim = limits.metadata
    sql = nodes[0][0]
    python_ms = _sum([metric(s, n, "time to run Python workers") for s, n in nodes])
    rows = _sum([metric(s, n, "number of output rows") for s, n in nodes])
    sent = _sum([metric(s, n, "data sent to Python workers") for s, n in nodes])
    names = sorted({m for _, n in nodes for m in _UDF_NAME.findall(n.description)})

    severity: Severity = "info"
    if python_ms is not None:
        if python_ms >= lim.udf_critical_python_ms:
            severity = "critical"
        elif python_ms >= lim.udf_min_python_ms:
            severity = "warning"
    elif rows is not None and rows >= lim.udf_min_rows:
        severity = "warning"

    cores = max(1, app_cores(app))
    saved_task_ms = int((python_ms or 0) * lim.udf_saved_share)
    evidence: dict[str, int | float | str] = {
        "plan_node": nodes[0][1].name,
        "udf_nodes": len(nodes),
    }
    if names:
        evidence["udfs"] = ", ".join(names)
    if python_ms is not None:
        evidence["python_worker_ms"] = python_ms
    if rows is not None:
        evidence["rows_through_udf"] = rows
    if sent is not None:
        evidence["bytes_sent_to_python"] = sent
    config: dict[str, str] = {}
    advice = (
        "Replace the row-at-a-time Python UDF with built-in Spark SQL functions "
        "(when/otherwise, regexp_*, date functions, ...) where they fit, else with a "
        "vectorized pandas_udf / Arrow UDF"
    )
    if spark_version_at_least(app, 3, 5):
        config["spark.sql.execution.pythonUDF.arrow.enabled"] = "true"
        advice += (
            "; on Spark 3.5+ setting spark.sql.execution.pythonUDF.arrow.enabled=true "
            "(or @udf(useArrow=True)) runs the same UDF Arrow-batched without a rewrite"
        )
    what = f"{python_ms / 1000:,.1f} s of Python worker time" if python_ms is not None else ""
    if rows is not None:
        what = f"{what}, {rows:,} rows" if what else f"{rows:,} rows"
    if sent:
        what += f", {sent / MIB:,.0f} MiB pickled to Python"
    label = ", ".join(names) if names else "a Python UDF"
    scope = sql_scope(app, [sql.id])
    return Finding(
        id=finding_id("python_udf", scope),
        kind="python_udf",
        agent="metadata",
        severity=severity,
        title=f"SQL {sql.id} runs {label} row at a time (BatchEvalPython: {what or 'no metrics'})",
        scope=scope,
        evidence=evidence,
        recommendation=advice + ".",
        config=config,
        estimated_savings=Savings(
            wall_ms=saved_task_ms // cores,
            core_hours=round(saved_task_ms / 3_600_000, 4),
        ),
        confidence=0.9 if python_ms is not None else 0.6,
        explanation=(
            "A plain @udf runs as BatchEvalPython: each row is pickled, sent to a Python "
            "worker process, evaluated by one Python call and pickled back. Arrow-based "
            "UDFs exchange columnar batches, and built-in functions stay in the JVM's "
            "generated code, so both avoid the per-row serialisation and call overhead."
        ),
    )
