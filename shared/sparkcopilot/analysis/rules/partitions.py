"""too_many_partitions and too_few_partitions: a stage split into far more tasks than its
bytes need (each task's fixed scheduling, deserialisation and shuffle-fetch cost then
dominates), or into fewer tasks than there are cores (the rest idle for the whole stage),
or into huge tasks.

Both recommend the same partition count (``_sizing.recommended_partitions``): about
128 MB a partition, a few per core, never under 10 MB a partition.
"""

from __future__ import annotations

import math

from ...model import Application, StageAttempt
from ..findings import Finding, Severity, finding_id
from ..thresholds import Thresholds
from ._sizing import (
    StageData,
    app_cores,
    app_wall_ms,
    aqe_coalescing,
    other_busy_cores,
    overpartitioned,
    partition_config,
    recommended_partitions,
    savings_over_cores,
    simulated,
    stage_cores,
    stage_data,
    stage_scope,
    unsplittable_input,
    uses_gpu,
)

_MIB = 1 << 20


def partition_counts(app: Application, limits: Thresholds) -> list[Finding]:
    """Both kinds, stage by stage."""
    wall = app_wall_ms(app)
    cores = app_cores(app)
    findings = []
    for stage in app.stages:
        data = stage_data(app, stage)
        if data is None:
            continue
        slots = stage_cores(app, stage, cores)
        for check in (_too_many, _too_few):
            finding = check(app, stage, data, cores=slots, wall_ms=wall, limits=limits)
            if finding is not None:
                findings.append(simulated(app, finding, savings_from_simulator=True))
    return findings


def _evidence(
    app: Application,
    stage: StageAttempt,
    data: StageData,
    *,
    cores: int,
    partitions: int,
    wall_ms: int,
) -> dict[str, int | float | str]:
    """The stage's numbers, and the partition settings the log shows were in force."""
    evidence: dict[str, int | float | str] = {
        "tasks": data.tasks,
        "cores": cores,
        "recommended_partitions": partitions,
        "median_task_ms": data.median_task_ms,
        "sum_task_ms": data.task_ms,
        "stage_duration_ms": data.duration_ms,
        "stage_share_of_app": round(data.duration_ms / wall_ms, 3) if wall_ms else 0.0,
        "stage_input_bytes": data.input_bytes,
        "stage_shuffle_read_bytes": data.shuffle_read_bytes,
        "median_task_read_bytes": data.median_task_read_bytes,
        "stage_name": stage.name,
    }
    evidence.update((k, app.spark_conf[k]) for k in _SETTINGS if k in app.spark_conf)
    return evidence


_SETTINGS = (
    "spark.sql.shuffle.partitions",
    "spark.sql.adaptive.enabled",
    "spark.sql.adaptive.coalescePartitions.enabled",
    "spark.default.parallelism",
)


def _too_many(
    app: Application,
    stage: StageAttempt,
    data: StageData,
    *,
    cores: int,
    wall_ms: int,
    limits: Thresholds,
) -> Finding | None:
    lim = limits.partition
    if data.tasks < lim.many_min_tasks:
        return None
    found = overpartitioned(data, cores, lim)
    if found is None:
        return None
    partitions, ratio, saved = found.partitions, found.ratio, found.saved_ms
    if saved < lim.min_savings_ms or saved < lim.min_share_of_app * wall_ms:
        return None
    severity: Severity = "critical" if ratio >= lim.many_ratio_critical else "warning"
    config = partition_config(app, stage, data, partitions)
    if stage.sql_id is not None and data.reads_shuffle and not aqe_coalescing(app):
        config["spark.sql.adaptive.enabled"] = "true"
        config["spark.sql.adaptive.coalescePartitions.enabled"] = "true"
    evidence = _evidence(app, stage, data, cores=cores, partitions=partitions, wall_ms=wall_ms)
    evidence["tasks_over_recommended"] = round(ratio, 1)
    return Finding(
        id=finding_id("too_many_partitions", stage_scope(stage)),
        kind="too_many_partitions",
        agent="partition",
        severity=severity,
        title=(
            f"Stage {stage.stage_id} ran {data.tasks:,} tasks of {data.median_task_ms} ms "
            f"median for {data.read_bytes / _MIB:,.1f} MiB: {partitions} partitions would do"
        ),
        scope=stage_scope(stage),
        evidence=evidence,
        recommendation=(
            f"Use {partitions} partitions for this stage (about "
            f"{data.read_bytes / partitions / _MIB:,.1f} MiB each, {partitions // max(1, cores)} "
            f"per core on {cores} cores) instead of {data.tasks:,}; with AQE on, Spark "
            "coalesces small shuffle partitions itself."
        ),
        config=config,
        estimated_savings=savings_over_cores(app, saved, cores),
        confidence=round(min(0.9, 0.6 + 0.03 * ratio), 2),
        explanation=(
            "Every task pays a fixed cost: the scheduler launches it, the executor "
            "deserialises its closure, and a reduce task opens a fetch to every map "
            "output. When a task's data is only kilobytes, that cost is most of its run "
            "time; fewer, larger partitions do the same work with far less overhead."
        ),
    )


def _too_few(
    app: Application,
    stage: StageAttempt,
    data: StageData,
    *,
    cores: int,
    wall_ms: int,
    limits: Thresholds,
) -> Finding | None:
    lim = limits.partition
    if data.duration_ms < lim.min_stage_ms or data.duration_ms < lim.min_share_of_app * wall_ms:
        return None
    # Splitting only helps if the stage has the bytes to fill more tasks of at least
    # min_partition_bytes (spark-rapids' 10 MB over-partition bound), or, when it reads
    # a shuffle of fewer (but not a handful of rows), the task time to fill more tasks
    # of few_min_split_task_ms (compute-heavy rows: hash partitioning spreads them; a
    # file split cannot go under spark.sql.files.openCostInBytes). A long one-task stage
    # that reads nothing (a broadcast build, a driver-side source) is not fixed by a
    # partition count.
    rows_to_spread = data.reads_shuffle and data.read_bytes >= _MIB
    by_time = data.task_ms // lim.few_min_split_task_ms if rows_to_spread else 0
    splittable = min(cores, max(math.ceil(data.read_bytes / lim.min_partition_bytes), by_time))
    partitions = recommended_partitions(data.read_bytes, cores, lim)
    if by_time > partitions:
        waves = min(by_time, lim.waves_per_core * max(1, cores))
        partitions = max(partitions, math.ceil(waves / max(1, cores)) * max(1, cores))
    slot_use = data.tasks / max(1, cores)
    huge = data.median_task_read_bytes >= lim.few_huge_task_bytes
    saved = 0
    busy: float | None = None
    severity: Severity
    if slot_use < lim.few_slot_use_warning and splittable > data.tasks:
        # Spread over the cores other stages left free (at most `partitions` of them),
        # the stage's task time would take sum / slots instead of the stage's duration.
        start = stage.submitted_ms or 0
        busy = other_busy_cores(app, stage, start, start + data.duration_ms)
        free = max(1.0, min(float(partitions), cores - busy))
        saved = int(max(0.0, data.duration_ms - data.task_ms / free))
        if saved < lim.min_savings_ms or saved < lim.min_share_of_app * wall_ms:
            return None
        severity = "critical" if slot_use < lim.few_slot_use_critical else "warning"
        what = f"ran {data.tasks} task(s) on {cores} cores"
    elif huge and partitions > data.tasks and not uses_gpu(app):
        # Enough tasks to fill the cores, but each holds over a GiB: more partitions do
        # not shorten the stage by themselves; they cut memory pressure and straggler risk.
        severity = "warning"
        what = (
            f"ran {data.tasks} tasks of {data.median_task_read_bytes / _MIB:,.0f} MiB median "
            "input each"
        )
    else:
        return None
    config = partition_config(app, stage, data, partitions)
    advice = (
        f"Use {partitions} partitions for this stage (about "
        f"{data.read_bytes / partitions / _MIB:,.1f} MiB each on {cores} cores) instead "
        f"of {data.tasks}; if the count comes from a coalesce()/repartition() in the "
        "code, raise it there."
    )
    whole_files = data.tasks if unsplittable_input(app, data) else None
    if whole_files is not None:
        # One task per file whatever maxPartitionBytes says: the files cannot be split
        # (gzip, or another codec without sync points). A split size does nothing.
        config = {}
        advice = (
            f"Each of the {whole_files} input files was read whole by one task: they are "
            "not splittable (gzip or a similar codec). Store the input as Parquet or with "
            "a splittable codec (bzip2, zstd in Parquet), or as more, smaller files; until "
            f"then repartition({partitions}) right after the read so the work after it "
            "spreads over the cores."
        )
    evidence = _evidence(app, stage, data, cores=cores, partitions=partitions, wall_ms=wall_ms)
    evidence["slot_use"] = round(slot_use, 3)
    if whole_files is not None:
        evidence["unsplittable_input_files"] = whole_files
    if busy is not None:
        evidence["other_stages_busy_cores"] = round(busy, 1)
    return Finding(
        id=finding_id("too_few_partitions", stage_scope(stage)),
        kind="too_few_partitions",
        agent="partition",
        severity=severity,
        title=(
            f"Stage {stage.stage_id} {what} for {data.duration_ms / 1000:,.1f} s "
            f"({data.read_bytes / _MIB:,.0f} MiB read): use {partitions} partitions"
        ),
        scope=stage_scope(stage),
        evidence=evidence,
        recommendation=advice,
        config=config,
        estimated_savings=savings_over_cores(app, saved, cores),
        confidence=0.8 if saved else 0.6,
        explanation=(
            "A stage runs one task per partition, one per core at a time. With fewer "
            "partitions than cores the remaining cores sit idle for the whole stage, and "
            "very large partitions hold more data per task than execution memory fits."
        ),
    )
