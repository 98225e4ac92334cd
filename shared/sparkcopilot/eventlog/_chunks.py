"""Turn a buffer of complete event-log lines into a compact, picklable partial result.

This is the reader's hot path and the unit of parallel work: a worker process gets a
few MiB of lines and returns tasks as one int64 matrix plus the few other events,
decoded, in log order. The builder folds the partial results in order.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from ..model import TASK_COLUMNS, TaskFailure, TaskLocality, TaskOutcome
from ._events import (
    DECODED,
    DECODERS,
    KNOWN_SKIPPED,
    InputMetrics,
    OutputMetrics,
    ShuffleReadMetrics,
    ShuffleWriteMetrics,
    TaskEnd,
    TaskInfo,
    TaskMetrics,
)

# JsonProtocol always writes "Event" first; a regex over the line's head finds the type
# without decoding the line, so unneeded events cost no JSON parsing at all.
_EVENT_HEAD = re.compile(rb'\s*\{\s*"Event"\s*:\s*"((?:[^"\\]|\\.)*)"')

_TASK_END = b"SparkListenerTaskEnd"
_TASK_START = b"SparkListenerTaskStart"
_TASK_END_HEAD = b'{"Event":"SparkListenerTaskEnd",'
_TASK_START_HEAD = b'{"Event":"SparkListenerTaskStart",'
# Inside a TaskEnd, "Accumulables" is the last key of "Task Info" and is followed by
# "Task Executor Metrics" then "Task Metrics" (JsonProtocol's order since Spark 1.x).
# Together they are most of the line's bytes and the model needs neither.
_ACCUMULABLES = b',"Accumulables":['
_TASK_METRICS = b',"Task Metrics":'
_DECODERS_BY_BYTES = {name.encode(): decoder for name, decoder in DECODERS.items()}
_SHAPES_BY_BYTES = {name.encode(): shape for name, shape in DECODED.items()}
_SKIPPED_BY_BYTES = frozenset(name.encode() for name in KNOWN_SKIPPED)

_LOCALITY = {loc.name: int(loc) for loc in TaskLocality}
_OUTCOME = {
    reason: int(outcome)
    for reason, outcome in (
        ("Success", TaskOutcome.SUCCESS),
        ("ExceptionFailure", TaskOutcome.EXCEPTION_FAILURE),
        ("FetchFailed", TaskOutcome.FETCH_FAILED),
        ("ExecutorLostFailure", TaskOutcome.EXECUTOR_LOST),
        ("TaskKilled", TaskOutcome.KILLED),
        ("TaskResultLost", TaskOutcome.RESULT_LOST),
        ("TaskCommitDenied", TaskOutcome.COMMIT_DENIED),
        ("Resubmitted", TaskOutcome.RESUBMITTED),
    )
}
_UNKNOWN_OUTCOME = int(TaskOutcome.UNKNOWN)
_N_COLUMNS = len(TASK_COLUMNS)
_TASK_END_DECODER = DECODERS["SparkListenerTaskEnd"]
_TASK_ID = b'"Task ID":'
_UNKNOWN_LOCALITY = int(TaskLocality.UNKNOWN)

# A task row: the header below, then TaskInfo's and TaskMetrics' leading numeric fields,
# then each metric group whole. The model's column order must be exactly this, and the
# row built in parse_lines reads the fields in this order.
_ROW_HEAD = ("stage_id", "stage_attempt", "executor", "locality", "outcome", "has_metrics")
_INFO_NUMBERS = 7
_METRICS_NUMBERS = 10
_ROW_LAYOUT = (
    *_ROW_HEAD,
    *TaskInfo.__struct_fields__[:_INFO_NUMBERS],
    *TaskMetrics.__struct_fields__[:_METRICS_NUMBERS],
    *(f"shuffle_{f}" for f in ShuffleReadMetrics.__struct_fields__),
    *(f"shuffle_write_{f}" for f in ShuffleWriteMetrics.__struct_fields__),
    *(f"input_{f}" for f in InputMetrics.__struct_fields__),
    *(f"output_{f}" for f in OutputMetrics.__struct_fields__),
)
if tuple(TASK_COLUMNS) != _ROW_LAYOUT:  # pragma: no cover - a programming error
    raise ImportError(f"task row layout {_ROW_LAYOUT} != TaskTable columns {tuple(TASK_COLUMNS)}")
_NO_METRICS = TaskMetrics()


@dataclass
class ChunkResult:
    """What one buffer of lines contributed. Executor codes in ``tasks`` are local to it."""

    #: One row per TaskEnd, columns in :data:`~sparkcopilot.model.TASK_COLUMNS` order.
    tasks: npt.NDArray[np.int64]
    executor_ids: list[str]
    executor_hosts: dict[str, str]
    failures: list[TaskFailure]
    started_task_ids: array[int]
    #: (event name, start, stop) in the buffer of every other event the model reads, in
    #: log order: the builder decodes them itself with :func:`decode_event`, which costs
    #: less than shipping decoded objects (or the lines) back from a worker process.
    other_events: list[tuple[bytes, int, int]]
    by_type: Counter[str] = field(default_factory=Counter)
    events_total: int = 0
    unknown: int = 0
    malformed: int = 0
    #: Lines that are valid JSON but not listener events (no "Event" key).
    not_events: int = 0


def _failure_message(reason: Any) -> str:
    text = (
        reason.description
        or reason.kill_reason
        or reason.loss_reason
        or reason.message
        or reason.class_name
        or reason.reason
    )
    return str(text).strip().split("\n", 1)[0][:500]


def _failure(te: TaskEnd, info: TaskInfo, outcome: int) -> TaskFailure:
    return TaskFailure(
        te.stage_id,
        te.stage_attempt,
        info.task_id,
        info.executor_id,
        TaskOutcome(outcome),
        _failure_message(te.reason),
    )


def _lenient(name: bytes, line: bytes | memoryview) -> Any:
    """Decode a line of an unexpected shape from its untyped value, or None."""
    try:
        return msgspec.convert(msgspec.json.decode(line), _SHAPES_BY_BYTES[name], strict=False)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def decode_event(name: bytes, line: bytes | memoryview, prepared: Any = None) -> Any:
    """The typed event of a line the model reads, or None when it is malformed.

    ``prepared`` is the line's untyped value when it was already decoded. A field of an
    unexpected type (vendor builds write a few) makes the strict decoder fail; the line
    is then converted leniently from its untyped value.
    """
    if prepared is not None:
        try:
            return msgspec.convert(prepared, _SHAPES_BY_BYTES[name], strict=False)
        except msgspec.ValidationError:
            return None
    try:
        return _DECODERS_BY_BYTES[name].decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _lenient(name, line)


def _without_accumulables(buf: bytes, start: int, end: int) -> bytes | None:
    """The TaskEnd line at ``buf[start:end]`` minus the parts the model skips, or None
    when its keys are not in the expected order (then the whole line is decoded)."""
    cut = buf.find(_ACCUMULABLES, start, end)
    if cut < 0:
        return None
    # Searched from the end: "Task Metrics" is near it, the accumulables are long.
    resume = buf.rfind(_TASK_METRICS, cut, end)
    if resume < 0:
        return None
    return buf[start:cut] + b"}" + buf[resume:end]


def _decode_untyped(line: memoryview) -> tuple[bytes, Any] | None:
    """Slow path for lines whose head isn't ``{"Event":...``: key order differs, or junk."""
    try:
        obj = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("Event"), str):
        return (b"", obj)
    return (obj["Event"].encode(), obj)


def parse_lines(buf: bytes) -> ChunkResult:  # noqa: PLR0912, PLR0915 - one hot loop, kept flat
    """Parse ``buf``, which holds whole lines only (the caller keeps any cut tail)."""
    rows: list[tuple[int, ...]] = []
    add_row = rows.append
    executor_codes: dict[str, int] = {}
    executor_hosts: dict[str, str] = {}
    failures: list[TaskFailure] = []
    started = array("q")
    others: list[tuple[bytes, int, int]] = []
    by_type: Counter[bytes] = Counter()
    unknown = malformed = not_events = 0
    locality_code = _LOCALITY.get
    outcome_code = _OUTCOME.get

    def add_task_end(te: TaskEnd) -> bool:
        info = te.info
        if info is None:
            return False
        code = executor_codes.get(info.executor_id)
        if code is None:
            code = executor_codes[info.executor_id] = len(executor_codes)
            executor_hosts[info.executor_id] = info.host
        outcome = outcome_code(te.reason.reason, _UNKNOWN_OUTCOME)
        if outcome:
            failures.append(_failure(te, info, outcome))
        m = te.metrics
        has_metrics = m is not None
        if m is None:
            m = _NO_METRICS
        sr = m.shuffle_read
        sw = m.shuffle_write
        # One attribute read per column, in model.TaskTable's order (checked at import).
        add_row(
            (
                te.stage_id,
                te.stage_attempt,
                code,
                locality_code(info.locality, _UNKNOWN_LOCALITY),
                outcome,
                has_metrics,
                info.task_id,
                info.index,
                info.attempt,
                info.launch_ms,
                info.finish_ms,
                info.getting_result_ms,
                info.speculative,
                m.deserialize_ms,
                m.deserialize_cpu_ns,
                m.run_ms,
                m.cpu_ns,
                m.peak_execution_memory,
                m.result_size,
                m.gc_ms,
                m.result_serialize_ms,
                m.memory_spilled,
                m.disk_spilled,
                sr.remote_blocks,
                sr.local_blocks,
                sr.fetch_wait_ms,
                sr.remote_bytes,
                sr.remote_to_disk_bytes,
                sr.local_bytes,
                sr.records_read,
                sw.bytes,
                sw.time_ns,
                sw.records,
                m.input.bytes,
                m.input.records,
                m.output.bytes,
                m.output.records,
            )
        )
        return True

    decode_task_end = _TASK_END_DECODER.decode
    head = _EVENT_HEAD.match
    # Lines are found with find/startswith at offsets: copying every line out of the
    # buffer costs more than parsing it on machines short of memory bandwidth.
    view = memoryview(buf)
    find = buf.find
    starts_with = buf.startswith
    start = 0
    size = len(buf)
    while start < size:
        end = find(b"\n", start)
        if end < 0:
            end = size
        line_start, start = start, end + 1

        if starts_with(_TASK_END_HEAD, line_start):
            by_type[_TASK_END] += 1
            spliced = _without_accumulables(buf, line_start, end)
            try:
                te: TaskEnd | None = decode_task_end(spliced or view[line_start:end])
            except (msgspec.ValidationError, msgspec.DecodeError):
                # A user accumulator's text fooled the splice, or a vendor wrote a field
                # of another type: decode the whole line, leniently.
                te = _lenient(_TASK_END, view[line_start:end])
            if te is None or not add_task_end(te):
                by_type[_TASK_END] -= 1
                malformed += 1
            continue

        if starts_with(_TASK_START_HEAD, line_start):
            # Only the task id is needed (to find tasks that never ended).
            at = find(_TASK_ID, line_start, end)
            stop = find(b",", at, end) if at >= 0 else -1
            if stop >= 0:
                task_id: int | None = int(buf[at + len(_TASK_ID) : stop])
            else:
                ts = _lenient(_TASK_START, view[line_start:end])
                task_id = ts.info.task_id if ts is not None and ts.info is not None else None
            if task_id is None:
                malformed += 1
            else:
                started.append(task_id)
                by_type[_TASK_START] += 1
            continue

        line = view[line_start:end]
        m = head(line)
        prepared: Any = None
        if m is not None:
            name = m.group(1)
        else:
            if not bytes(line).strip():
                continue
            untyped = _decode_untyped(line)
            if untyped is None:
                malformed += 1
                continue
            name, prepared = untyped
            if not name:
                not_events += 1
                continue
        if name not in _SHAPES_BY_BYTES:
            by_type[name] += 1
            if name not in _SKIPPED_BY_BYTES:
                unknown += 1
            continue
        if name in (_TASK_END, _TASK_START):
            # Only here when not written the way Spark writes them: rare, decode whole.
            event = decode_event(name, line, prepared)
            if event is None or event.info is None:
                malformed += 1
            elif name == _TASK_START:
                started.append(event.info.task_id)
                by_type[name] += 1
            elif add_task_end(event):
                by_type[name] += 1
            else:
                malformed += 1
            continue
        others.append((name, line_start, end))

    return ChunkResult(
        tasks=np.array(rows, dtype=np.int64).reshape(-1, _N_COLUMNS),
        executor_ids=list(executor_codes),
        executor_hosts=executor_hosts,
        failures=failures,
        started_task_ids=started,
        other_events=others,
        by_type=Counter({k.decode(errors="replace"): v for k, v in by_type.items() if v}),
        events_total=sum(by_type.values()),
        unknown=unknown,
        malformed=malformed,
        not_events=not_events,
    )
