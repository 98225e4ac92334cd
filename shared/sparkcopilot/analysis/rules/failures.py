"""task_failures: task attempts that failed, stage attempts that failed or were retried,
jobs that aborted, executors lost mid-run.

Killed attempts (speculation losers, cancelled stages) and commit denials are not
failures: they are the scheduler's own doing.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from ...model import Application, TaskOutcome
from ..findings import Finding, Savings, Scope, Severity, finding_id
from ..thresholds import Thresholds
from ._runtime import compute_executors, format_size, job_windows, parse_size

_FAILED = (
    TaskOutcome.EXCEPTION_FAILURE,
    TaskOutcome.FETCH_FAILED,
    TaskOutcome.EXECUTOR_LOST,
    TaskOutcome.RESULT_LOST,
    TaskOutcome.UNKNOWN,
)
# Removal reasons of an executor that ended normally (released by dynamic allocation,
# stopped with the application, decommissioned on request).
_NORMAL_REMOVAL = re.compile(
    r"killed by driver|explicit termination|decommission|application (?:has )?finished"
    r"|stopped|idle",
    re.IGNORECASE,
)
MEMORY_FAILURE = re.compile(
    r"OutOfMemory|Java heap space|GC overhead limit|exceeding memory limits"
    r"|exit code:? ?(?:137|143|52)|exit status:? ?(?:137|143|52)|Container killed|OOMKilled",
    re.IGNORECASE,
)
_RECENT = re.compile(r"most recent failure: Lost task [^:]*\):\s*([^\n]+)")


def _normalise(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "(no message)"
    return re.sub(r"0x[0-9a-fA-F]+|\d+", "N", first)[:200]


def task_failures(app: Application, limits: Thresholds) -> list[Finding]:
    lim = limits.runtime
    tasks = app.tasks
    failed_mask = np.isin(tasks.outcome, [int(o) for o in _FAILED])
    failed = int(failed_mask.sum())
    attempts = len(tasks)
    failed_stages = [s for s in app.stages if s.status == "failed"]
    retried = [s for s in app.stages if s.attempt > 0]
    failed_jobs = [j for j in app.jobs if j.succeeded is False]
    lost = [
        e
        for e in app.executors
        if e.removed_reason and not _NORMAL_REMOVAL.search(e.removed_reason)
    ]
    if failed < lim.failed_tasks_warning and not failed_stages and not retried and not lost:
        return []
    rate = failed / attempts if attempts else 0.0
    severity: Severity = (
        "critical"
        if failed_jobs or failed >= lim.failed_tasks_critical or rate >= lim.failure_rate_critical
        else "warning"
    )

    # The dominant failure, quoted; a failed stage's reason names the exception class.
    real = [f for f in app.task_failures if f.outcome in _FAILED]
    counts = Counter(_normalise(f.message) for f in real)
    reasons = [s.failure_reason for s in failed_stages if s.failure_reason]
    dominant = ""
    if counts:
        key, n = counts.most_common(1)[0]
        sample = next(f.message for f in real if _normalise(f.message) == key)
        dominant = sample.strip().splitlines()[0] if sample.strip() else key
        dominant_count = n
    else:
        dominant_count = 0
    exception = ""
    for reason in reasons:
        match = _RECENT.search(reason)
        if match:
            exception = match.group(1).strip()
            break
    if not dominant:
        dominant = exception or (lost[0].removed_reason or "" if lost else "")
    quoted = exception if exception and dominant in exception else dominant
    outcomes = Counter(TaskOutcome(int(o)).name for o in tasks.outcome[failed_mask])
    all_text = " ".join([dominant, exception, *(e.removed_reason or "" for e in lost)])

    advice, config = _advice(
        app,
        quoted=quoted,
        all_text=all_text,
        outcomes=outcomes,
        lost=bool(lost),
        dominant_count=dominant_count,
        failed_jobs=len(failed_jobs),
    )

    wasted = int(tasks.duration_ms[failed_mask].sum())
    slots = max(1, sum(e.slots for e in compute_executors(app)))
    failed_job_ms = sum(
        j.completed_ms - j.submitted_ms
        for j in failed_jobs
        if j.completed_ms is not None and j.submitted_ms is not None
    )
    windows = job_windows(app)
    app_ms = app.app.duration_ms or (windows[-1][1] - windows[0][0] if windows else 0)
    stage_ids = tuple(
        sorted(
            {int(s) for s in tasks.stage_id[failed_mask]}
            | {s.stage_id for s in failed_stages}
            | {s.stage_id for s in retried}
        )
    )
    job_ids = tuple(
        sorted(
            {j.id for j in failed_jobs}
            | {j for s in app.stages if s.stage_id in stage_ids for j in s.job_ids}
        )
    )
    title = _title(
        failed=failed,
        attempts=attempts,
        stages=len(failed_stages),
        retries=len(retried),
        jobs=len(failed_jobs),
        lost=len(lost),
    )
    return [
        Finding(
            id=finding_id("task_failures", Scope()),
            kind="task_failures",
            agent="runtime",
            severity=severity,
            title=title,
            scope=Scope(job_ids=job_ids, stage_ids=stage_ids),
            evidence={
                "failed_task_attempts": failed,
                "task_attempts": attempts,
                "failure_rate": round(rate, 3),
                "failed_by_reason": ", ".join(f"{k}={v}" for k, v in outcomes.most_common()),
                "failed_stage_attempts": len(failed_stages),
                "stage_retries": len(retried),
                "failed_jobs": len(failed_jobs),
                "lost_executors": len(lost),
                "dominant_failure": dominant[:300],
                "dominant_failure_count": dominant_count,
                "exception": exception[:300],
                "failed_attempt_time_ms": wasted,
            },
            recommendation=advice,
            config=config,
            estimated_savings=Savings(
                wall_ms=int(min(max(failed_job_ms, wasted / slots), app_ms)),
                core_hours=round(wasted / 3_600_000, 4),
            ),
            confidence=0.9 if failed or failed_jobs else 0.7,
            explanation=(
                "spark-advisor-rules warns on any failed task and calls 10 critical; "
                "Dr. Elephant calls a 0.5 task failure rate critical. Savings: the time "
                "of aborted jobs, or failed attempts' task time spread over the slots."
            ),
        )
    ]


def _advice(
    app: Application,
    *,
    quoted: str,
    all_text: str,
    outcomes: Counter[str],
    lost: bool,
    dominant_count: int,
    failed_jobs: int,
) -> tuple[str, dict[str, str]]:
    """What addresses the dominant failure, and the settings that do it."""
    conf = app.spark_conf
    config: dict[str, str] = {}
    if "GPU OutOfMemory" in all_text or "GpuRetryOOM" in all_text:
        config = {"spark.rapids.sql.concurrentGpuTasks": "1"}
        advice = (
            f'Tasks ran out of GPU memory ("{quoted}"). Let fewer tasks share a GPU '
            "(setting below) and lower spark.rapids.sql.batchSizeBytes, or give the "
            "oversized partitions more shuffle partitions."
        )
    elif MEMORY_FAILURE.search(all_text):
        memory = parse_size(conf.get("spark.executor.memory"), "m") or (1 << 30)
        overhead = parse_size(conf.get("spark.executor.memoryOverhead"), "m") or max(
            384 << 20, memory // 10
        )
        config = {
            "spark.executor.memoryOverhead": format_size(max(overhead * 2, 1 << 30)),
            "spark.executor.memory": format_size(int(memory * 1.5)),
        }
        advice = (
            f'Executors ran out of memory ("{quoted}"). Raise the heap and the '
            "off-heap overhead (settings below), or run fewer cores per executor so "
            "each task gets more of it; then look for the skewed or oversized "
            "partition that needed it."
        )
    elif outcomes.get("FETCH_FAILED") or "FetchFailed" in all_text:
        config = {
            "spark.shuffle.io.maxRetries": "10",
            "spark.shuffle.io.retryWait": "30s",
        }
        advice = (
            f'Shuffle fetches failed ("{quoted}"): the executor that held the map '
            "output died or was unreachable, so the parent stage was rerun. Find why "
            "it died (its removal reason, usually memory), keep shuffle files past "
            "executor loss (external shuffle service or decommissioning), and retry "
            "fetches longer (settings below)."
        )
    elif outcomes.get("EXECUTOR_LOST") or lost:
        advice = (
            f'Executors were lost ("{quoted}") and their tasks rerun. Check the '
            "cluster manager's reason for the container's exit: memory (raise "
            "spark.executor.memoryOverhead), preemption of spot/preemptible nodes "
            "(enable spark.decommission.enabled), or node failure."
        )
    else:
        max_failures = conf.get("spark.task.maxFailures", "4")
        advice = (
            f'Tasks failed with "{quoted}" ({dominant_count} attempt(s)). This is an '
            "error in the data or the code, not the cluster: retries "
            f"(spark.task.maxFailures={max_failures}) repeat it. Fix or filter the "
            "offending records (e.g. try_cast / a validity filter before the "
            "aggregation) or handle the exception in the UDF."
        )
        if failed_jobs:
            advice += f" {failed_jobs} job(s) aborted and their work was lost."

    return advice, config


def _title(*, failed: int, attempts: int, stages: int, retries: int, jobs: int, lost: int) -> str:
    parts = []
    if failed:
        parts.append(f"{failed} failed task attempt(s) of {attempts}")
    if stages:
        parts.append(f"{stages} failed stage attempt(s)")
    if retries:
        parts.append(f"{retries} stage retr{'y' if retries == 1 else 'ies'}")
    if jobs:
        parts.append(f"{jobs} failed job(s)")
    if lost:
        parts.append(f"{lost} lost executor(s)")
    return ", ".join(parts)
