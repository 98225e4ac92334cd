"""aqe_disabled: adaptive query execution (or its partition coalescing) was off where it
would have helped.

With AQE on, Spark re-plans each query stage from the sizes the finished shuffles
measured: it merges small post-shuffle partitions to the advisory size, splits skewed
ones, and turns sort-merge joins whose side turned out small into broadcast joins. Off,
every shuffle runs ``spark.sql.shuffle.partitions`` tasks whatever its size. The rule
counts what coalescing alone would have given back: SQL shuffle stages whose tasks are
mostly fixed cost (``_sizing.overpartitioned``). Stages big enough for the
too_many_partitions rule are left to it (it asks for AQE too), so one problem is one
finding.
"""

from __future__ import annotations

from ...model import Application
from ..findings import Finding, finding_id
from ..thresholds import Thresholds
from ._plan import spark_version_at_least
from ._sizing import (
    app_cores,
    app_wall_ms,
    aqe_coalescing,
    overpartitioned,
    savings_over_cores,
    stage_cores,
    stage_data,
    stage_scope,
)

_CONFIG = {
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
}


def _auto_optimized_shuffle(app: Application) -> bool:
    """Databricks' auto-optimized shuffle picks partition counts itself (and overrides
    advice on them, FIELD_NOTES §3.6)."""
    value = app.spark_conf.get("spark.databricks.adaptive.autoOptimizeShuffle.enabled", "")
    return value.strip().lower() == "true"


def aqe_disabled(app: Application, limits: Thresholds) -> list[Finding]:
    lim = limits.partition
    # AQE arrived in Spark 3.0; a log that does not state its version is not judged.
    if not spark_version_at_least(app, 3, 0) or aqe_coalescing(app):
        return []
    if _auto_optimized_shuffle(app):
        return []
    wall = app_wall_ms(app)
    cores = app_cores(app)
    stages: list[tuple[int, int, int, int]] = []  # stage id, tasks, partitions, saved ms
    scopes = []
    for stage in app.stages:
        if stage.sql_id is None:
            continue
        data = stage_data(app, stage)
        if data is None or not data.reads_shuffle:
            continue
        slots = stage_cores(app, stage, cores)
        found = overpartitioned(data, slots, lim)
        if found is None:
            continue
        too_many_takes_it = data.tasks >= lim.many_min_tasks and (
            found.saved_ms >= lim.min_savings_ms and found.saved_ms >= lim.min_share_of_app * wall
        )
        if too_many_takes_it:
            continue
        stages.append((stage.stage_id, data.tasks, found.partitions, found.saved_ms))
        scopes.append(stage_scope(stage))
    saved = min(sum(s[3] for s in stages), wall)
    if not stages or saved < lim.min_savings_ms or saved < lim.min_share_of_app * wall:
        return []
    scope = scopes[0].model_copy(
        update={
            "job_ids": tuple(sorted({j for s in scopes for j in s.job_ids})),
            "stage_ids": tuple(sorted({i for s in scopes for i in s.stage_ids})),
            "sql_ids": tuple(sorted({i for s in scopes for i in s.sql_ids})),
        }
    )
    conf = app.spark_conf
    off = conf.get("spark.sql.adaptive.enabled", "").strip().lower() == "false" or (
        "spark.sql.adaptive.enabled" not in conf and not spark_version_at_least(app, 3, 2)
    )
    what = "Adaptive query execution was off" if off else "AQE partition coalescing was off"
    tasks = sum(s[1] for s in stages)
    wanted = sum(s[2] for s in stages)
    evidence: dict[str, int | float | str] = {
        "shuffle_stages_overpartitioned": len(stages),
        "tasks_in_those_stages": tasks,
        "partitions_coalescing_would_leave": wanted,
        "saved_ms_by_coalescing": saved,
        "app_wall_ms": wall,
        "spark_version": app.app.spark_version or "",
    }
    for key in (
        "spark.sql.adaptive.enabled",
        "spark.sql.adaptive.coalescePartitions.enabled",
        "spark.sql.shuffle.partitions",
    ):
        if key in conf:
            evidence[key] = conf[key]
    return [
        Finding(
            id=finding_id("aqe_disabled", scope),
            kind="aqe_disabled",
            agent="partition",
            severity="warning",
            title=(
                f"{what}: {len(stages)} shuffle stage(s) ran {tasks:,} mostly-overhead tasks "
                f"where about {wanted:,} would do"
            ),
            scope=scope,
            evidence=evidence,
            recommendation=(
                "Turn adaptive query execution and its partition coalescing on: Spark then "
                "merges small shuffle partitions to the advisory size "
                "(spark.sql.adaptive.advisoryPartitionSizeInBytes, 64 MB by default) after "
                "each shuffle, and also splits skewed partitions and converts joins whose "
                "side turned out small into broadcast joins. Keep "
                "spark.sql.shuffle.partitions as the upper bound it coalesces from."
            ),
            config=dict(_CONFIG),
            estimated_savings=savings_over_cores(app, saved),
            confidence=0.75,
            explanation=(
                "Without AQE, every shuffle is read by spark.sql.shuffle.partitions tasks "
                "whatever its size. When a stage's partitions hold kilobytes, each task is "
                "mostly scheduling and fetch set-up; AQE measures the shuffle's real size "
                "and reads it with as many tasks as it needs."
            ),
        )
    ]
