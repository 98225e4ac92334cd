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
from ._events import DECODED, DECODERS, KNOWN_SKIPPED, TaskEnd, TaskMetrics, TaskStart

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
    "Success": TaskOutcome.SUCCESS,
    "ExceptionFailure": TaskOutcome.EXCEPTION_FAILURE,
    "FetchFailed": TaskOutcome.FETCH_FAILED,
    "ExecutorLostFailure": TaskOutcome.EXECUTOR_LOST,
    "TaskKilled": TaskOutcome.KILLED,
    "TaskResultLost": TaskOutcome.RESULT_LOST,
    "TaskCommitDenied": TaskOutcome.COMMIT_DENIED,
    "Resubmitted": TaskOutcome.RESUBMITTED,
}
_N_COLUMNS = len(TASK_COLUMNS)
_EMPTY_METRICS = TaskMetrics()


def _decode(name: bytes, line: bytes | memoryview, prepared: Any) -> Any:
    """Decode one event into its typed shape.

    ``prepared`` is the untyped value when the slow path already decoded the line. A
    field of an unexpected type (vendor builds write a few) makes the strict decoder
    fail; the line is then converted leniently from its untyped value once.
    """
    shape = _SHAPES_BY_BYTES[name]
    if prepared is None:
        try:
            return _DECODERS_BY_BYTES[name].decode(line)
        except msgspec.ValidationError:
            prepared = msgspec.json.decode(line)
    return msgspec.convert(prepared, shape, strict=False)


@dataclass
class ChunkResult:
    """What one buffer of lines contributed. Executor codes in ``tasks`` are local to it."""

    #: One row per TaskEnd, columns in :data:`~sparkcopilot.model.TASK_COLUMNS` order.
    tasks: npt.NDArray[np.int64]
    executor_ids: list[str]
    executor_hosts: dict[str, str]
    failures: list[TaskFailure]
    started_task_ids: array[int]
    #: Every decoded event other than task start/end, in log order.
    events: list[Any]
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


def _without_accumulables(buf: bytes, start: int, end: int) -> bytes | None:
    """The TaskEnd line at ``buf[start:end]`` minus the parts the model skips, or None
    when its keys are not in the expected order (then the whole line is decoded)."""
    cut = buf.find(_ACCUMULABLES, start, end)
    if cut < 0:
        return None
    resume = buf.find(_TASK_METRICS, cut, end)
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


def parse_lines(buf: bytes) -> ChunkResult:  # noqa: PLR0912, PLR0915 - one hot loop, kept flat for speed
    """Parse ``buf``, which holds whole lines only (the caller keeps any cut tail)."""
    rows: list[tuple[int, ...]] = []
    executor_codes: dict[str, int] = {}
    executor_hosts: dict[str, str] = {}
    failures: list[TaskFailure] = []
    started = array("q")
    events: list[Any] = []
    by_type: Counter[bytes] = Counter()
    unknown = malformed = not_events = 0

    head = _EVENT_HEAD.match
    locality_code = _LOCALITY.get
    outcome_code = _OUTCOME.get

    # Lines are slices of ``buf`` found with ``find``/``startswith`` at offsets: copying
    # every line costs more than parsing it on machines short of memory bandwidth.
    view = memoryview(buf)
    find = buf.find
    starts_with = buf.startswith
    start = 0
    size = len(buf)
    while start < size:
        end = find(b"\n", start)
        if end < 0:
            end = size
        prepared: Any = None
        line_start = start
        if starts_with(_TASK_END_HEAD, start):
            name = _TASK_END
            line: bytes | memoryview = _without_accumulables(buf, start, end) or view[start:end]
        elif starts_with(_TASK_START_HEAD, start):
            name = _TASK_START
            line = view[start:end]
        else:
            line = view[start:end]
            m = head(line)
            if m is None:
                if not bytes(line).strip():
                    start = end + 1
                    continue
                untyped = _decode_untyped(line)
                if untyped is None:
                    malformed += 1
                    start = end + 1
                    continue
                name, prepared = untyped
                if not name:
                    not_events += 1
                    start = end + 1
                    continue
            else:
                name = m.group(1)
        start = end + 1
        by_type[name] += 1

        try:
            if name == _TASK_END:
                try:
                    te: TaskEnd = _decode(name, line, prepared)
                except msgspec.DecodeError:
                    if type(line) is memoryview:
                        raise
                    # The cut landed inside a string of a user accumulator: decode it all.
                    te = _decode(name, view[line_start:end], prepared)
                info = te.info
                if info is None:
                    malformed += 1
                    continue
                code = executor_codes.get(info.executor_id)
                if code is None:
                    code = executor_codes[info.executor_id] = len(executor_codes)
                    executor_hosts[info.executor_id] = info.host
                outcome = outcome_code(te.reason.reason, TaskOutcome.UNKNOWN)
                if outcome:
                    failures.append(
                        TaskFailure(
                            te.stage_id,
                            te.stage_attempt,
                            info.task_id,
                            info.executor_id,
                            TaskOutcome(outcome),
                            _failure_message(te.reason),
                        )
                    )
                tm = te.metrics
                has_metrics = tm is not None
                if tm is None:
                    tm = _EMPTY_METRICS
                sr = tm.shuffle_read
                sw = tm.shuffle_write
                # Order must match model.TaskTable's fields (checked by a unit test).
                rows.append(
                    (
                        te.stage_id,
                        te.stage_attempt,
                        info.task_id,
                        info.index,
                        info.attempt,
                        info.launch_ms,
                        info.finish_ms,
                        info.getting_result_ms,
                        code,
                        locality_code(info.locality, 5),
                        info.speculative,
                        outcome,
                        has_metrics,
                        tm.run_ms,
                        tm.cpu_ns,
                        tm.deserialize_ms,
                        tm.deserialize_cpu_ns,
                        tm.gc_ms,
                        tm.result_size,
                        tm.result_serialize_ms,
                        tm.peak_execution_memory,
                        tm.memory_spilled,
                        tm.disk_spilled,
                        tm.input.bytes,
                        tm.input.records,
                        tm.output.bytes,
                        tm.output.records,
                        sr.local_bytes,
                        sr.remote_bytes,
                        sr.remote_to_disk_bytes,
                        sr.records,
                        sr.local_blocks,
                        sr.remote_blocks,
                        sr.fetch_wait_ms,
                        sw.bytes,
                        sw.records,
                        sw.time_ns,
                    )
                )
            elif name == _TASK_START:
                ts: TaskStart = _decode(name, line, prepared)
                if ts.info is not None:
                    started.append(ts.info.task_id)
            else:
                if name not in _SHAPES_BY_BYTES:
                    if name not in _SKIPPED_BY_BYTES:
                        unknown += 1
                    continue
                events.append(_decode(name, line, prepared))
        except (msgspec.ValidationError, msgspec.DecodeError):
            by_type[name] -= 1  # a broken line is not an event
            malformed += 1

    matrix = np.array(rows, dtype=np.int64) if rows else np.zeros((0, _N_COLUMNS), dtype=np.int64)
    return ChunkResult(
        tasks=matrix,
        executor_ids=list(executor_codes),
        executor_hosts=executor_hosts,
        failures=failures,
        started_task_ids=started,
        events=events,
        by_type=Counter({k.decode(errors="replace"): v for k, v in by_type.items() if v}),
        events_total=sum(by_type.values()),
        unknown=unknown,
        malformed=malformed,
        not_events=not_events,
    )
