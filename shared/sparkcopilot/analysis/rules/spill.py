"""disk_spill: a stage's sorts, aggregations or joins ran out of execution memory and
spilled to disk.

Each spilled byte is serialised, written to local disk, read back and merged, so a stage
that spills a large share of the data it processes runs well below its in-memory speed.
The fix is smaller tasks (more partitions: each task then holds less at once) or more
execution memory per task. Spill the log shows only in memory terms (no disk bytes: GPU
plugins and some old Spark versions report it so) is noted as info.
"""

from __future__ import annotations

import math

from ...model import Application, StageAttempt
from ..findings import Finding, Severity, finding_id
from ..thresholds import PartitionLimits, Thresholds
from ._sizing import (
    StageData,
    app_cores,
    app_wall_ms,
    partition_config,
    recommended_partitions,
    savings_over_cores,
    simulated,
    stage_cores,
    stage_data,
    stage_scope,
)

_MIB = 1 << 20


def disk_spill(app: Application, limits: Thresholds) -> list[Finding]:
    wall = app_wall_ms(app)
    cores = app_cores(app)
    findings = []
    for stage in app.stages:
        finding = _stage_spill(app, stage, wall, cores, limits)
        if finding is not None:
            # The simulator replays task counts, not spill: its number is evidence only.
            findings.append(simulated(app, finding, savings_from_simulator=False))
    return findings


def _disk_bytes_per_s(app: Application, lim: PartitionLimits) -> float:
    """How fast this application's tasks wrote compressed blocks to local disk: its
    shuffle writes' bytes over their write time, else the configured rate."""
    tasks = app.tasks
    written = int(tasks.shuffle_write_bytes.sum())
    seconds = float(tasks.shuffle_write_time_ns.sum()) / 1e9
    if written < lim.spill_rate_min_write_bytes or seconds <= 0:
        return float(lim.spill_disk_bytes_per_s)
    return written / seconds


def _spill_ms(
    app: Application, stage: StageAttempt, data: StageData, slots: int, limits: Thresholds
) -> int:
    """Wall time the spill cost: serialising what was spilled (RDD stages) plus writing
    and re-reading the spill files, spread over the slots the stage ran on, at most the
    stage's time."""
    lim = limits.partition
    serde_s = data.memory_spilled / lim.spill_serde_bytes_per_s if stage.sql_id is None else 0.0
    task_ms = 1000 * (serde_s + 2 * data.disk_spilled / _disk_bytes_per_s(app, lim))
    return int(min(task_ms / max(1, slots), 0.9 * data.duration_ms))


def _more_memory(setting: str | None) -> str | None:
    """1.5x a spark.executor.memory value such as ``4g`` or ``4096m``, in MiB."""
    if not setting:
        return None
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    text = setting.strip().lower().removesuffix("b")
    try:
        mib = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text) / _MIB
    except ValueError:
        return None
    return f"{math.ceil(mib * 1.5)}m"


def _fix(
    app: Application, stage: StageAttempt, data: StageData, cores: int, lim: PartitionLimits
) -> tuple[dict[str, str], list[str]]:
    """The settings (and words) that stop the spill."""
    # Grow the partitions so each task's working set fits: the task held about its peak
    # execution memory and spilled the rest, so it needed (peak + spill per task) / peak
    # times what it had; at least spark-rapids' x2, at most down to the 10 MB floor.
    per_task_spill = data.memory_spilled / data.tasks
    peak = max(data.peak_execution_memory, 1)
    growth = max(lim.spill_partition_multiplier, (peak + per_task_spill) / peak)
    wanted = math.ceil(data.tasks * growth)
    floor = recommended_partitions(data.read_bytes, cores, lim)
    ceiling = max(floor, math.ceil(data.read_bytes / lim.min_partition_bytes))
    partitions = min(max(wanted, floor), ceiling)
    partitions = math.ceil(partitions / max(1, cores)) * max(1, cores)
    config: dict[str, str] = {}
    advice: list[str] = []
    if partitions > data.tasks:
        config.update(partition_config(app, stage, data, partitions))
        advice.append(
            f"Split the stage into {partitions} partitions (from {data.tasks}) so each "
            "task's sort/aggregation buffer fits in execution memory"
        )
    fraction = app.spark_conf.get("spark.memory.fraction")
    try:
        lowered = fraction is not None and float(fraction) < lim.default_memory_fraction
    except ValueError:
        lowered = False
    if lowered:
        config["spark.memory.fraction"] = str(lim.default_memory_fraction)
        advice.append(
            f"restore spark.memory.fraction to Spark's default {lim.default_memory_fraction} "
            f"(the application set it to {fraction}, shrinking execution memory)"
        )
    memory = _more_memory(app.spark_conf.get("spark.executor.memory"))
    if not advice and memory is not None:
        # Dr. Elephant's memory ladder grows the heap by 1.5x (FIELD_NOTES §2.1).
        config["spark.executor.memory"] = memory
        advice.append(f"give executors more memory (spark.executor.memory={memory})")
    if not advice:
        advice.append(
            "Give each task more execution memory: fewer cores per executor or a larger heap"
        )
    return config, advice


def _stage_spill(
    app: Application, stage: StageAttempt, wall_ms: int, app_slots: int, limits: Thresholds
) -> Finding | None:
    lim = limits.partition
    data = stage_data(app, stage)
    if data is None:
        return None
    spilled = data.disk_spilled or data.memory_spilled
    if spilled < lim.spill_min_disk_bytes:
        return None
    cores = stage_cores(app, stage, app_slots)
    processed = max(data.read_bytes, 1)
    ratio = data.memory_spilled / processed
    big_enough = (
        data.disk_spilled >= lim.spill_min_disk_bytes
        and data.duration_ms >= lim.min_stage_ms
        and data.duration_ms >= lim.min_share_of_app * wall_ms
    )
    severity: Severity
    if not big_enough or ratio < lim.spill_ratio_warning:
        severity = "info"
    elif ratio >= lim.spill_ratio_critical:
        severity = "critical"
    else:
        severity = "warning"

    config, advice = _fix(app, stage, data, cores, limits.partition)
    fraction = app.spark_conf.get("spark.memory.fraction")
    slots = min(data.tasks, cores)
    saved = _spill_ms(app, stage, data, slots, limits)
    if data.disk_spilled:
        what = f"spilled {data.disk_spilled / _MIB:,.0f} MiB to disk"
    else:
        what = f"spilled {data.memory_spilled / _MIB:,.0f} MiB (memory size; no disk bytes logged)"
    evidence: dict[str, int | float | str] = {
        "memory_spilled_bytes": data.memory_spilled,
        "disk_spilled_bytes": data.disk_spilled,
        "stage_read_bytes": data.read_bytes,
        "spill_over_read": round(ratio, 2),
        "tasks": data.tasks,
        "cores": cores,
        "max_peak_execution_memory_bytes": data.peak_execution_memory,
        "stage_duration_ms": data.duration_ms,
        "stage_share_of_app": round(data.duration_ms / wall_ms, 3) if wall_ms else 0.0,
        "stage_name": stage.name,
    }
    if fraction is not None:
        evidence["spark.memory.fraction"] = fraction
    return Finding(
        id=finding_id("disk_spill", stage_scope(stage)),
        kind="disk_spill",
        agent="partition",
        severity=severity,
        title=(
            f"Stage {stage.stage_id} {what} "
            f"({ratio:.0%} of the {data.read_bytes / _MIB:,.0f} MiB it read, in {data.tasks} tasks)"
        ),
        scope=stage_scope(stage),
        evidence=evidence,
        recommendation="; ".join(advice) + ".",
        config=config,
        estimated_savings=savings_over_cores(app, saved, slots),
        confidence=0.85 if data.disk_spilled else 0.5,
        explanation=(
            "When a task's sort, aggregation or join buffer outgrows its share of execution "
            "memory (spark.memory.fraction of the heap, divided among the executor's "
            "running tasks), Spark serialises the buffer to local disk and merges the "
            "files back later. More, smaller partitions shrink each task's buffer; more "
            "memory per task raises the limit."
        ),
    )
