"""Turn a buffer of complete event-log lines into a compact, picklable partial result.

This is the reader's hot path and the unit of parallel work: a worker process gets a
few MiB of lines and returns tasks as one int64 matrix plus the few other events,
decoded, in log order. The builder folds the partial results in order.

Task lines, most of a log's bytes, are parsed in C by the optional ``_taskscan``
extension when it is built: it hands back every line it is not sure about, and the
Python per-line code below, which reads every line when the extension is absent, reads
those. Both paths give the same result.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
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
_EVENT_PREFIX = b'{"Event":"'

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
_EXECUTOR_COLUMN = _ROW_LAYOUT.index("executor")
# What a line of an unexpected shape raises while decoded: invalid JSON or types, invalid
# UTF-8 in a string (UnicodeDecodeError), nesting past the recursion limit.
_BAD_LINE = (msgspec.DecodeError, ValueError, RecursionError)

_Scan = Callable[[bytes | memoryview], tuple[bytearray, bytes, list[str], list[str], bytes, bytes]]


def _load_scanner() -> _Scan | None:
    """The C task-line scanner, when it is built and agrees with the model's layout."""
    try:
        from . import _taskscan  # noqa: PLC0415 - optional extension
    except ImportError:  # pragma: no cover - installed without a C compiler
        return None
    codes = [int(loc) for loc in TaskLocality]
    if (
        tuple(TASK_COLUMNS) != _taskscan.COLUMNS
        or tuple(TaskLocality.__members__) != _taskscan.LOCALITIES
        or codes != list(range(len(codes)))
        or codes[-1] != _UNKNOWN_LOCALITY
        or int(TaskOutcome.SUCCESS) != 0
    ):  # pragma: no cover - the model changed and _taskscan.c did not
        return None
    return _taskscan.scan


_SCAN = _load_scanner()
#: Whether :func:`parse_lines` parses task lines in C (the ``_taskscan`` extension).
ACCELERATED = _SCAN is not None


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
    except _BAD_LINE:
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
    except _BAD_LINE:
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
    except _BAD_LINE:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("Event"), str):
        return (b"", obj)
    return (obj["Event"].encode(), obj)


class _Lines:
    """The per-line parser, and what it gathered from one buffer.

    The pure-Python path feeds it every line of the buffer; the accelerated path only
    the lines the C scanner handed back, with the scanner's executors pre-seeded so an
    executor keeps one code whoever parsed its tasks.
    """

    def __init__(self, buf: bytes, executor_ids: Sequence[str] = ()) -> None:
        self.buf = buf
        self.view = memoryview(buf)
        self.rows: list[tuple[int, ...]] = []
        #: Where each row's line starts in ``buf``, to merge rows with the scanner's.
        self.row_offsets: list[int] = []
        self._add_row = self.rows.append
        self._add_row_offset = self.row_offsets.append
        self.executor_codes: dict[str, int] = {e: i for i, e in enumerate(executor_ids)}
        #: Executor → the Host of its first task among these lines.
        self.executor_hosts: dict[str, str] = {}
        self.failures: list[TaskFailure] = []
        self.started = array("q")
        self.others: list[tuple[bytes, int, int]] = []
        self.by_type: Counter[bytes] = Counter()
        self.unknown = 0
        self.malformed = 0
        self.not_events = 0

    def add_task_end(self, te: TaskEnd, line_start: int) -> bool:
        info = te.info
        if info is None:
            return False
        codes = self.executor_codes
        code = codes.get(info.executor_id)
        if code is None:
            code = codes[info.executor_id] = len(codes)
            self.executor_hosts[info.executor_id] = info.host
        elif info.executor_id not in self.executor_hosts:  # the scanner's executor
            self.executor_hosts[info.executor_id] = info.host
        outcome = _OUTCOME.get(te.reason.reason, _UNKNOWN_OUTCOME)
        if outcome:
            self.failures.append(_failure(te, info, outcome))
        m = te.metrics
        has_metrics = m is not None
        if m is None:
            m = _NO_METRICS
        sr = m.shuffle_read
        sw = m.shuffle_write
        # One attribute read per column, in model.TaskTable's order (checked at import).
        self._add_row(
            (
                te.stage_id,
                te.stage_attempt,
                code,
                _LOCALITY.get(info.locality, _UNKNOWN_LOCALITY),
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
        self._add_row_offset(line_start)
        return True

    def parse(self, spans: Iterable[tuple[int, int]]) -> None:
        """Parse the line at ``buf[start:end]`` for each ``(start, end)`` (``end`` is the
        line's newline or the buffer's end)."""
        starts_with = self.buf.startswith
        task_end, task_start, other = self._task_end_line, self._task_start_line, self._other_line
        for start, end in spans:
            if starts_with(_TASK_END_HEAD, start):
                task_end(start, end)
            elif starts_with(_TASK_START_HEAD, start):
                task_start(start, end)
            else:
                other(start, end)

    def _task_end_line(self, line_start: int, end: int) -> None:
        """A TaskEnd written the way Spark writes it."""
        self.by_type[_TASK_END] += 1
        spliced = _without_accumulables(self.buf, line_start, end)
        try:
            te: TaskEnd | None = _TASK_END_DECODER.decode(spliced or self.view[line_start:end])
        except _BAD_LINE:
            # A user accumulator's text fooled the splice, or a vendor wrote a field
            # of another type: decode the whole line, leniently.
            te = _lenient(_TASK_END, self.view[line_start:end])
        if te is None or not self.add_task_end(te, line_start):
            self.by_type[_TASK_END] -= 1
            self.malformed += 1

    def _task_start_line(self, line_start: int, end: int) -> None:
        """A TaskStart written the way Spark writes it: only the task id is needed (to
        find tasks that never ended)."""
        buf = self.buf
        at = buf.find(_TASK_ID, line_start, end)
        stop = buf.find(b",", at, end) if at >= 0 else -1
        task_id: int | None = None
        if stop >= 0:
            # Not an integer when "Task ID" is not followed by a comma (keys reordered).
            with suppress(ValueError):
                task_id = int(buf[at + len(_TASK_ID) : stop])
        if task_id is None:
            ts = _lenient(_TASK_START, self.view[line_start:end])
            task_id = ts.info.task_id if ts is not None and ts.info is not None else None
        if task_id is None:
            self.malformed += 1
        else:
            self.started.append(task_id)
            self.by_type[_TASK_START] += 1

    def _event_name(self, line_start: int, end: int) -> tuple[bytes, Any] | None:
        """The line's event name and, when it had to be decoded to find it, its value;
        None when it has none (counted: malformed, not an event, or blank)."""
        buf = self.buf
        # The name as JsonProtocol writes it, else as the regular expression finds it.
        name_start = line_start + len(_EVENT_PREFIX)
        name_stop = -1
        if buf.startswith(_EVENT_PREFIX, line_start):
            name_stop = buf.find(b'"', name_start, end)
        if name_stop >= 0 and buf.find(b"\\", name_start, name_stop) < 0:
            return buf[name_start:name_stop], None
        line = self.view[line_start:end]
        if (m := _EVENT_HEAD.match(line)) is not None:
            return m.group(1), None
        if not bytes(line).strip():
            return None
        untyped = _decode_untyped(line)
        if untyped is None:
            self.malformed += 1
            return None
        if not untyped[0]:
            self.not_events += 1
            return None
        return untyped

    def _other_line(self, line_start: int, end: int) -> None:
        named = self._event_name(line_start, end)
        if named is None:
            return
        name, prepared = named
        if name not in _SHAPES_BY_BYTES:
            self.by_type[name] += 1
            if name not in _SKIPPED_BY_BYTES:
                self.unknown += 1
        elif name in (_TASK_END, _TASK_START):
            # Only here when not written the way Spark writes them: rare, decode whole.
            event = decode_event(name, self.view[line_start:end], prepared)
            if event is None or event.info is None:
                self.malformed += 1
            elif name == _TASK_START:
                self.started.append(event.info.task_id)
                self.by_type[name] += 1
            elif self.add_task_end(event, line_start):
                self.by_type[name] += 1
            else:
                self.malformed += 1
        else:
            self.others.append((name, line_start, end))

    def python_tasks(self) -> npt.NDArray[np.int64]:
        return np.array(self.rows, dtype=np.int64).reshape(-1, _N_COLUMNS)

    def result(
        self,
        tasks: npt.NDArray[np.int64],
        executor_ids: list[str],
        executor_hosts: dict[str, str],
        started: array[int],
    ) -> ChunkResult:
        return ChunkResult(
            tasks=tasks,
            executor_ids=executor_ids,
            executor_hosts=executor_hosts,
            failures=self.failures,
            started_task_ids=started,
            other_events=self.others,
            by_type=Counter({k.decode(errors="replace"): v for k, v in self.by_type.items() if v}),
            events_total=sum(self.by_type.values()),
            unknown=self.unknown,
            malformed=self.malformed,
            not_events=self.not_events,
        )


def _line_spans(buf: bytes, start: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of every line of ``buf[start:size]``."""
    # Lines are found with find at offsets: copying every line out of the buffer costs
    # more than parsing it on machines short of memory bandwidth.
    find = buf.find
    while start < size:
        end = find(b"\n", start, size)
        if end < 0:
            end = size
        yield start, end
        start = end + 1


def _parse_python(buf: bytes, start: int, size: int) -> ChunkResult:
    lines = _Lines(buf)
    lines.parse(_line_spans(buf, start, size))
    return lines.result(
        lines.python_tasks(), list(lines.executor_codes), lines.executor_hosts, lines.started
    )


def _parse_accelerated(buf: bytes, start: int, size: int, scan: _Scan) -> ChunkResult:
    whole = start == 0 and size == len(buf)
    rows, row_offsets, executor_ids, executor_hosts, started, rest = scan(
        buf if whole else memoryview(buf)[start:size]
    )
    # The scanner's offsets count from ``start``; everything else counts from buf[0].
    spans = iter((np.frombuffer(rest, dtype=np.int64) + start).tolist())
    lines = _Lines(buf, executor_ids)
    lines.parse(zip(spans, spans, strict=True))

    tasks = np.frombuffer(rows, dtype=np.int64).reshape(-1, _N_COLUMNS)
    all_started = array("q")
    all_started.frombytes(started)
    lines.by_type[_TASK_END] += len(tasks)
    lines.by_type[_TASK_START] += len(all_started)
    all_started.extend(lines.started)
    hosts = dict(zip(executor_ids, executor_hosts, strict=True))
    if lines.rows:
        tasks, executor_ids, hosts = _merge_tasks(
            tasks, np.frombuffer(row_offsets, dtype=np.int64) + start, executor_hosts, lines
        )
    return lines.result(tasks, executor_ids, hosts, all_started)


def _merge_tasks(
    c_tasks: npt.NDArray[np.int64],
    c_offsets: npt.NDArray[np.int64],
    c_hosts: list[str],
    lines: _Lines,
) -> tuple[npt.NDArray[np.int64], list[str], dict[str, str]]:
    """The scanner's rows and Python's in log order, executors coded by first task and
    each with the host of its first task: exactly what the pure-Python path makes."""
    py_tasks = lines.python_tasks()
    at = np.searchsorted(c_offsets, np.array(lines.row_offsets, dtype=np.int64))
    tasks = np.insert(c_tasks, at, py_tasks, axis=0)
    from_python = np.zeros(len(tasks), dtype=bool)
    from_python[at + np.arange(len(py_tasks))] = True
    codes = tasks[:, _EXECUTOR_COLUMN]
    # Every code has a row: the scanner's executors come with theirs, Python's too.
    present, first_row = np.unique(codes, return_index=True)
    by_first = np.argsort(first_row)
    order = present[by_first].tolist()
    recode = np.empty(len(order), dtype=np.int64)
    recode[order] = np.arange(len(order))
    tasks[:, _EXECUTOR_COLUMN] = recode[codes]
    ids = list(lines.executor_codes)
    executor_ids = [ids[c] for c in order]
    hosts = {
        ids[c]: lines.executor_hosts[ids[c]] if from_python[row] else c_hosts[c]
        for c, row in zip(order, first_row[by_first].tolist(), strict=True)
    }
    return tasks, executor_ids, hosts


def parse_lines(
    buf: bytes, stop: int | None = None, *, start: int = 0, accelerated: bool | None = None
) -> ChunkResult:
    """Parse the whole lines in ``buf[start:stop]`` (the caller keeps any cut line; bounds
    instead of a slice spare a copy of the buffer). Offsets in the result count from
    ``buf[0]``.

    Task lines are parsed in C when the ``_taskscan`` extension is built (see
    :data:`ACCELERATED`) and ``accelerated`` is not False; the result is the same.
    """
    size = len(buf) if stop is None else stop
    if accelerated is None:
        accelerated = _SCAN is not None
    if not accelerated:
        return _parse_python(buf, start, size)
    if _SCAN is None:
        raise RuntimeError("the _taskscan extension is not available")
    return _parse_accelerated(buf, start, size, _SCAN)
