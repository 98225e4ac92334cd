"""Fold parsed chunks, in log order, into one immutable :class:`~sparkcopilot.model.Application`."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Literal, TypeVar

import msgspec
import numpy as np
import numpy.typing as npt

from ..model import (
    TASK_COLUMNS,
    Accumulable,
    AppInfo,
    Application,
    EventCounts,
    Executor,
    Job,
    PlanMetric,
    PlanNode,
    SourceInfo,
    SqlExecution,
    StageAttempt,
    TaskFailure,
    TaskTable,
)
from . import _events as ev
from ._chunks import ChunkResult, decode_event

_EXECUTOR_COLUMN = list(TASK_COLUMNS).index("executor")
_DTYPES = tuple(TASK_COLUMNS.values())
T = TypeVar("T")


@dataclass
class _ExecutorState:
    id: str
    host: str | None = None
    cores: int | None = None
    added_ms: int | None = None
    removed_ms: int | None = None
    removed_reason: str | None = None
    max_memory_bytes: int | None = None
    resource_profile_id: int = 0
    announced: bool = False
    peak_metrics: dict[str, int] = field(default_factory=dict)


@dataclass
class _JobState:
    id: int
    submitted_ms: int | None
    stage_ids: tuple[int, ...]
    sql_id: int | None
    group: str | None
    completed_ms: int | None = None
    succeeded: bool | None = None
    failure: str | None = None


@dataclass
class _StageState:
    submitted: ev.StageHeader | None = None
    completed: ev.StageInfo | None = None


@dataclass
class _SqlState:
    # The start event minus its plan, which is kept as a tree: plans are built as their
    # events arrive (while workers still parse tasks) and their raw form is let go.
    start: ev.SqlExecutionStart
    initial_plan: PlanNode | None
    plan: PlanNode | None
    physical_plan: str
    end: ev.SqlExecutionEnd | None = None
    adaptive_updates: int = 0
    #: Metrics AQE added to the plan after it was submitted (they belong to its root).
    extra_metrics: list[PlanMetric] = field(default_factory=list)


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _plan_tree(info: ev.SparkPlanInfo | None) -> PlanNode | None:
    """The plan as PlanNodes numbered in pre-order."""
    if info is None:
        return None
    counter = iter(range(1 << 30))

    def build(node: ev.SparkPlanInfo) -> PlanNode:
        return PlanNode(
            node_id=next(counter),
            name=node.node_name,
            description=node.simple_string,
            metadata={str(k): str(v) for k, v in node.metadata.items()},
            metrics=tuple(node.metrics),
            children=tuple(build(child) for child in node.children),
        )

    return build(info)


class ApplicationBuilder:
    """Accumulates chunk results; :meth:`build` makes the immutable model once."""

    def __init__(self) -> None:
        # Per column, the pieces each chunk contributed, already in the column's dtype:
        # the table is assembled one column at a time, so memory never holds two copies.
        self._task_pieces: list[list[npt.NDArray[Any]]] = [[] for _ in TASK_COLUMNS]
        self._executor_index: dict[str, int] = {}
        self._failures: list[TaskFailure] = []
        self._started = array("q")
        self._by_type: Counter[str] = Counter()
        self._events = 0
        self._unknown = 0
        self._malformed = 0
        self.not_events = 0

        self._spark_version: str | None = None
        self._app_start: ev.ApplicationStart | None = None
        self._app_end: ev.ApplicationEnd | None = None
        self._spark_conf: dict[str, str] = {}
        self._hadoop_conf: dict[str, str] = {}
        self._system: dict[str, str] = {}
        self._jvm: dict[str, str] = {}
        self._executors: dict[str, _ExecutorState] = {}
        self._jobs: dict[int, _JobState] = {}
        self._stage_jobs: dict[int, list[int]] = {}
        self._stages: dict[tuple[int, int], _StageState] = {}
        self._sql: dict[int, _SqlState] = {}
        self._accum_values: dict[int, int] = {}

    @property
    def events(self) -> int:
        return self._events

    @property
    def app_ended(self) -> bool:
        return self._app_end is not None

    # --- folding ---------------------------------------------------------------------

    def absorb(self, chunk: ChunkResult, lines: Callable[[int, int], bytes]) -> None:
        """Fold one parsed chunk; ``lines(start, stop)`` gives back bytes of its buffer."""
        self._absorb_tasks(chunk)
        self._by_type.update(chunk.by_type)
        self._events += chunk.events_total
        self._unknown += chunk.unknown
        self._malformed += chunk.malformed
        self.not_events += chunk.not_events
        for name, start, stop in chunk.other_events:
            event = decode_event(name, lines(start, stop))
            if event is None:
                self._malformed += 1
                continue
            self._events += 1
            self._by_type[name.decode()] += 1
            self._HANDLERS[type(event)](self, event)

    def _absorb_tasks(self, chunk: ChunkResult) -> None:
        self._failures.extend(chunk.failures)
        self._started.extend(chunk.started_task_ids)
        if not len(chunk.tasks):
            return
        for executor_id, host in chunk.executor_hosts.items():
            state = self._executor(executor_id)
            if state.host is None and host:
                state.host = host
        mapping = np.array(
            [
                self._executor_index.setdefault(e, len(self._executor_index))
                for e in chunk.executor_ids
            ],
            dtype=np.int64,
        )
        block = chunk.tasks
        block[:, _EXECUTOR_COLUMN] = mapping[block[:, _EXECUTOR_COLUMN]]
        for pieces, (i, dtype) in zip(self._task_pieces, enumerate(_DTYPES), strict=True):
            pieces.append(block[:, i].astype(dtype))

    def _executor(self, executor_id: str) -> _ExecutorState:
        state = self._executors.get(executor_id)
        if state is None:
            state = self._executors[executor_id] = _ExecutorState(executor_id)
        return state

    def _on_log_start(self, e: ev.LogStart) -> None:
        self._spark_version = self._spark_version or e.spark_version

    def _on_databricks_metadata(self, e: ev.DatabricksLogMetadata) -> None:
        self._spark_version = self._spark_version or e.spark_version

    def _on_app_start(self, e: ev.ApplicationStart) -> None:
        self._app_start = self._app_start or e

    def _on_app_end(self, e: ev.ApplicationEnd) -> None:
        self._app_end = e

    def _on_environment(self, e: ev.EnvironmentUpdate) -> None:
        # Databricks logs repeat the environment; later updates add to earlier ones.
        self._spark_conf.update(ev.property_map(e.spark))
        self._hadoop_conf.update(ev.property_map(e.hadoop))
        self._system.update(ev.property_map(e.system))
        self._jvm.update(ev.property_map(e.jvm))

    def _on_executor_added(self, e: ev.ExecutorAdded) -> None:
        state = self._executor(e.executor_id)
        state.announced = True
        state.added_ms = e.timestamp
        if e.info is not None:
            state.host = e.info.host or state.host
            state.cores = e.info.cores
            state.resource_profile_id = e.info.resource_profile_id

    def _on_executor_removed(self, e: ev.ExecutorRemoved) -> None:
        state = self._executor(e.executor_id)
        state.removed_ms = e.timestamp
        state.removed_reason = e.reason

    def _on_block_manager(self, e: ev.BlockManagerAdded) -> None:
        if e.block_manager is None:
            return
        state = self._executor(e.block_manager.executor_id)
        state.max_memory_bytes = e.max_memory
        state.host = state.host or e.block_manager.host

    def _on_stage_executor_metrics(self, e: ev.StageExecutorMetrics) -> None:
        peaks = self._executor(e.executor_id).peak_metrics
        for name, value in e.metrics.items():
            if value > peaks.get(name, -1):
                peaks[name] = value

    def _on_job_start(self, e: ev.JobStart) -> None:
        sql_id = _to_int(e.properties.sql_execution_id)
        stage_ids = tuple(e.stage_ids)
        self._jobs[e.job_id] = _JobState(
            e.job_id, e.submitted_ms, stage_ids, sql_id, e.properties.group
        )
        for stage_id in stage_ids:
            self._stage_jobs.setdefault(stage_id, []).append(e.job_id)

    def _on_job_end(self, e: ev.JobEnd) -> None:
        job = self._jobs.get(e.job_id)
        if job is None:  # JobStart lost: keep what the end says
            job = self._jobs[e.job_id] = _JobState(e.job_id, None, (), None, None)
        job.completed_ms = e.completed_ms
        result = e.result or ev.JobResult()
        job.succeeded = result.result == "JobSucceeded"
        if not job.succeeded and result.exception:
            job.failure = str(result.exception.get("Message", result.exception))[:500]

    def _on_stage_submitted(self, e: ev.StageSubmitted) -> None:
        self._stages.setdefault((e.info.stage_id, e.info.attempt), _StageState()).submitted = e.info

    def _on_stage_completed(self, e: ev.StageCompleted) -> None:
        # Only named accumulables are kept: the internal ones repeat the task metrics.
        info = msgspec.structs.replace(e.info, accumulables=_named_accumulables(e.info))
        self._stages.setdefault((info.stage_id, info.attempt), _StageState()).completed = info
        for acc in info.accumulables:
            value = _to_int(acc.value)
            if value is not None:
                self._accum_values[acc.id] = value

    def _on_sql_start(self, e: ev.SqlExecutionStart) -> None:
        plan = _plan_tree(e.plan)
        start = msgspec.structs.replace(e, plan=None, physical_plan="")
        self._sql[e.execution_id] = _SqlState(start, plan, plan, e.physical_plan)

    def _sql_state(self, execution_id: int) -> _SqlState | None:
        return self._sql.get(execution_id)

    def _on_sql_end(self, e: ev.SqlExecutionEnd) -> None:
        state = self._sql_state(e.execution_id)
        if state is not None:
            state.end = e

    def _on_sql_adaptive(self, e: ev.SqlAdaptiveExecutionUpdate) -> None:
        state = self._sql_state(e.execution_id)
        if state is not None:
            state.physical_plan = e.physical_plan
            state.plan = _plan_tree(e.plan)
            state.adaptive_updates += 1

    def _on_sql_metric_updates(self, e: ev.SqlAdaptiveMetricUpdates) -> None:
        state = self._sql_state(e.execution_id)
        if state is not None:
            state.extra_metrics.extend(e.metrics)

    def _on_driver_accum(self, e: ev.DriverAccumUpdates) -> None:
        for accumulator_id, value in e.updates:
            number = _to_int(value)
            if number is not None:
                self._accum_values[accumulator_id] = number

    _HANDLERS: ClassVar[Mapping[type, Callable[[ApplicationBuilder, Any], None]]] = {
        ev.LogStart: _on_log_start,
        ev.DatabricksLogMetadata: _on_databricks_metadata,
        ev.ApplicationStart: _on_app_start,
        ev.ApplicationEnd: _on_app_end,
        ev.EnvironmentUpdate: _on_environment,
        ev.ExecutorAdded: _on_executor_added,
        ev.ExecutorRemoved: _on_executor_removed,
        ev.BlockManagerAdded: _on_block_manager,
        ev.StageExecutorMetrics: _on_stage_executor_metrics,
        ev.JobStart: _on_job_start,
        ev.JobEnd: _on_job_end,
        ev.StageSubmitted: _on_stage_submitted,
        ev.StageCompleted: _on_stage_completed,
        ev.SqlExecutionStart: _on_sql_start,
        ev.SqlExecutionEnd: _on_sql_end,
        ev.SqlAdaptiveExecutionUpdate: _on_sql_adaptive,
        ev.SqlAdaptiveMetricUpdates: _on_sql_metric_updates,
        ev.DriverAccumUpdates: _on_driver_accum,
    }

    # --- building --------------------------------------------------------------------

    def build(
        self,
        source: SourceInfo,
        *,
        truncated_tail: bool,
        spark_version_hint: str | None = None,
    ) -> Application:
        tasks, stage_rows = self._task_table()
        stages = self._stage_attempts(stage_rows)
        start = self._app_start
        app = AppInfo(
            id=start.app_id if start else None,
            name=start.name if start else None,
            user=start.user if start else None,
            attempt_id=start.attempt_id if start else None,
            spark_version=self._spark_version or spark_version_hint,
            start_ms=start.timestamp if start else None,
            end_ms=self._app_end.timestamp if self._app_end else None,
            databricks_runtime=self._spark_conf.get(
                "spark.databricks.clusterUsageTags.sparkVersion"
            ),
        )
        started = np.frombuffer(self._started, dtype=np.int64)
        # Few or none: pick them out before making them unique.
        unfinished = tuple(
            np.unique(started[np.isin(started, tasks.task_id, invert=True)]).tolist()
        )
        # Every end has its start unless there are more ends than finished starts: only
        # then is it worth looking for which (a lost TaskStart).
        unstarted: tuple[int, ...] = ()
        if len(tasks) > len(started) - len(unfinished):
            unstarted = tuple(tasks.task_id[np.isin(tasks.task_id, started, invert=True)].tolist())
        return Application(
            source=source,
            app=app,
            spark_conf=self._spark_conf,
            hadoop_conf=self._hadoop_conf,
            system_properties=self._system,
            jvm=self._jvm,
            executors=tuple(_frozen(Executor, s) for s in self._executors.values() if s.announced),
            jobs=tuple(_frozen(Job, j) for j in sorted(self._jobs.values(), key=lambda j: j.id)),
            stages=stages,
            tasks=tasks,
            executor_ids=tuple(self._executor_index),
            task_failures=tuple(self._failures),
            unfinished_task_ids=unfinished,
            unstarted_task_ids=unstarted,
            unannounced_executor_ids=tuple(
                s.id
                for s in self._executors.values()
                if not s.announced
                and (s.max_memory_bytes is not None or s.id in self._executor_index)
            ),
            sql_executions=self._sql_executions(),
            counts=EventCounts(
                events=self._events,
                unknown=self._unknown,
                skipped=sum(self._by_type.get(name, 0) for name in ev.KNOWN_SKIPPED),
                malformed_lines=self._malformed,
                by_type=dict(self._by_type),
                task_starts=len(self._started),
                truncated_tail=truncated_tail,
            ),
        )

    def _task_table(self) -> tuple[TaskTable, dict[tuple[int, int], tuple[int, int]]]:
        def whole(index: int) -> npt.NDArray[Any]:
            pieces = self._task_pieces[index]
            joined = np.concatenate(pieces) if pieces else np.zeros(0, dtype=_DTYPES[index])
            pieces.clear()
            return joined

        names = list(TASK_COLUMNS)
        keys = [whole(names.index(n)) for n in ("launch_ms", "stage_attempt", "stage_id")]
        order = np.lexsort(keys)
        ready = dict(zip(("launch_ms", "stage_attempt", "stage_id"), keys, strict=True))
        columns: dict[str, Any] = {}
        for index, name in enumerate(names):
            column = (ready.pop(name) if name in ready else whole(index))[order]
            column.flags.writeable = False
            columns[name] = column
        table = TaskTable(**columns)
        rows: dict[tuple[int, int], tuple[int, int]] = {}
        if len(table):
            stage_key = table.stage_id.astype(np.int64) << 32 | table.stage_attempt.astype(np.int64)
            boundaries = np.flatnonzero(np.diff(stage_key)) + 1
            starts = np.concatenate(([0], boundaries))
            stops = np.concatenate((boundaries, [len(table)]))
            for lo, hi in zip(starts.tolist(), stops.tolist(), strict=True):
                rows[(int(table.stage_id[lo]), int(table.stage_attempt[lo]))] = (lo, hi)
        return table, rows

    def _stage_attempts(
        self, stage_rows: dict[tuple[int, int], tuple[int, int]]
    ) -> tuple[StageAttempt, ...]:
        job_sql = {j.id: j.sql_id for j in self._jobs.values()}
        keys = sorted(set(self._stages) | set(stage_rows))
        out = []
        for key in keys:
            state = self._stages.get(key) or _StageState()
            done = state.completed
            # Tasks of a stage whose StageSubmitted was lost still belong somewhere.
            info = done or state.submitted or ev.StageHeader(stage_id=key[0], attempt=key[1])
            job_ids = tuple(self._stage_jobs.get(key[0], ()))
            sql_id = next((job_sql[j] for j in job_ids if job_sql.get(j) is not None), None)
            status: Literal["complete", "failed", "running"]
            if done is None:
                status = "running"
            elif done.failure_reason:
                status = "failed"
            else:
                status = "complete"
            out.append(
                StageAttempt(
                    stage_id=key[0],
                    attempt=key[1],
                    name=info.name,
                    num_tasks=info.num_tasks,
                    parent_ids=tuple(info.parent_ids),
                    details=info.details,
                    submitted_ms=info.submitted_ms,
                    completed_ms=done.completed_ms if done else None,
                    status=status,
                    failure_reason=done.failure_reason if done else None,
                    job_ids=job_ids,
                    sql_id=sql_id,
                    resource_profile_id=info.resource_profile_id,
                    accumulables=tuple(
                        Accumulable(a.id, a.name or "", _scalar(a.value))
                        for a in (done.accumulables if done else ())
                    ),
                    task_rows=stage_rows.get(key, (0, 0)),
                    submission_logged=state.submitted is not None,
                )
            )
        return tuple(out)

    def _sql_executions(self) -> tuple[SqlExecution, ...]:
        jobs_by_sql: dict[int, list[int]] = {}
        for job in self._jobs.values():
            if job.sql_id is not None:
                jobs_by_sql.setdefault(job.sql_id, []).append(job.id)
        out = []
        for execution_id in sorted(self._sql):
            state = self._sql[execution_id]
            plan = state.plan
            if plan is not None and state.extra_metrics:
                plan = replace(plan, metrics=(*plan.metrics, *state.extra_metrics))
            accumulator_ids = {
                m.accumulator_id for n in (plan.walk() if plan else ()) for m in n.metrics
            }
            out.append(
                SqlExecution(
                    id=execution_id,
                    root_id=state.start.root_execution_id,
                    description=state.start.description,
                    details=state.start.details,
                    physical_plan=state.physical_plan,
                    plan=plan,
                    initial_plan=state.initial_plan if state.adaptive_updates else plan,
                    start_ms=state.start.time,
                    end_ms=state.end.time if state.end else None,
                    error=(state.end.error or None) if state.end else None,
                    job_ids=tuple(sorted(jobs_by_sql.get(execution_id, ()))),
                    adaptive_updates=state.adaptive_updates,
                    modified_configs={
                        str(k): str(v) for k, v in state.start.modified_configs.items()
                    },
                    metric_values={
                        a: self._accum_values[a] for a in accumulator_ids if a in self._accum_values
                    },
                )
            )
        return tuple(out)


def _frozen(cls: type[T], state: object) -> T:
    """The immutable model value of a mutable build state with the same field names."""
    return cls(**{f.name: getattr(state, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def _named_accumulables(info: ev.StageInfo) -> list[ev.AccumulableInfo]:
    """SQL metrics and user accumulators; ``internal.*`` ones repeat the task metrics."""
    return [a for a in info.accumulables if not (a.name or "").startswith("internal.")]


def _scalar(value: Any) -> int | float | str | None:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)[:200]
