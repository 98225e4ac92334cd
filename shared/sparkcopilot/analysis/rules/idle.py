"""idle_executors: allocated task slots sat idle for much of the time jobs were running.

Slot time is each executor's lifetime (added → removed, or the application's end) times
its task slots, counted only while at least one job runs: executor start-up before the
first job, shutdown after the last, and driver-side gaps between jobs (driver_bottleneck's
business) belong to neither. Busy time is the tasks' wall time inside the same windows.
"""

from __future__ import annotations

import math

import numpy as np

from ...model import Application
from ..findings import Finding, Savings, Scope, Severity, finding_id
from ..thresholds import Thresholds
from ._runtime import compute_executors, job_windows, overlap_ms


def _busy_ms(app: Application, windows: list[tuple[int, int]]) -> int:
    tasks = app.tasks
    total = 0
    for start, end in windows:
        lo = np.clip(tasks.launch_ms, start, end)
        hi = np.clip(tasks.finish_ms, start, end)
        total += int((hi - lo).sum())
    return total


def _peak_concurrency(app: Application) -> int:
    tasks = app.tasks
    if not len(tasks):
        return 0
    times = np.concatenate([tasks.launch_ms, tasks.finish_ms])
    # Ends sort before starts at the same millisecond: a slot handed straight on is one slot.
    deltas = np.concatenate(
        [np.ones(len(tasks), dtype=np.int64), -np.ones(len(tasks), dtype=np.int64)]
    )
    order = np.lexsort((deltas, times))
    return int(np.cumsum(deltas[order]).max())


def idle_executors(app: Application, limits: Thresholds) -> list[Finding]:
    lim = limits.runtime
    windows = job_windows(app)
    executors = compute_executors(app)
    if not windows or not executors or not len(app.tasks):
        return []
    if all(e.executor.id == "driver" for e in executors):
        return []  # local mode: one JVM, nothing to release
    slot_ms = sum(overlap_ms(e.start_ms, e.end_ms, windows) * e.slots for e in executors)
    if slot_ms <= 0:
        return []
    busy = min(_busy_ms(app, windows), slot_ms)
    idle_ms = slot_ms - busy
    share = idle_ms / slot_ms
    if share < lim.idle_share_warning or idle_ms < lim.min_idle_core_ms:
        return []
    severity: Severity = "critical" if share >= lim.idle_share_critical else "warning"

    job_ms = sum(e - s for s, e in windows)
    total_slots = sum(e.slots for e in executors)
    slots_per_exec = max(1, int(np.median([e.slots for e in executors])))
    cores_per_exec = max(1, int(np.median([e.cores for e in executors])))
    allocated = len(executors)
    peak = _peak_concurrency(app)
    # Executors for the most tasks that ever ran at once, and for the average load.
    for_peak = min(allocated, max(1, math.ceil(peak / slots_per_exec)))
    for_average = min(allocated, max(1, math.ceil(busy / job_ms / slots_per_exec)))
    shrink = for_peak < allocated
    if shrink:
        # The executors beyond those the peak needed, for as long as they were up.
        saved_slot_ms = slot_ms * (allocated - for_peak) / allocated
    else:
        # Every slot was busy at some point: idleness is the shape of the stages (fewer
        # tasks than slots), which dynamic allocation reclaims only once an executor has
        # idled past the timeout, so count half the idle time of the executors beyond
        # the average load.
        saved_slot_ms = idle_ms * (allocated - for_average) / allocated / 2
    core_hours = saved_slot_ms / slots_per_exec * cores_per_exec / 3_600_000

    conf = app.spark_conf
    dynamic = conf.get("spark.dynamicAllocation.enabled", "false").strip().lower() == "true"
    version = app.app.spark_version or ""
    modern = not version[:1].isdigit() or int(version.split(".")[0]) >= 3
    config: dict[str, str] = {
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.minExecutors": "1" if not dynamic else "0",
        "spark.dynamicAllocation.initialExecutors": str(for_average),
        "spark.dynamicAllocation.maxExecutors": str(for_peak),
        "spark.dynamicAllocation.executorIdleTimeout": "30s",
    }
    if not dynamic:
        if modern:
            config["spark.dynamicAllocation.shuffleTracking.enabled"] = "true"
        else:
            config["spark.shuffle.service.enabled"] = "true"
    if dynamic:
        max_now = conf.get("spark.dynamicAllocation.maxExecutors", "unset")
        advice = (
            f"Dynamic allocation is on (maxExecutors={max_now}) but executors still "
            f"idled: at most {peak} task(s) ran at once, which {for_peak} executor(s) of "
            f"{cores_per_exec} core(s) cover. Cap maxExecutors there and release idle "
            "executors after 30 s (settings below)."
        )
    elif shrink:
        advice = (
            f"{allocated} executors were allocated for the whole run but at most {peak} "
            f"task(s) ran at once. Run with spark.executor.instances={for_peak}, or turn "
            "on dynamic allocation (settings below) so executors are released after 30 s "
            "idle and requested again when tasks queue."
        )
    else:
        advice = (
            f"All {total_slots} slots were busy at the peak, but on average only "
            f"{busy / job_ms:.1f} tasks ran: most stages have fewer tasks than slots. Turn "
            "on dynamic allocation (settings below) so executors are released after 30 s "
            "idle, or give the small stages more partitions."
        )
    return [
        Finding(
            id=finding_id("idle_executors", Scope()),
            kind="idle_executors",
            agent="runtime",
            severity=severity,
            title=(
                f"{share:.0%} of the {total_slots} task slots sat idle while jobs ran "
                f"(at most {peak} task(s) at once on {allocated} executor(s))"
            ),
            scope=Scope(),
            evidence={
                "executors": allocated,
                "task_slots": total_slots,
                "cores_per_executor": cores_per_exec,
                "job_time_ms": int(job_ms),
                "slot_time_ms": int(slot_ms),
                "task_time_ms": int(busy),
                "idle_slot_time_ms": int(idle_ms),
                "idle_share": round(share, 3),
                "peak_concurrent_tasks": peak,
                "executors_for_peak": for_peak,
                "executors_for_average_load": for_average,
                "dynamic_allocation": "on" if dynamic else "off",
            },
            recommendation=advice,
            config=config,
            estimated_savings=Savings(wall_ms=0, core_hours=round(core_hours, 4)),
            confidence=round(min(0.9, 0.5 + share / 2), 2),
            explanation=(
                "Idle share = 1 − Σ task time ÷ (Σ executor slots × time they were alive "
                "while a job ran). Savings: the slot time of the executors beyond those "
                "the peak needed (half the idle time beyond the average load when every "
                "slot was busy at the peak)."
            ),
        )
    ]
