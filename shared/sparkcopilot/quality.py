"""Data quality: whether the log holds every event Spark wrote (DESIGN.md §8).

Spark's listener bus drops events when its queue overflows, and uploads and copies lose
lines; a report over such a log silently under-counts. Each event has a partner the
log must also hold (a TaskEnd its TaskStart, a completed stage one end per task, a job's
start its end), so a lost line leaves a visible hole. Holes that only a finished
application must have closed (tasks, stages, jobs and queries still running) are judged
only on complete logs: an in-progress or cut-off log is incomplete, not lossy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from .model import Application, SqlExecution, TaskOutcome

if TYPE_CHECKING:
    from .analysis.findings import Finding

ProblemKind = Literal[
    "missing_task_end",
    "missing_task_start",
    "unfinished_task",
    "missing_stage_submit",
    "missing_stage_end",
    "missing_job_start",
    "missing_job_end",
    "missing_sql_start",
    "missing_sql_end",
    "missing_executor_added",
    "missing_block_manager",
    "missing_log_start",
    "missing_resource_profile",
    "missing_environment",
    "missing_app_start",
    "missing_driver_metrics",
    "missing_plan_update",
    "impossible_times",
]

#: What each kind means, for the reason a finding gives when it rests on lost data.
_WHAT: dict[ProblemKind, str] = {
    "missing_task_end": "task ends lost",
    "missing_task_start": "task starts lost",
    "unfinished_task": "tasks never ended",
    "missing_stage_submit": "stage submissions lost",
    "missing_stage_end": "stages never completed",
    "missing_job_start": "job starts lost",
    "missing_job_end": "jobs never ended",
    "missing_sql_start": "SQL execution starts lost",
    "missing_sql_end": "SQL executions never ended",
    "missing_executor_added": "executor additions lost",
    "missing_block_manager": "block-manager registrations lost",
    "missing_log_start": "log header (Spark version) lost",
    "missing_resource_profile": "default resource profile lost",
    "missing_environment": "environment (Spark properties) lost",
    "missing_app_start": "application start lost",
    "missing_driver_metrics": "queries whose driver-side metric updates were lost",
    "missing_plan_update": "queries whose final adaptive plan was lost",
    "impossible_times": "times that end before they start",
}

_JOB_START = "SparkListenerJobStart"
#: SQL metrics whose values only the driver posts (SQLMetrics.postDriverMetricUpdates).
_DRIVER_METRICS = frozenset(
    {
        "number of files read",
        "number of partitions",
        "job commit time",
        "time to broadcast",
    }
)
_NOT_FINAL = "isFinalPlan=false"
_DRIVER_IDS = frozenset({"driver", "<driver>"})
_ENVIRONMENT = "SparkListenerEnvironmentUpdate"
_APP_START = "SparkListenerApplicationStart"
_EXECUTOR_ADDED = "SparkListenerExecutorAdded"
_PROFILE_ADDED = "SparkListenerResourceProfileAdded"
#: A finding that rests on lost events keeps this share of its confidence.
LOSS_CONFIDENCE_FACTOR = 0.6


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Problem(_Contract):
    kind: ProblemKind
    count: int
    #: The stages it touches (empty when the lost events do not say).
    stage_ids: tuple[int, ...] = ()


class DataQuality(_Contract):
    complete: bool
    event_loss: bool
    problems: tuple[Problem, ...] = ()


def _problem(kind: ProblemKind, count: int, stage_ids: Iterable[int] = ()) -> list[Problem]:
    return (
        [Problem(kind=kind, count=count, stage_ids=tuple(sorted(set(stage_ids))))] if count else []
    )


def _task_problems(app: Application) -> list[Problem]:
    t = app.tasks
    short: dict[int, int] = {}
    for stage in app.stages:
        if stage.status != "complete":
            continue
        tasks = app.stage_tasks(stage)
        done = np.unique(tasks.index[tasks.outcome == TaskOutcome.SUCCESS]).size
        if done < stage.num_tasks:
            short[stage.stage_id] = short.get(stage.stage_id, 0) + stage.num_tasks - done
    unstarted = np.isin(t.task_id, np.asarray(app.unstarted_task_ids, dtype=np.int64))
    backwards = (t.finish_ms < t.launch_ms) | (t.run_ms < 0) | (t.launch_ms <= 0)
    backwards_stages = [
        s.stage_id
        for s in app.stages
        if s.submitted_ms is not None
        and s.completed_ms is not None
        and s.completed_ms < s.submitted_ms
    ]
    backwards_jobs = [
        j
        for j in app.jobs
        if j.submitted_ms is not None
        and j.completed_ms is not None
        and j.completed_ms < j.submitted_ms
    ]
    return [
        *_problem("missing_task_end", sum(short.values()), short),
        *_problem("missing_task_start", int(unstarted.sum()), t.stage_id[unstarted].tolist()),
        *_problem(
            "impossible_times",
            int(backwards.sum()) + len(backwards_stages) + len(backwards_jobs),
            [*t.stage_id[backwards].tolist(), *backwards_stages]
            + [i for j in backwards_jobs for i in j.stage_ids],
        ),
    ]


def _registration_problems(app: Application) -> list[Problem]:
    """Executors, block managers and the log's own header, which every log of a Spark
    version that writes them holds."""
    logged = app.counts.by_type
    databricks = app.app.databricks_runtime is not None or any(
        k.startswith("spark.databricks.") for k in app.spark_conf
    )
    # Spark 1.x logs executors only in cluster mode; from 2.0 the local driver too.
    executors_logged = bool(logged.get(_EXECUTOR_ADDED)) or app.app.version_at_least(2, 0)
    unannounced = [
        e for e in app.unannounced_executor_ids if executors_logged and e not in _DRIVER_IDS
    ]
    # A task runs only on an executor whose block manager registered, and the driver's
    # always registers.
    no_block_manager = [
        e.id for e in app.executors if e.max_memory_bytes is None and e.id in app.executor_ids
    ]
    profiles_used = {e.resource_profile_id for e in app.executors} | {
        s.resource_profile_id for s in app.stages
    }
    profiles_logged = logged.get(_PROFILE_ADDED, 0)
    return [
        *_problem("missing_executor_added", len(unannounced)),
        *_problem(
            "missing_block_manager",
            len(no_block_manager) or int(not logged.get("SparkListenerBlockManagerAdded")),
        ),
        # LogStart heads every log from Spark 1.3 (a log with executor or profile events
        # is newer); Databricks writes its own header instead.
        *_problem(
            "missing_log_start",
            int(
                not logged.get("SparkListenerLogStart")
                and not databricks
                and app.source.layout != "legacy_dir"
                and bool(logged.get(_EXECUTOR_ADDED) or logged.get(_PROFILE_ADDED))
            ),
        ),
        # Spark 3.1 posts the default resource profile before anything runs, and every
        # other profile before a stage or executor uses it.
        *_problem(
            "missing_resource_profile",
            max(0, len(profiles_used) - profiles_logged) if app.app.version_at_least(3, 1) else 0,
        ),
    ]


def _sql_update_problems(app: Application) -> list[Problem]:
    """What the driver posts about a query as it runs. Metrics only it reports (files a
    scan listed, an exchange's partition count, a broadcast's time, a write's commit
    time) come in DriverAccumUpdates, and adaptive execution's last plan, marked
    ``isFinalPlan=true``, in an AdaptiveExecutionUpdate: a query whose jobs all succeeded
    has both."""
    succeeded = {j.id for j in app.jobs if j.succeeded}
    no_metrics: list[SqlExecution] = []
    no_final_plan: list[SqlExecution] = []
    for q in app.sql_executions:
        if q.plan is None or q.end_ms is None or q.error or not set(q.job_ids) <= succeeded:
            continue
        if _NOT_FINAL in q.plan.description:
            no_final_plan.append(q)
        if any(
            m.name in _DRIVER_METRICS and m.accumulator_id not in q.metric_values
            for node in q.plan.walk()
            for m in node.metrics
        ):
            no_metrics.append(q)
    stages = {j.id: j.stage_ids for j in app.jobs}
    known = {s.stage_id for s in app.stages}

    def stage_ids(queries: list[SqlExecution]) -> Iterable[int]:
        return (i for q in queries for j in q.job_ids for i in stages[j] if i in known)

    return [
        *_problem("missing_driver_metrics", len(no_metrics), stage_ids(no_metrics)),
        *_problem("missing_plan_update", len(no_final_plan), stage_ids(no_final_plan)),
    ]


def _structure_problems(app: Application) -> list[Problem]:
    logged = app.counts.by_type
    stages_known = {s.stage_id for s in app.stages}
    sql_known = {q.id for q in app.sql_executions}
    no_sql = [j for j in app.jobs if j.sql_id is not None and j.sql_id not in sql_known]
    started = app.complete or bool(app.jobs)
    return [
        *_problem(
            "missing_stage_submit",
            sum(1 for s in app.stages if not s.submission_logged),
            (s.stage_id for s in app.stages if not s.submission_logged),
        ),
        # A JobEnd without its JobStart still makes a job (Spark 1.x starts have no time).
        *_problem("missing_job_start", max(0, len(app.jobs) - logged.get(_JOB_START, 0))),
        *_problem(
            "missing_sql_start",
            len({j.sql_id for j in no_sql}),
            (i for j in no_sql for i in j.stage_ids if i in stages_known),
        ),
        # Spark posts both as the application starts, before any job.
        *_problem("missing_environment", int(started and not logged.get(_ENVIRONMENT))),
        *_problem("missing_app_start", int(started and not logged.get(_APP_START))),
        *_registration_problems(app),
        *_sql_update_problems(app),
    ]


def _unclosed_problems(app: Application) -> list[Problem]:
    """What a finished application must have closed: judged on complete logs only."""
    stages_known = {s.stage_id for s in app.stages}
    running = [s for s in app.stages if s.status == "running"]
    open_jobs = [j for j in app.jobs if j.succeeded is None]
    return [
        # A failed stage can leave its tasks running when the application stops.
        *_problem(
            "unfinished_task",
            0 if any(s.status == "failed" for s in app.stages) else len(app.unfinished_task_ids),
        ),
        *_problem("missing_stage_end", len(running), (s.stage_id for s in running)),
        *_problem(
            "missing_job_end",
            len(open_jobs),
            (i for j in open_jobs for i in j.stage_ids if i in stages_known),
        ),
        *_problem("missing_sql_end", sum(1 for q in app.sql_executions if q.end_ms is None)),
    ]


def data_quality(app: Application) -> DataQuality:
    """The holes lost events left in the log; ``event_loss`` when there is any."""
    problems = [*_task_problems(app), *_structure_problems(app)]
    if app.complete:
        problems.extend(_unclosed_problems(app))
    return DataQuality(complete=app.complete, event_loss=bool(problems), problems=tuple(problems))


def describe_loss(quality: DataQuality | Sequence[Problem]) -> str:
    """The problems in one line: ``the log lost events: 3 task ends lost in stages 7``."""
    problems = quality.problems if isinstance(quality, DataQuality) else quality
    parts = []
    for p in problems:
        where = f" in stages {', '.join(map(str, p.stage_ids))}" if p.stage_ids else ""
        parts.append(f"{p.count} {_WHAT[p.kind]}{where}")
    return "the log lost events: " + "; ".join(parts)


def qualified(findings: Sequence[Finding], quality: DataQuality) -> tuple[Finding, ...]:
    """Findings with less confidence where they rest on lost events, saying which: those
    on a stage with a hole, and every application-wide one (it sums over all stages)."""
    if not quality.event_loss:
        return tuple(findings)
    out = []
    for f in findings:
        touched = set(f.scope.stage_ids)
        problems = [p for p in quality.problems if not touched or touched & set(p.stage_ids)]
        if not problems:
            out.append(f)
            continue
        out.append(
            f.model_copy(
                update={
                    "confidence": round(f.confidence * LOSS_CONFIDENCE_FACTOR, 2),
                    "evidence": {**f.evidence, "data_quality": describe_loss(problems)},
                }
            )
        )
    return tuple(out)
