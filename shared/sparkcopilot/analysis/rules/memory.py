"""executor_memory_waste: executors reserved far more heap than they ever used.

The measure is each executor's peak JVM heap use (the ``JVMHeapMemory`` executor metric,
Spark 3.0+, sampled with heartbeats and at stage ends), against ``spark.executor.memory``.
A heap whose peak stays under half its size holds memory the cluster pays for and no task
touches. Heap use includes garbage not yet collected, so a low peak is a safe lower bound
on waste. Applications that spilled to disk, spent a tenth of their time in GC or lost
tasks to memory errors wanted more memory, not less, and are never told to shrink.
"""

from __future__ import annotations

import math

from ...model import Application
from ..findings import Finding, Savings, Scope, finding_id
from ..thresholds import Thresholds
from ._runtime import SlotExecutor, compute_executors, format_size, parse_size
from .failures import MEMORY_FAILURE

_GIB = 1 << 30

#: Spark's default spark.executor.memory.
DEFAULT_EXECUTOR_MEMORY = 1 << 30


def heap_peaks(executors: list[SlotExecutor]) -> list[int]:
    """Peak JVM heap use of each executor whose log has the metric."""
    return [p for e in executors if (p := e.executor.peak_metrics.get("JVMHeapMemory", 0)) > 0]


def _wanted_more_memory(app: Application, limits: Thresholds) -> bool:
    tasks = app.tasks
    run = int(tasks.run_ms.sum())
    return (
        int(tasks.disk_spilled.sum()) >= limits.partition.spill_min_disk_bytes
        or (run > 0 and int(tasks.gc_ms.sum()) / run >= limits.runtime.gc_share_warning)
        or any(MEMORY_FAILURE.search(f.message) for f in app.task_failures)
        or any(MEMORY_FAILURE.search(e.removed_reason or "") for e in app.executors)
    )


def executor_memory_waste(app: Application, limits: Thresholds) -> list[Finding]:
    lim = limits.partition
    workers = [e for e in compute_executors(app) if e.executor.id != "driver"]
    peaks = heap_peaks(workers)
    # Judge only when most executors report the metric: a missing one may be the busiest.
    if not workers or len(peaks) * 2 < len(workers):
        return []
    heap = parse_size(app.spark_conf.get("spark.executor.memory"), "m") or DEFAULT_EXECUTOR_MEMORY
    peak = max(peaks)
    share = peak / heap
    if share >= lim.memory_peak_share_warning or _wanted_more_memory(app, limits):
        return []
    step = lim.memory_step_bytes
    recommended = max(lim.memory_min_bytes, math.ceil(peak * lim.memory_headroom / step) * step)
    if recommended >= heap:
        return []
    executor_hours = sum(e.end_ms - e.start_ms for e in workers) / 3_600_000
    saved_gib_hours = (heap - recommended) / _GIB * executor_hours
    if saved_gib_hours < lim.memory_min_saved_gib_hours:
        return []
    scope = Scope()
    return [
        Finding(
            id=finding_id("executor_memory_waste", scope),
            kind="executor_memory_waste",
            agent="partition",
            severity="warning",
            title=(
                f"Executors reserved {format_size(heap)} of heap but peaked at "
                f"{peak / _GIB:,.2f} GiB ({share:.0%}): {format_size(recommended)} is enough"
            ),
            scope=scope,
            evidence={
                "spark.executor.memory": format_size(heap),
                "peak_jvm_heap_bytes": peak,
                "peak_heap_share": round(share, 3),
                "executors": len(workers),
                "executors_with_heap_metrics": len(peaks),
                "executor_hours": round(executor_hours, 3),
                "recommended_executor_memory": format_size(recommended),
                "saved_memory_gib_hours": round(saved_gib_hours, 2),
            },
            recommendation=(
                f"Lower spark.executor.memory from {format_size(heap)} to "
                f"{format_size(recommended)} (the highest peak any executor reached, plus "
                f"{lim.memory_headroom - 1:.0%} headroom): the same cores fit on smaller or "
                "fewer nodes. Re-check the run's GC time and spill afterwards."
            ),
            config={"spark.executor.memory": format_size(recommended)},
            estimated_savings=Savings(memory_gib_hours=round(saved_gib_hours, 2)),
            # Heap is sampled with heartbeats: a short burst between samples can be missed.
            confidence=0.7,
            explanation=(
                "An executor's heap is reserved for its whole life whether tasks use it or "
                "not. When even the peak use, garbage included, stays far below the heap, "
                "the memory is paid for and idle; a smaller heap leaves the work unchanged."
            ),
        )
    ]
