"""Typed shapes of the listener events the model needs, as Spark's JsonProtocol writes them.

Only the fields the model reads are declared: msgspec skips every other field while
decoding without building Python objects for it, which is what makes the reader fast
(a TaskEnd line is mostly accumulator updates nobody needs). Every field has a default
because the set of fields changed across Spark 1.2 → 4.x.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct, field

from ..model import PlanMetric


class _Shape(Struct, frozen=True, gc=False):
    """Decoded events are values: nothing downstream may change what the log said."""


# --- tasks ---------------------------------------------------------------------------
# Field names here are TaskTable's column names (less a prefix for the nested metric
# groups), and every numeric field precedes the others: the reader turns a task into a
# row with a few C-level ``astuple`` slices instead of dozens of attribute reads.


class ShuffleReadMetrics(_Shape, frozen=True, gc=False):
    remote_blocks: int = field(name="Remote Blocks Fetched", default=0)
    local_blocks: int = field(name="Local Blocks Fetched", default=0)
    fetch_wait_ms: int = field(name="Fetch Wait Time", default=0)
    remote_bytes: int = field(name="Remote Bytes Read", default=0)
    remote_to_disk_bytes: int = field(name="Remote Bytes Read To Disk", default=0)
    local_bytes: int = field(name="Local Bytes Read", default=0)
    records_read: int = field(name="Total Records Read", default=0)


class ShuffleWriteMetrics(_Shape, frozen=True, gc=False):
    bytes: int = field(name="Shuffle Bytes Written", default=0)
    time_ns: int = field(name="Shuffle Write Time", default=0)
    records: int = field(name="Shuffle Records Written", default=0)


class InputMetrics(_Shape, frozen=True, gc=False):
    bytes: int = field(name="Bytes Read", default=0)
    records: int = field(name="Records Read", default=0)


class OutputMetrics(_Shape, frozen=True, gc=False):
    bytes: int = field(name="Bytes Written", default=0)
    records: int = field(name="Records Written", default=0)


_NO_SHUFFLE_READ = ShuffleReadMetrics()
_NO_SHUFFLE_WRITE = ShuffleWriteMetrics()
_NO_INPUT = InputMetrics()
_NO_OUTPUT = OutputMetrics()


class TaskMetrics(_Shape, frozen=True, gc=False):
    deserialize_ms: int = field(name="Executor Deserialize Time", default=0)
    deserialize_cpu_ns: int = field(name="Executor Deserialize CPU Time", default=0)
    run_ms: int = field(name="Executor Run Time", default=0)
    cpu_ns: int = field(name="Executor CPU Time", default=0)
    peak_execution_memory: int = field(name="Peak Execution Memory", default=0)
    result_size: int = field(name="Result Size", default=0)
    gc_ms: int = field(name="JVM GC Time", default=0)
    result_serialize_ms: int = field(name="Result Serialization Time", default=0)
    memory_spilled: int = field(name="Memory Bytes Spilled", default=0)
    disk_spilled: int = field(name="Disk Bytes Spilled", default=0)
    shuffle_read: ShuffleReadMetrics = field(name="Shuffle Read Metrics", default=_NO_SHUFFLE_READ)
    shuffle_write: ShuffleWriteMetrics = field(
        name="Shuffle Write Metrics", default=_NO_SHUFFLE_WRITE
    )
    input: InputMetrics = field(name="Input Metrics", default=_NO_INPUT)
    output: OutputMetrics = field(name="Output Metrics", default=_NO_OUTPUT)


class TaskInfo(_Shape, frozen=True, gc=False):
    task_id: int = field(name="Task ID")
    index: int = field(name="Index", default=0)
    attempt: int = field(name="Attempt", default=0)
    launch_ms: int = field(name="Launch Time", default=0)
    finish_ms: int = field(name="Finish Time", default=0)
    getting_result_ms: int = field(name="Getting Result Time", default=0)
    speculative: bool = field(name="Speculative", default=False)
    executor_id: str = field(name="Executor ID", default="")
    host: str = field(name="Host", default="")
    locality: str = field(name="Locality", default="")


class TaskEndReason(_Shape, frozen=True, gc=False):
    reason: str = field(name="Reason", default="Success")
    class_name: str | None = field(name="Class Name", default=None)
    description: str | None = field(name="Description", default=None)
    kill_reason: str | None = field(name="Kill Reason", default=None)
    loss_reason: str | None = field(name="Loss Reason", default=None)
    message: str | None = field(name="Message", default=None)


_SUCCESS = TaskEndReason()


class TaskEnd(_Shape, frozen=True, gc=False):
    stage_id: int = field(name="Stage ID")
    stage_attempt: int = field(name="Stage Attempt ID", default=0)
    reason: TaskEndReason = field(name="Task End Reason", default=_SUCCESS)
    info: TaskInfo | None = field(name="Task Info", default=None)
    metrics: TaskMetrics | None = field(name="Task Metrics", default=None)


class TaskStart(_Shape, frozen=True, gc=False):
    stage_id: int = field(name="Stage ID")
    stage_attempt: int = field(name="Stage Attempt ID", default=0)
    info: TaskInfo | None = field(name="Task Info", default=None)


# --- application, environment, executors -------------------------------------------


class LogStart(_Shape, frozen=True, gc=False):
    spark_version: str | None = field(name="Spark Version", default=None)


class DatabricksLogMetadata(_Shape, frozen=True, gc=False):
    """``DBCEventLoggingListenerMetadata``: first line of each Databricks log file."""

    spark_version: str | None = field(name="Spark Version", default=None)
    rollover_number: int | None = field(name="Rollover Number", default=None)
    spark_context_id: int | None = field(name="SparkContext Id", default=None)


class ApplicationStart(_Shape, frozen=True, gc=False):
    name: str | None = field(name="App Name", default=None)
    app_id: str | None = field(name="App ID", default=None)
    timestamp: int | None = field(name="Timestamp", default=None)
    user: str | None = field(name="User", default=None)
    attempt_id: str | None = field(name="App Attempt ID", default=None)


class ApplicationEnd(_Shape, frozen=True, gc=False):
    timestamp: int | None = field(name="Timestamp", default=None)


def property_map(value: dict[str, Any]) -> dict[str, str]:
    """Property values as the strings Spark set them as (a few vendors write numbers)."""
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}


class EnvironmentUpdate(_Shape, frozen=True, gc=False):
    jvm: dict[str, Any] = field(name="JVM Information", default_factory=dict)
    spark: dict[str, Any] = field(name="Spark Properties", default_factory=dict)
    hadoop: dict[str, Any] = field(name="Hadoop Properties", default_factory=dict)
    system: dict[str, Any] = field(name="System Properties", default_factory=dict)


class ExecutorInfo(_Shape, frozen=True, gc=False):
    host: str | None = field(name="Host", default=None)
    cores: int | None = field(name="Total Cores", default=None)
    resource_profile_id: int = field(name="Resource Profile Id", default=0)


class ExecutorAdded(_Shape, frozen=True, gc=False):
    timestamp: int | None = field(name="Timestamp", default=None)
    executor_id: str = field(name="Executor ID", default="")
    info: ExecutorInfo | None = field(name="Executor Info", default=None)


class ExecutorRemoved(_Shape, frozen=True, gc=False):
    timestamp: int | None = field(name="Timestamp", default=None)
    executor_id: str = field(name="Executor ID", default="")
    reason: str | None = field(name="Removed Reason", default=None)


class BlockManagerId(_Shape, frozen=True, gc=False):
    executor_id: str = field(name="Executor ID", default="")
    host: str | None = field(name="Host", default=None)


class BlockManagerAdded(_Shape, frozen=True, gc=False):
    block_manager: BlockManagerId | None = field(name="Block Manager ID", default=None)
    max_memory: int | None = field(name="Maximum Memory", default=None)
    timestamp: int | None = field(name="Timestamp", default=None)


class StageExecutorMetrics(_Shape, frozen=True, gc=False):
    executor_id: str = field(name="Executor ID", default="")
    metrics: dict[str, int] = field(name="Executor Metrics", default_factory=dict)


# --- jobs and stages ----------------------------------------------------------------


class AccumulableInfo(_Shape, frozen=True, gc=False):
    id: int = field(name="ID", default=-1)
    name: str | None = field(name="Name", default=None)
    value: Any = field(name="Value", default=None)


class JobProperties(_Shape, frozen=True, gc=False):
    """The few job properties the model reads; the rest are skipped while decoding."""

    sql_execution_id: str | None = field(name="spark.sql.execution.id", default=None)
    group: str | None = field(name="spark.jobGroup.id", default=None)
    description: str | None = field(name="spark.job.description", default=None)


_NO_PROPERTIES = JobProperties()


class JobStart(_Shape, frozen=True, gc=False):
    job_id: int = field(name="Job ID")
    submitted_ms: int | None = field(name="Submission Time", default=None)
    stage_ids: list[int] = field(name="Stage IDs", default_factory=list)
    properties: JobProperties = field(name="Properties", default=_NO_PROPERTIES)


class JobResult(_Shape, frozen=True, gc=False):
    result: str = field(name="Result", default="JobSucceeded")
    exception: dict[str, Any] | None = field(name="Exception", default=None)


class JobEnd(_Shape, frozen=True, gc=False):
    job_id: int = field(name="Job ID")
    completed_ms: int | None = field(name="Completion Time", default=None)
    result: JobResult | None = field(name="Job Result", default=None)


class StageHeader(_Shape, frozen=True, gc=False):
    """A StageSubmitted's stage: as StageInfo, without the (still empty) accumulables."""

    stage_id: int = field(name="Stage ID")
    attempt: int = field(name="Stage Attempt ID", default=0)
    name: str = field(name="Stage Name", default="")
    num_tasks: int = field(name="Number of Tasks", default=0)
    parent_ids: list[int] = field(name="Parent IDs", default_factory=list)
    details: str = field(name="Details", default="")
    submitted_ms: int | None = field(name="Submission Time", default=None)
    resource_profile_id: int = field(name="Resource Profile Id", default=0)


class StageInfo(StageHeader, frozen=True, gc=False):
    """A StageCompleted's stage: the header plus how it ended and its accumulables."""

    completed_ms: int | None = field(name="Completion Time", default=None)
    failure_reason: str | None = field(name="Failure Reason", default=None)
    accumulables: list[AccumulableInfo] = field(name="Accumulables", default_factory=list)


class StageSubmitted(_Shape, frozen=True, gc=False):
    info: StageHeader = field(name="Stage Info")


class StageCompleted(_Shape, frozen=True, gc=False):
    info: StageInfo = field(name="Stage Info")


# --- SQL ----------------------------------------------------------------------------


class SparkPlanInfo(_Shape, frozen=True, gc=False):
    node_name: str = field(name="nodeName", default="")
    simple_string: str = field(name="simpleString", default="")
    children: list[SparkPlanInfo] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    metrics: list[PlanMetric] = field(default_factory=list)


class SqlExecutionStart(_Shape, frozen=True, gc=False):
    execution_id: int = field(name="executionId")
    root_execution_id: int | None = field(name="rootExecutionId", default=None)
    description: str = ""
    details: str = ""
    physical_plan: str = field(name="physicalPlanDescription", default="")
    plan: SparkPlanInfo | None = field(name="sparkPlanInfo", default=None)
    time: int | None = None
    modified_configs: dict[str, Any] = field(name="modifiedConfigs", default_factory=dict)


class SqlExecutionEnd(_Shape, frozen=True, gc=False):
    execution_id: int = field(name="executionId")
    time: int | None = None
    error: str | None = field(name="errorMessage", default=None)


class SqlAdaptiveExecutionUpdate(_Shape, frozen=True, gc=False):
    execution_id: int = field(name="executionId")
    physical_plan: str = field(name="physicalPlanDescription", default="")
    plan: SparkPlanInfo | None = field(name="sparkPlanInfo", default=None)


class SqlAdaptiveMetricUpdates(_Shape, frozen=True, gc=False):
    execution_id: int = field(name="executionId")
    metrics: list[PlanMetric] = field(name="sqlPlanMetrics", default_factory=list)


class DriverAccumUpdates(_Shape, frozen=True, gc=False):
    execution_id: int = field(name="executionId")
    updates: list[tuple[int, Any]] = field(name="accumUpdates", default_factory=list)


# --- dispatch -----------------------------------------------------------------------

_SQL = "org.apache.spark.sql.execution.ui."

#: Event name → the shape the model reads. Events not listed here but in
#: :data:`KNOWN_SKIPPED` are recognised and deliberately not decoded.
DECODED: dict[str, type[_Shape]] = {
    "SparkListenerTaskEnd": TaskEnd,
    "SparkListenerTaskStart": TaskStart,
    "SparkListenerLogStart": LogStart,
    "DBCEventLoggingListenerMetadata": DatabricksLogMetadata,
    "SparkListenerApplicationStart": ApplicationStart,
    "SparkListenerApplicationEnd": ApplicationEnd,
    "SparkListenerEnvironmentUpdate": EnvironmentUpdate,
    "SparkListenerExecutorAdded": ExecutorAdded,
    "SparkListenerExecutorRemoved": ExecutorRemoved,
    "SparkListenerBlockManagerAdded": BlockManagerAdded,
    "SparkListenerStageExecutorMetrics": StageExecutorMetrics,
    "SparkListenerJobStart": JobStart,
    "SparkListenerJobEnd": JobEnd,
    "SparkListenerStageSubmitted": StageSubmitted,
    "SparkListenerStageCompleted": StageCompleted,
    _SQL + "SparkListenerSQLExecutionStart": SqlExecutionStart,
    _SQL + "SparkListenerSQLExecutionEnd": SqlExecutionEnd,
    _SQL + "SparkListenerSQLAdaptiveExecutionUpdate": SqlAdaptiveExecutionUpdate,
    _SQL + "SparkListenerSQLAdaptiveSQLMetricUpdates": SqlAdaptiveMetricUpdates,
    _SQL + "SparkListenerDriverAccumUpdates": DriverAccumUpdates,
}

_SCHED = "org.apache.spark.scheduler."
#: Events of Apache Spark and of common platforms that carry nothing the model uses.
KNOWN_SKIPPED: frozenset[str] = frozenset(
    {
        "SparkListenerBlockManagerRemoved",
        "SparkListenerUnpersistRDD",
        "SparkListenerBlockUpdated",
        "SparkListenerExecutorMetricsUpdate",
        "SparkListenerResourceProfileAdded",
        "SparkListenerTaskGettingResult",
        "SparkListenerSpeculativeTaskSubmitted",
        "SparkListenerUnschedulableTaskSetAdded",
        "SparkListenerUnschedulableTaskSetRemoved",
        "SparkListenerExecutorBlacklisted",
        "SparkListenerExecutorUnblacklisted",
        "SparkListenerNodeBlacklisted",
        "SparkListenerNodeUnblacklisted",
        "SparkListenerExecutorExcluded",
        "SparkListenerExecutorUnexcluded",
        "SparkListenerNodeExcluded",
        "SparkListenerNodeUnexcluded",
        "SparkListenerExecutorBlacklistedForStage",
        "SparkListenerNodeBlacklistedForStage",
        "SparkListenerExecutorExcludedForStage",
        "SparkListenerNodeExcludedForStage",
        "SparkListenerMiscellaneousProcessAdded",
        _SCHED + "SparkListenerExecutorBlacklisted",
        _SCHED + "SparkListenerExecutorUnblacklisted",
        _SCHED + "SparkListenerNodeBlacklisted",
        _SCHED + "SparkListenerNodeUnblacklisted",
        _SCHED + "SparkListenerExecutorExcluded",
        _SCHED + "SparkListenerExecutorUnexcluded",
        _SCHED + "SparkListenerNodeExcluded",
        _SCHED + "SparkListenerNodeUnexcluded",
        _SCHED + "SparkListenerExecutorBlacklistedForStage",
        _SCHED + "SparkListenerNodeBlacklistedForStage",
        _SCHED + "SparkListenerExecutorExcludedForStage",
        _SCHED + "SparkListenerNodeExcludedForStage",
        _SCHED + "SparkListenerMiscellaneousProcessAdded",
        _SQL + "SparkListenerSQLExecutionObsoleted",
        _SQL + "SparkListenerEffectiveSQLMetricUpdates",
        "org.apache.spark.sql.catalyst.catalog.AlterTableEvent",
        "org.apache.spark.sql.catalyst.catalog.AlterTablePreEvent",
        "org.apache.spark.sql.catalyst.catalog.CreateTableEvent",
        "org.apache.spark.sql.catalyst.catalog.CreateTablePreEvent",
        "org.apache.spark.sql.catalyst.catalog.DropTableEvent",
        "org.apache.spark.sql.catalyst.catalog.DropTablePreEvent",
        "org.apache.spark.sql.catalyst.catalog.CreateDatabaseEvent",
        "org.apache.spark.sql.catalyst.catalog.DropDatabaseEvent",
        "org.apache.spark.sql.streaming.StreamingQueryListener$QueryStartedEvent",
        "org.apache.spark.sql.streaming.StreamingQueryListener$QueryProgressEvent",
        "org.apache.spark.sql.streaming.StreamingQueryListener$QueryIdleEvent",
        "org.apache.spark.sql.streaming.StreamingQueryListener$QueryTerminatedEvent",
    }
)

DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    name: msgspec.json.Decoder(shape) for name, shape in DECODED.items()
}
