"""data_skew: a few tasks of a stage read far more data, and run far longer, than the
stage's median task.

The straggler holds the stage (and every stage after it) while the other cores idle.
Its excess over the median says whether the skew matters; what splitting it gives back is
the stage's span less its work spread over its cores (what the stage then takes), and
never more than that excess. Only a straggler that also reads several times the median's
bytes is data skew; one that doesn't is reported as info.
"""

from __future__ import annotations

import numpy as np

from ...model import Application, StageAttempt, TaskOutcome
from ..findings import Finding, Severity, finding_id
from ..thresholds import Thresholds
from ._sizing import app_cores, app_wall_ms, savings_over_cores, stage_cores, stage_scope

_MIB = 1 << 20


def data_skew(app: Application, limits: Thresholds) -> list[Finding]:
    wall = app_wall_ms(app)
    findings = []
    for stage in app.stages:
        finding = _stage_skew(app, stage, wall, limits)
        if finding is not None:
            findings.append(finding)
    return findings


def _stage_skew(
    app: Application, stage: StageAttempt, wall_ms: int, limits: Thresholds
) -> Finding | None:
    tasks = app.stage_tasks(stage)
    ok = tasks.outcome == TaskOutcome.SUCCESS
    if int(ok.sum()) < limits.skew.min_tasks:
        return None
    durations = tasks.duration_ms[ok]
    median = max(float(np.median(durations)), 1.0)
    slowest = int(durations.argmax())
    longest = int(durations[slowest])
    ratio = longest / median
    excess = longest - median
    if (
        ratio < limits.skew.ratio_warning
        or longest < limits.skew.min_max_task_ms
        or excess < limits.skew.min_share_of_app * wall_ms
    ):
        return None
    read = (tasks.shuffle_read_bytes + tasks.input_bytes)[ok]
    data_ratio = float(read[slowest]) / max(float(np.median(read)), 1.0)
    by_data = data_ratio >= limits.skew.ratio_warning
    reads_shuffle = bool(tasks.shuffle_read_bytes[ok].sum() > 0)
    # A straggler that reads no more than its peers is slow for another reason (JIT
    # warm-up of a fresh executor, GC, a slow node): worth a note, not a skew fix.
    severity: Severity
    if not by_data:
        severity = "info"
    elif ratio >= limits.skew.ratio_critical:
        severity = "critical"
    else:
        severity = "warning"
    scope = stage_scope(stage)
    cores = stage_cores(app, stage, app_cores(app))
    config: dict[str, str] = {}
    if reads_shuffle:
        # AQE splits a shuffle partition only when it is both factor x the median and
        # over the byte threshold (256 MB by default): set both so this one qualifies.
        biggest = int(read[slowest])
        threshold = max(16 * _MIB, biggest // 2 // _MIB * _MIB)
        # It cuts the partition into pieces of the advisory size (64 MB by default), so a
        # hot partition under that would stay whole: size the pieces to give every core
        # two of them.
        piece_mib = max(1, biggest // (2 * cores) // _MIB)
        config = {
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.adaptive.skewJoin.enabled": "true",
            "spark.sql.adaptive.skewJoin.skewedPartitionFactor": str(
                int(max(2, min(5, data_ratio // 2)))
            ),
            "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes": f"{threshold // _MIB}m",
            "spark.sql.adaptive.advisoryPartitionSizeInBytes": f"{piece_mib}m",
        }
        advice = (
            "Let AQE split the oversized shuffle partition (settings below); if the skew "
            "is in an aggregation rather than a join, salt the hot key or pre-aggregate it."
        )
    else:
        advice = (
            "The slow task reads far more input than the others: repartition the input on "
            "a better-spread key, or split the oversized input files."
        )
    cause = "data" if by_data else "time (not data: check GC, the executor, or the code path)"
    span = stage.duration_ms or longest
    saved = int(max(0.0, min(excess, span - max(median, float(durations.sum()) / cores))))
    return Finding(
        id=finding_id("data_skew", scope),
        kind="data_skew",
        agent="skew",
        severity=severity,
        title=(
            f"Stage {stage.stage_id}: slowest task ran {ratio:.0f}x the median "
            f"({longest / 1000:.1f} s vs {median / 1000:.1f} s), skewed by {cause}"
        ),
        scope=scope,
        evidence={
            "max_task_ms": longest,
            "median_task_ms": int(median),
            "max_over_median": round(ratio, 1),
            "max_task_read_bytes": int(read[slowest]),
            "median_task_read_bytes": int(np.median(read)),
            "read_max_over_median": round(data_ratio, 1),
            "tasks": int(ok.sum()),
            "stage_name": stage.name,
        },
        recommendation=advice,
        config=config,
        estimated_savings=savings_over_cores(app, saved, cores),
        confidence=round(min(0.95, 0.6 + 0.03 * ratio), 2) if by_data else 0.5,
    )
