"""The application model every analysis reads: immutable values built once from a log.

Tasks are the only part that grows with the size of a log, so they are kept columnar in
one :class:`TaskTable` of read-only numpy arrays (about 200 bytes a task), sorted by
stage, stage attempt and launch time; a stage attempt knows its slice of that table.
Everything else is small frozen dataclasses.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

Layout = Literal["single", "rolling", "databricks", "legacy_dir", "inprogress"]
CodecName = Literal["none", "zstd", "lz4", "snappy", "lzf", "gzip"]

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]
Bool = npt.NDArray[np.bool_]


class TaskLocality(enum.IntEnum):
    """``Task Info.Locality`` as Spark's TaskLocality names it."""

    PROCESS_LOCAL = 0
    NODE_LOCAL = 1
    NO_PREF = 2
    RACK_LOCAL = 3
    ANY = 4
    UNKNOWN = 5


class TaskOutcome(enum.IntEnum):
    """``Task End Reason.Reason``: how a task attempt ended (Spark's TaskEndReason)."""

    SUCCESS = 0
    EXCEPTION_FAILURE = 1
    FETCH_FAILED = 2
    EXECUTOR_LOST = 3
    KILLED = 4
    RESULT_LOST = 5
    COMMIT_DENIED = 6
    RESUBMITTED = 7
    UNKNOWN = 8


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Where the log came from and how it was stored."""

    path: str
    layout: Layout
    codec: CodecName
    files: int
    bytes_read: int
    complete: bool


@dataclass(frozen=True, slots=True)
class AppInfo:
    id: str | None
    name: str | None
    user: str | None
    attempt_id: str | None
    spark_version: str | None
    start_ms: int | None
    end_ms: int | None
    #: Databricks Runtime version when the log says so (``spark.databricks.clusterUsageTags``).
    databricks_runtime: str | None = None

    @property
    def duration_ms(self) -> int | None:
        if self.start_ms is None or self.end_ms is None:
            return None
        return self.end_ms - self.start_ms

    def version_at_least(self, major: int, minor: int) -> bool:
        """Whether the log's Spark version is known and at least ``major.minor``."""
        parts = (self.spark_version or "").split(".")
        try:
            return (int(parts[0]), int(parts[1])) >= (major, minor)
        except (ValueError, IndexError):
            return False


@dataclass(frozen=True, slots=True)
class Executor:
    id: str
    host: str | None
    cores: int | None
    added_ms: int | None
    removed_ms: int | None
    removed_reason: str | None
    #: Storage + execution memory its block manager reported (bytes), when logged.
    max_memory_bytes: int | None
    resource_profile_id: int
    #: Peak of each executor metric (JVMHeapMemory, ProcessTreeJVMRSSMemory, ...) over all stages.
    peak_metrics: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    submitted_ms: int | None
    completed_ms: int | None
    stage_ids: tuple[int, ...]
    #: None while the job has no JobEnd (still running when an in-progress log was cut).
    succeeded: bool | None
    failure: str | None
    sql_id: int | None
    group: str | None


@dataclass(frozen=True, slots=True)
class Accumulable:
    """An accumulator of a stage attempt (``Stage Info.Accumulables``): a SQL metric or a
    user accumulator. Spark's ``internal.metrics.*`` ones are left out: they repeat the
    task metrics the task table already holds."""

    id: int
    name: str
    value: int | float | str | None


@dataclass(frozen=True, slots=True)
class StageAttempt:
    stage_id: int
    attempt: int
    name: str
    num_tasks: int
    parent_ids: tuple[int, ...]
    details: str
    submitted_ms: int | None
    completed_ms: int | None
    #: ``"complete"``, ``"failed"``, or ``"running"`` when the attempt never completed in the log.
    status: Literal["complete", "failed", "running"]
    failure_reason: str | None
    job_ids: tuple[int, ...]
    sql_id: int | None
    resource_profile_id: int
    accumulables: tuple[Accumulable, ...]
    #: Half-open row range of this attempt's tasks in :attr:`Application.tasks`.
    task_rows: tuple[int, int] = (0, 0)
    #: Whether the log holds this attempt's StageSubmitted (False: the event was lost).
    submission_logged: bool = True

    @property
    def key(self) -> tuple[int, int]:
        return (self.stage_id, self.attempt)

    @property
    def duration_ms(self) -> int | None:
        if self.submitted_ms is None or self.completed_ms is None:
            return None
        return self.completed_ms - self.submitted_ms


@dataclass(frozen=True, slots=True)
class TaskTable:
    """Every task attempt that ended (one row per TaskEnd), as read-only columns.

    Times are milliseconds except ``cpu_ns``, ``deserialize_cpu_ns`` and
    ``shuffle_write_time_ns`` (Spark reports those in nanoseconds). Byte counts are
    bytes. ``executor`` indexes :attr:`Application.executor_ids`.
    """

    stage_id: I32
    stage_attempt: I32
    executor: I32
    locality: I8
    outcome: I8
    has_metrics: Bool
    task_id: I64
    index: I32
    attempt: I32
    launch_ms: I64
    finish_ms: I64
    getting_result_ms: I64
    speculative: Bool
    deserialize_ms: I64
    deserialize_cpu_ns: I64
    run_ms: I64
    cpu_ns: I64
    peak_execution_memory: I64
    result_size: I64
    gc_ms: I64
    result_serialize_ms: I64
    memory_spilled: I64
    disk_spilled: I64
    shuffle_remote_blocks: I64
    shuffle_local_blocks: I64
    shuffle_fetch_wait_ms: I64
    shuffle_remote_bytes: I64
    shuffle_remote_to_disk_bytes: I64
    shuffle_local_bytes: I64
    shuffle_records_read: I64
    shuffle_write_bytes: I64
    shuffle_write_time_ns: I64
    shuffle_write_records: I64
    input_bytes: I64
    input_records: I64
    output_bytes: I64
    output_records: I64

    def __len__(self) -> int:
        return int(self.task_id.shape[0])

    @property
    def duration_ms(self) -> I64:
        """Wall time of each attempt on its executor (finish − launch)."""
        return self.finish_ms - self.launch_ms

    @property
    def shuffle_read_bytes(self) -> I64:
        return self.shuffle_local_bytes + self.shuffle_remote_bytes

    def rows(self, start: int, stop: int) -> TaskTable:
        """A view of rows ``[start, stop)`` (no copy)."""
        return TaskTable(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})


#: Column name → numpy dtype, in declaration order; the reader fills exactly these.
TASK_COLUMNS: Mapping[str, type[np.generic]] = {
    f.name: {"I64": np.int64, "I32": np.int32, "I8": np.int8, "Bool": np.bool_}[str(f.type)]
    for f in fields(TaskTable)
}


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """A task attempt that did not succeed, with the first line of why."""

    stage_id: int
    stage_attempt: int
    task_id: int
    executor_id: str
    outcome: TaskOutcome
    message: str


class PlanMetric(msgspec.Struct, frozen=True, gc=False):
    """A SQL metric of a plan node; its value is in :attr:`SqlExecution.metric_values`.

    A msgspec Struct rather than a dataclass: the reader decodes the log's
    ``sparkPlanInfo.metrics`` straight into it (there are tens of thousands in a big log).
    """

    name: str = ""
    accumulator_id: int = msgspec.field(name="accumulatorId", default=-1)
    metric_type: str = msgspec.field(name="metricType", default="")


@dataclass(frozen=True, slots=True)
class PlanNode:
    """A node of a SQL physical plan (``sparkPlanInfo``), numbered in pre-order."""

    node_id: int
    name: str
    description: str
    metadata: Mapping[str, str]
    metrics: tuple[PlanMetric, ...]
    children: tuple[PlanNode, ...]

    def walk(self) -> tuple[PlanNode, ...]:
        """This node and every descendant, in pre-order."""
        out: list[PlanNode] = []
        stack = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class SqlExecution:
    id: int
    root_id: int | None
    description: str
    details: str
    #: The last physical plan the log shows (AQE's final plan when it re-planned).
    physical_plan: str
    plan: PlanNode | None
    #: The plan as first submitted, before any adaptive re-planning.
    initial_plan: PlanNode | None
    start_ms: int | None
    end_ms: int | None
    error: str | None
    job_ids: tuple[int, ...]
    adaptive_updates: int
    modified_configs: Mapping[str, str]
    #: Final value of each plan metric's accumulator (stage accumulables + driver updates).
    metric_values: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class EventCounts:
    """What the reader saw, for the summary's ``counts`` and for data-quality checks."""

    events: int
    #: Events of types no Spark or platform listener the reader knows writes.
    unknown: int
    #: Known events the model has no use for (block updates, exclusions, ...).
    skipped: int
    malformed_lines: int
    #: Lines per event type, known or not.
    by_type: Mapping[str, int]
    task_starts: int
    #: The last line was cut mid-way (in-progress log or truncated upload).
    truncated_tail: bool


@dataclass(frozen=True, slots=True)
class Application:
    source: SourceInfo
    app: AppInfo
    spark_conf: Mapping[str, str]
    hadoop_conf: Mapping[str, str]
    system_properties: Mapping[str, str]
    jvm: Mapping[str, str]
    executors: tuple[Executor, ...]
    jobs: tuple[Job, ...]
    stages: tuple[StageAttempt, ...]
    tasks: TaskTable
    #: ``tasks.executor`` codes → executor ids.
    executor_ids: tuple[str, ...]
    task_failures: tuple[TaskFailure, ...]
    #: Task ids that started but have no TaskEnd.
    unfinished_task_ids: tuple[int, ...]
    sql_executions: tuple[SqlExecution, ...]
    counts: EventCounts
    #: Task ids that have a TaskEnd but no TaskStart (the start event was lost).
    unstarted_task_ids: tuple[int, ...] = ()
    #: Executors that registered a block manager or ran tasks without an ExecutorAdded
    #: (the driver's block manager, in cluster mode, among them; an executor that failed
    #: to start is removed without being added, and is not).
    unannounced_executor_ids: tuple[str, ...] = ()

    def stage_tasks(self, stage: StageAttempt) -> TaskTable:
        return self.tasks.rows(*stage.task_rows)

    @property
    def complete(self) -> bool:
        return self.source.complete
