"""Shared arithmetic of the partition agent's rules (spill.py, partitions.py): the cores a
stage could use, the partition count a stage's bytes call for, and which setting sets it.

Every recommendation goes through :func:`recommended_partitions`, so a spill fix never
produces the too-many-partitions finding and vice versa.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ...errors import SparkCopilotError
from ...model import Application, StageAttempt, TaskOutcome
from ...prediction.simulator import WhatIf, predicted_savings
from ..findings import Finding, Savings, Scope
from ..thresholds import PartitionLimits
from ._runtime import parse_size

_MIB = 1 << 20
_LOCAL = re.compile(r"local(?:-cluster)?\[(\d+|\*)(?:,\s*(\d+))?")


def app_wall_ms(app: Application) -> int:
    if app.app.duration_ms:
        return app.app.duration_ms
    tasks = app.tasks
    return int(tasks.finish_ms.max() - tasks.launch_ms.min()) if len(tasks) else 0


def _max_concurrent_tasks(app: Application) -> int:
    tasks = app.tasks
    if not len(tasks):
        return 0
    times = np.concatenate([tasks.launch_ms, tasks.finish_ms])
    steps = np.concatenate([np.ones(len(tasks)), -np.ones(len(tasks))])
    # Ends sort before starts at the same millisecond: a freed slot is reused.
    order = np.lexsort((steps, times))
    return int(np.cumsum(steps[order]).max())


def app_cores(app: Application) -> int:
    """Task slots of the application: executors' cores (local mode: the driver's), else
    what spark_conf says, else the most tasks ever seen running at once."""
    workers = sum(e.cores or 0 for e in app.executors if e.id != "driver")
    if workers:
        return workers
    driver = sum(e.cores or 0 for e in app.executors if e.id == "driver")
    if driver:
        return driver
    conf = app.spark_conf
    local = _LOCAL.match(conf.get("spark.master", ""))
    if local and local.group(1) != "*":
        count = int(local.group(1))
        per = int(local.group(2)) if local.group(2) and "cluster" in conf["spark.master"] else 1
        return count * per
    try:
        per_executor = int(conf.get("spark.executor.cores", "0"))
        instances = int(conf.get("spark.executor.instances", "0"))
    except ValueError:
        per_executor = instances = 0
    if per_executor and instances:
        return per_executor * instances
    return max(1, _max_concurrent_tasks(app))


def stage_cores(app: Application, stage: StageAttempt, fallback: int) -> int:
    """Cores of the executors alive while the stage ran (dynamic allocation changes them)."""
    start, end = stage.submitted_ms, stage.completed_ms
    if start is None or end is None:
        return fallback
    alive = sum(
        e.cores or 0
        for e in app.executors
        if e.id != "driver"
        and (e.added_ms is None or e.added_ms <= end)
        and (e.removed_ms is None or e.removed_ms >= start)
    )
    return alive or fallback


def other_busy_cores(app: Application, stage: StageAttempt, start: int, end: int) -> float:
    """Average cores other stages' tasks kept busy over ``[start, end)``: cores a stage
    with too few tasks left idle may have been used by a stage running beside it."""
    if end <= start:
        return 0.0
    tasks = app.tasks
    overlap = np.clip(
        np.minimum(tasks.finish_ms, end) - np.maximum(tasks.launch_ms, start), 0, None
    )
    lo, hi = stage.task_rows
    mine = int(overlap[lo:hi].sum())
    return float(overlap.sum() - mine) / (end - start)


def uses_gpu(app: Application) -> bool:
    """The RAPIDS plugin runs SQL on GPUs, which want large partitions by design."""
    conf = app.spark_conf
    return "SQLPlugin" in conf.get("spark.plugins", "") and (
        conf.get("spark.rapids.sql.enabled", "true").strip().lower() == "true"
    )


def recommended_partitions(data_bytes: int, cores: int, limits: PartitionLimits) -> int:
    """Partitions of about ``target_partition_bytes``, at least ``waves_per_core`` x cores
    unless that would make them smaller than ``min_partition_bytes``, never fewer than the
    cores, rounded up to a multiple of the cores."""
    cores = max(1, cores)
    by_target = math.ceil(data_bytes / limits.target_partition_bytes)
    by_waves = min(
        limits.waves_per_core * cores, math.ceil(data_bytes / limits.min_partition_bytes)
    )
    wanted = max(by_target, by_waves, cores)
    return math.ceil(wanted / cores) * cores


def _version_at_least(version: str | None, major: int, minor: int) -> bool:
    found = re.match(r"(\d+)\.(\d+)", version or "")
    return bool(found) and (int(found.group(1)), int(found.group(2))) >= (major, minor)  # type: ignore[union-attr]


def aqe_coalescing(app: Application) -> bool:
    """Whether AQE could coalesce shuffle partitions (on by default from Spark 3.2)."""
    conf = app.spark_conf
    default = "true" if _version_at_least(app.app.spark_version, 3, 2) else "false"
    enabled = conf.get("spark.sql.adaptive.enabled", default).strip().lower() == "true"
    coalesce = conf.get("spark.sql.adaptive.coalescePartitions.enabled", "true")
    return enabled and coalesce.strip().lower() == "true"


@dataclass(frozen=True, slots=True)
class StageData:
    """What a stage's successful tasks did, summed and per task."""

    tasks: int
    duration_ms: int
    task_ms: int
    median_task_ms: int
    input_bytes: int
    shuffle_read_bytes: int
    median_task_read_bytes: int
    memory_spilled: int
    disk_spilled: int
    peak_execution_memory: int

    @property
    def read_bytes(self) -> int:
        return self.input_bytes + self.shuffle_read_bytes

    @property
    def reads_shuffle(self) -> bool:
        return self.shuffle_read_bytes > 0 and self.shuffle_read_bytes >= self.input_bytes


def stage_data(app: Application, stage: StageAttempt) -> StageData | None:
    tasks = app.stage_tasks(stage)
    ok = tasks.outcome == TaskOutcome.SUCCESS
    if not ok.any():
        return None
    durations = tasks.duration_ms[ok]
    read = (tasks.input_bytes + tasks.shuffle_read_bytes)[ok]
    span = int(tasks.finish_ms.max() - tasks.launch_ms.min())
    return StageData(
        tasks=int(ok.sum()),
        duration_ms=stage.duration_ms or span,
        task_ms=int(durations.sum()),
        median_task_ms=int(np.median(durations)),
        input_bytes=int(tasks.input_bytes[ok].sum()),
        shuffle_read_bytes=int(tasks.shuffle_read_bytes[ok].sum()),
        median_task_read_bytes=int(np.median(read)),
        memory_spilled=int(tasks.memory_spilled.sum()),
        disk_spilled=int(tasks.disk_spilled.sum()),
        peak_execution_memory=int(tasks.peak_execution_memory[ok].max()),
    )


@dataclass(frozen=True, slots=True)
class Overpartitioned:
    """A stage whose tasks are mostly fixed cost, and what fewer of them would save."""

    partitions: int
    #: Tasks run ÷ partitions recommended.
    ratio: float
    saved_ms: int


def overpartitioned(data: StageData, cores: int, limits: PartitionLimits) -> Overpartitioned | None:
    """A shuffle (or RDD) stage of small, short tasks: each task's fixed cost (scheduling,
    deserialisation, a fetch set up to every map output) is most of its time, so every
    task removed gives back about the median task's time, on one of the cores. Scans of
    many small files are the small_files rule's."""
    if data.input_bytes > data.shuffle_read_bytes:
        return None
    if (
        data.median_task_ms >= limits.many_max_median_task_ms
        or data.median_task_read_bytes >= limits.many_max_task_bytes
    ):
        return None
    partitions = recommended_partitions(data.read_bytes, cores, limits)
    ratio = data.tasks / partitions
    if ratio < limits.many_ratio_warning:
        return None
    saved = min((data.tasks - partitions) * data.median_task_ms / max(1, cores), data.duration_ms)
    return Overpartitioned(partitions, ratio, int(saved))


#: The split Spark (spark.sql.files.maxPartitionBytes) and Hadoop input formats (the
#: block size) cut splittable files into when the log does not say otherwise.
DEFAULT_SPLIT_BYTES = 128 << 20


def unsplittable_input(app: Application, data: StageData) -> bool:
    """Input tasks that each read well over a split: their files were read whole, one
    task each, because they cannot be split (gzip and other codecs without sync points).
    Splittable files never give a task much more than one split."""
    configured = parse_size(app.spark_conf.get("spark.sql.files.maxPartitionBytes"), "")
    split = max(configured or 0, DEFAULT_SPLIT_BYTES)
    return data.input_bytes > data.shuffle_read_bytes and (
        data.median_task_read_bytes > 1.1 * split
    )


def partition_config(
    app: Application, stage: StageAttempt, data: StageData, partitions: int
) -> dict[str, str]:
    """The setting that gives this stage ``partitions`` tasks: shuffle partitions for a
    shuffle-reading SQL stage (and AQE's advisory size, which would otherwise re-coalesce
    them), split size for a scan, default parallelism for an RDD stage."""
    per_partition_mb = max(1, math.ceil(data.read_bytes / max(1, partitions) / _MIB))
    if stage.sql_id is None or data.read_bytes == 0:
        # RDD stages, and stages that read nothing (range, parallelize): the count is
        # the default parallelism unless the code names one.
        return {"spark.default.parallelism": str(partitions)}
    if data.reads_shuffle:
        config = {"spark.sql.shuffle.partitions": str(partitions)}
        if aqe_coalescing(app):
            config["spark.sql.adaptive.advisoryPartitionSizeInBytes"] = f"{per_partition_mb}m"
        return config
    return {"spark.sql.files.maxPartitionBytes": f"{per_partition_mb}m"}


def savings_over_cores(app: Application, wall_ms: int, cores: int | None = None) -> Savings:
    """Wall time saved, and the core-hours ``cores`` (the application's by default) held
    for it."""
    held = app_cores(app) if cores is None else cores
    return Savings(wall_ms=wall_ms, core_hours=round(wall_ms * held / 3_600_000, 4))


def simulated(app: Application, finding: Finding, *, savings_from_simulator: bool) -> Finding:
    """The finding with the what-if simulator's prediction for its shuffle partition
    count: as evidence always, and as the savings when the simulator models the fix
    (task counts, not spill) and predicts a gain. When it predicts none, the rule's own
    estimate stands with less confidence."""
    value = finding.config.get("spark.sql.shuffle.partitions")
    if value is None:
        return finding
    try:
        saved = predicted_savings(app, WhatIf(shuffle_partitions=int(value)))
    except (SparkCopilotError, ValueError):
        return finding
    update: dict[str, object] = {"evidence": {**finding.evidence, "simulated_saving_ms": saved}}
    if savings_from_simulator and saved > 0:
        update["estimated_savings"] = savings_over_cores(app, saved)
    elif savings_from_simulator:
        update["confidence"] = round(min(finding.confidence, 0.5), 2)
    return finding.model_copy(update=update)


def stage_scope(stage: StageAttempt) -> Scope:
    return Scope(
        job_ids=stage.job_ids,
        stage_ids=(stage.stage_id,),
        sql_ids=(stage.sql_id,) if stage.sql_id is not None else (),
    )
