"""driver_bottleneck: the driver, not the cluster, sets the pace.

Two signs: (1) long gaps between jobs, when no job runs and every executor waits on the
driver (Sparklens' "driver time", FIELD_NOTES §2.2), measured from the first job's start
to the last job's end, so executor start-up and shutdown count for neither side; (2) a
stage that returns hundreds of megabytes of task results to the driver (``collect``).
"""

from __future__ import annotations

import numpy as np

from ...model import Application, Job
from ..findings import Finding, Scope, Severity, finding_id
from ..thresholds import Thresholds
from ._runtime import DEFAULT_MAX_RESULT_BYTES, compute_executors, job_windows, parse_size
from ._sizing import savings_over_cores

_MIB = 1 << 20


def driver_bottleneck(app: Application, limits: Thresholds) -> list[Finding]:
    findings = []
    gaps = _driver_gaps(app, limits)
    if gaps is not None:
        findings.append(gaps)
    findings.extend(_large_results(app, limits))
    return findings


def _first_job_after(jobs: list[Job], t: int) -> Job | None:
    after = [j for j in jobs if j.submitted_ms is not None and j.submitted_ms >= t]
    return min(after, key=lambda j: (j.submitted_ms or 0, j.id)) if after else None


def _driver_gaps(app: Application, limits: Thresholds) -> Finding | None:
    lim = limits.runtime
    windows = job_windows(app)
    if len(windows) < 2:
        return None
    span = windows[-1][1] - windows[0][0]
    gaps = [(windows[i][1], windows[i + 1][0]) for i in range(len(windows) - 1)]
    gap_ms = sum(e - s for s, e in gaps)
    if span <= 0 or gap_ms < lim.min_driver_gap_ms:
        return None
    share = gap_ms / span
    if share < lim.driver_share_warning:
        return None
    severity: Severity = "critical" if share >= lim.driver_share_critical else "warning"

    jobs = sorted(app.jobs, key=lambda j: (j.submitted_ms or 0, j.id))
    longest = max(gaps, key=lambda g: g[1] - g[0])
    after_longest = _first_job_after(jobs, longest[1])
    longest_s = (longest[1] - longest[0]) / 1000
    big = sorted((g for g in gaps if g[1] - g[0] >= 0.1 * gap_ms), key=lambda g: g[0] - g[1])[:5]
    scope_jobs = sorted({j.id for g in big if (j := _first_job_after(jobs, g[1])) is not None})
    sql_ids = sorted({j.sql_id for j in jobs if j.id in scope_jobs and j.sql_id is not None})
    job_ms = span - gap_ms
    durations = [
        j.completed_ms - j.submitted_ms
        for j in jobs
        if j.completed_ms is not None and j.submitted_ms is not None
    ]
    executors = compute_executors(app)
    slots = sum(e.slots for e in executors)
    cores = sum(e.cores for e in executors)
    recoverable = sum(max(0, e - s - lim.gap_allowance_ms) for s, e in gaps)
    short_jobs = sum(1 for d in durations if d < 1_000)
    loop_note = (
        f" {short_jobs} of the {len(durations)} jobs ran under a second each: a driver "
        "loop that submits one small job per item; express it as one query (a join or "
        "groupBy over all items) instead."
        if short_jobs >= 5
        else ""
    )
    advice = (
        f"For {gap_ms / 1000:.0f} s of the {span / 1000:.0f} s between the first job's "
        f"start and the last job's end no job ran: the driver was working alone while "
        f"{slots} executor slot(s) waited. The longest gap, {longest_s:.1f} s, "
        f"precedes job {after_longest.id if after_longest else '?'}. Look there for "
        "collect()/toPandas() followed by Python-side processing, driver-side loops or "
        "file listing; move that work into Spark (DataFrame aggregations, mapInPandas) "
        "so it runs on the executors." + loop_note
    )
    return Finding(
        id=finding_id("driver_bottleneck", Scope(job_ids=tuple(scope_jobs))),
        kind="driver_bottleneck",
        agent="runtime",
        severity=severity,
        title=(
            f"Driver-side gaps: no job ran for {share:.0%} of the job span "
            f"({gap_ms / 1000:.0f} s of {span / 1000:.0f} s, longest "
            f"{(longest[1] - longest[0]) / 1000:.1f} s)"
        ),
        scope=Scope(job_ids=tuple(scope_jobs), sql_ids=tuple(sql_ids)),
        evidence={
            "job_span_ms": int(span),
            "driver_gap_ms": int(gap_ms),
            "job_time_ms": int(job_ms),
            "driver_share": round(share, 3),
            "gaps": len(gaps),
            "longest_gap_ms": int(longest[1] - longest[0]),
            "longest_gap_before_job": after_longest.id if after_longest else -1,
            "jobs": len(app.jobs),
            "jobs_under_1s": short_jobs,
            "median_job_ms": int(np.median(durations)) if durations else 0,
            "executor_slots_waiting": slots,
        },
        recommendation=advice,
        estimated_savings=savings_over_cores(app, int(recoverable), cores),
        confidence=round(min(0.85, 0.4 + share / 2), 2),
        explanation=(
            "Sparklens splits wall time into driver time (no job running) and executor "
            "time. Savings: each gap beyond a second of planning, with every executor "
            "core idle during it."
        ),
    )


def _large_results(app: Application, limits: Thresholds) -> list[Finding]:
    lim = limits.runtime
    if not len(app.tasks):
        return []
    conf_max = parse_size(app.spark_conf.get("spark.driver.maxResultSize"))
    max_result = DEFAULT_MAX_RESULT_BYTES if conf_max is None else conf_max
    findings = []
    for stage in app.stages:
        rows = app.stage_tasks(stage)
        total = int(rows.result_size.sum())
        if total < lim.large_result_bytes:
            continue
        critical = max_result > 0 and total >= lim.result_share_of_max_critical * max_result
        severity: Severity = "critical" if critical else "warning"
        scope = Scope(
            job_ids=stage.job_ids,
            stage_ids=(stage.stage_id,),
            sql_ids=(stage.sql_id,) if stage.sql_id is not None else (),
        )
        limit_text = f"{max_result // _MIB} MiB" if max_result > 0 else "unlimited"
        findings.append(
            Finding(
                id=finding_id("driver_bottleneck", scope),
                kind="driver_bottleneck",
                agent="runtime",
                severity=severity,
                title=(
                    f"Stage {stage.stage_id} returned {total / _MIB:.0f} MiB of results to "
                    f"the driver (spark.driver.maxResultSize {limit_text})"
                ),
                scope=scope,
                evidence={
                    "result_bytes": total,
                    "tasks": len(rows),
                    "max_task_result_bytes": int(rows.result_size.max()),
                    "driver_max_result_bytes": max_result,
                    "stage_name": stage.name,
                },
                recommendation=(
                    "Do not collect() or toPandas() a large result: aggregate it in Spark "
                    "first, write it to storage and read it where it is needed, or iterate "
                    "with toLocalIterator(). Raising spark.driver.maxResultSize only moves "
                    "the failure to the driver's heap."
                ),
                confidence=0.8,
            )
        )
    return findings
