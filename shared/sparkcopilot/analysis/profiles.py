"""What the metadata, partition, runtime and skew agents measured, beside their findings:
their typed partial results (the ``agents`` section of the analysis JSON).

These are the numbers a reader checks a finding against: the scans and their filters,
the partition settings in force, where the wall time went, how skewed the stages were.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..model import Application, StageAttempt, TaskOutcome
from .rules._plan import metric, plan_nodes
from .rules._runtime import compute_executors, job_windows
from .rules._sizing import app_cores, app_wall_ms, aqe_coalescing
from .rules.memory import heap_peaks
from .thresholds import Thresholds


class _Partial(BaseModel):
    model_config = ConfigDict(frozen=True)


class ScanProfile(_Partial):
    location: str
    format: str
    queries: int
    files: int | None
    bytes: int | None
    rows: int | None
    pushed_filters: str
    partition_filters: str


class MetadataPartial(_Partial):
    scans: tuple[ScanProfile, ...]
    #: Scans beyond the largest ones listed.
    scans_not_listed: int


class PartitionPartial(_Partial):
    shuffle_partitions: str | None
    aqe_coalescing: bool
    shuffle_stages: int
    shuffle_read_bytes: int
    largest_stage_shuffle_read_bytes: int
    cores: int
    #: Executors whose peak heap use the log reports (executor_memory_waste needs it).
    executors_with_heap_metrics: int


class StageTime(_Partial):
    stage_id: int
    name: str
    duration_ms: int
    share_of_app: float


class RuntimePartial(_Partial):
    wall_ms: int
    #: Time at least one job ran, and the rest (driver: planning, collecting, idle).
    jobs_ms: int
    driver_ms: int
    executors: int
    cores: int
    #: Σ task time ÷ (cores × time jobs ran): how busy the slots were.
    slot_utilisation: float
    #: Stages whose chain through their parents is longest, in each period jobs ran.
    critical_path_stage_ids: tuple[int, ...]
    #: Driver time plus the critical path: the wall time with unlimited executors.
    lower_bound_ms: int
    bottleneck_stages: tuple[StageTime, ...]


class SkewPartial(_Partial):
    stages_judged: int
    #: Slowest over median task, of the stage where it is largest.
    worst_ratio: float
    worst_stage_id: int | None


_LISTED_SCANS = 20


def metadata_partial(app: Application, _: Thresholds) -> MetadataPartial:
    scans: dict[str, ScanProfile] = {}
    counts: dict[str, int] = defaultdict(int)
    for sql, node in plan_nodes(app):
        location = node.metadata.get("Location")
        if location is None:
            continue
        counts[location] += 1
        seen = scans.get(location)
        size = metric(sql, node, "size of files read")
        if seen is not None and (seen.bytes or 0) >= (size or 0):
            continue
        scans[location] = ScanProfile(
            location=location[:300],
            format=node.metadata.get("Format", ""),
            queries=0,
            files=metric(sql, node, "number of files read"),
            bytes=size,
            rows=metric(sql, node, "number of output rows"),
            pushed_filters=node.metadata.get("PushedFilters", "")[:500],
            partition_filters=node.metadata.get("PartitionFilters", "")[:500],
        )
    ranked = sorted(scans.items(), key=lambda kv: -(kv[1].bytes or 0))
    listed = tuple(
        scan.model_copy(update={"queries": counts[loc]}) for loc, scan in ranked[:_LISTED_SCANS]
    )
    return MetadataPartial(scans=listed, scans_not_listed=max(0, len(ranked) - _LISTED_SCANS))


def partition_partial(app: Application, _: Thresholds) -> PartitionPartial:
    tasks = app.tasks
    per_stage = [int(app.stage_tasks(s).shuffle_read_bytes.sum()) for s in app.stages]
    workers = [e for e in compute_executors(app) if e.executor.id != "driver"]
    return PartitionPartial(
        shuffle_partitions=app.spark_conf.get("spark.sql.shuffle.partitions"),
        aqe_coalescing=aqe_coalescing(app),
        shuffle_stages=sum(1 for b in per_stage if b > 0),
        shuffle_read_bytes=int(tasks.shuffle_read_bytes.sum()),
        largest_stage_shuffle_read_bytes=max(per_stage, default=0),
        cores=app_cores(app),
        executors_with_heap_metrics=len(heap_peaks(workers)),
    )


def _longest_task_ms(app: Application, stage: StageAttempt) -> int:
    durations = app.stage_tasks(stage).duration_ms
    return int(durations.max()) if len(durations) else stage.duration_ms or 0


def _chain(
    stage: StageAttempt,
    window: dict[int, StageAttempt],
    weight: dict[int, int],
    memo: dict[int, tuple[int, list[int]]],
) -> tuple[int, list[int]]:
    """Heaviest (ms, stage ids) chain ending at ``stage`` through parents of the same
    window (parents computed earlier are done; a job only reuses their output)."""
    if stage.stage_id in memo:
        return memo[stage.stage_id]
    memo[stage.stage_id] = (weight[stage.stage_id], [stage.stage_id])  # cycle guard
    best: tuple[int, list[int]] = (0, [])
    for parent_id in stage.parent_ids:
        parent = window.get(parent_id)
        if parent is not None:
            best = max(best, _chain(parent, window, weight, memo), key=lambda c: c[0])
    result = (weight[stage.stage_id] + best[0], [*best[1], stage.stage_id])
    memo[stage.stage_id] = result
    return result


def runtime_partial(app: Application, _: Thresholds) -> RuntimePartial:
    """Sparklens' split (FIELD_NOTES §2.2): driver time is wall time with no job running;
    with unlimited executors each stage takes its longest task, so the wall time cannot
    drop below driver time plus, per period of jobs, the heaviest chain of stages."""
    wall = app_wall_ms(app)
    windows = job_windows(app)
    jobs_ms = sum(e - s for s, e in windows)
    cores = app_cores(app)
    tasks = app.tasks
    busy = int(tasks.duration_ms.sum()) if len(tasks) else 0
    # The last attempt of each stage is the one that counts.
    by_id = {s.stage_id: s for s in app.stages}
    weight = {i: _longest_task_ms(app, s) for i, s in by_id.items()}
    path: list[int] = []
    path_ms = 0
    for start, end in windows:
        window = {
            i: s
            for i, s in by_id.items()
            if s.submitted_ms is not None and start <= s.submitted_ms <= end
        }
        memo: dict[int, tuple[int, list[int]]] = {}
        if window:
            length, ids = max(
                (_chain(s, window, weight, memo) for s in window.values()), key=lambda c: c[0]
            )
            path.extend(ids)
            path_ms += min(length, end - start)
    stage_times = sorted(
        (s for s in by_id.values() if s.duration_ms), key=lambda s: -(s.duration_ms or 0)
    )
    driver_ms = max(0, wall - jobs_ms)
    return RuntimePartial(
        wall_ms=wall,
        jobs_ms=jobs_ms,
        driver_ms=driver_ms,
        executors=sum(1 for e in app.executors if e.id != "driver") or len(app.executors),
        cores=cores,
        slot_utilisation=round(min(1.0, busy / (cores * jobs_ms)), 3) if jobs_ms else 0.0,
        critical_path_stage_ids=tuple(dict.fromkeys(path)),
        lower_bound_ms=driver_ms + path_ms,
        bottleneck_stages=tuple(
            StageTime(
                stage_id=s.stage_id,
                name=s.name[:200],
                duration_ms=s.duration_ms or 0,
                share_of_app=round((s.duration_ms or 0) / wall, 3) if wall else 0.0,
            )
            for s in stage_times[:3]
        ),
    )


def skew_partial(app: Application, limits: Thresholds) -> SkewPartial:
    judged = 0
    worst, worst_stage = 0.0, None
    for stage in app.stages:
        tasks = app.stage_tasks(stage)
        durations = tasks.duration_ms[tasks.outcome == TaskOutcome.SUCCESS]
        if len(durations) < limits.skew.min_tasks:
            continue
        judged += 1
        ratio = float(durations.max()) / max(float(np.median(durations)), 1.0)
        if ratio > worst:
            worst, worst_stage = ratio, stage.stage_id
    return SkewPartial(
        stages_judged=judged, worst_ratio=round(worst, 2), worst_stage_id=worst_stage
    )
