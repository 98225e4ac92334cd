"""The C task-line scanner agrees with the pure-Python reader on every line, good or bad.

``parse_lines(buf)`` parses task lines in C (``_taskscan``) and hands every other line,
and every task line the scanner declines, to the Python per-line code; with
``accelerated=False`` that Python code reads every line. The two must give the same
:class:`ChunkResult` (started task ids may come in another order), on real logs and on
task lines mutated every way hypothesis can think of. The scanner itself must survive
any bytes.
"""

from __future__ import annotations

import json
import random
import re
from array import array
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkcopilot.eventlog import _chunks
from sparkcopilot.eventlog._chunks import parse_lines
from sparkcopilot.eventlog._codecs import DecodeStats, decoded_chunks, sniff_codec
from sparkcopilot.model import TASK_COLUMNS
from tests.conftest import CORPUS, DATA, LOGS, corpus_labels

try:
    from sparkcopilot.eventlog import _taskscan
except ImportError:  # pragma: no cover - reported by test_extension_is_built_and_used
    _taskscan = None  # type: ignore[assignment]

needs_extension = pytest.mark.skipif(_taskscan is None, reason="_taskscan is not built")

N_COLUMNS = len(TASK_COLUMNS)
ROW_BYTES = 8 * N_COLUMNS
_PLAIN_LOG = (LOGS / "healthy_narrow_v35").read_bytes().split(b"\n")
# A real TaskEnd with shuffle reads and writes, its TaskStart, and other events.
TASK_END = max(
    (line for line in _PLAIN_LOG if line.startswith(b'{"Event":"SparkListenerTaskEnd"')),
    key=lambda line: json.loads(line)["Task Metrics"]["Shuffle Read Metrics"]["Remote Bytes Read"],
)
_TASK_ID = json.loads(TASK_END)["Task Info"]["Task ID"]
TASK_START = next(
    line
    for line in _PLAIN_LOG
    if line.startswith(b'{"Event":"SparkListenerTaskStart"')
    and json.loads(line)["Task Info"]["Task ID"] == _TASK_ID
)
JOB_START = next(line for line in _PLAIN_LOG if b'"SparkListenerJobStart"' in line)
UNPERSIST = b'{"Event":"SparkListenerUnpersistRDD","RDD ID":1}'


# --- comparing the two paths -----------------------------------------------------------


def _outcome(buf: bytes, *, accelerated: bool) -> Any:
    """Everything parse_lines says about ``buf``, or the exception it raised."""
    try:
        r = parse_lines(buf, accelerated=accelerated)
    except Exception as exc:  # the two paths must fail alike too
        return ("raised", type(exc))
    assert r.tasks.dtype == np.int64 and r.tasks.shape == (len(r.tasks), N_COLUMNS)
    return (
        r.tasks.tolist(),
        r.executor_ids,
        list(r.executor_hosts.items()),
        sorted(r.started_task_ids),
        r.failures,
        r.other_events,
        r.by_type,
        r.events_total,
        r.unknown,
        r.malformed,
        r.not_events,
    )


def assert_same(buf: bytes) -> Any:
    """Both paths say the same about ``buf``; what they say."""
    fast = _outcome(buf, accelerated=True)
    slow = _outcome(buf, accelerated=False)
    assert fast == slow
    return slow


def scanned(buf: bytes) -> tuple[int, int, int]:
    """(TaskEnd rows, TaskStart ids, lines left to Python) of the C scanner alone."""
    rows, _, _, _, started, rest = _taskscan.scan(buf)
    return len(rows) // ROW_BYTES, len(started) // 8, len(rest) // 16


# --- the extension is there and is used ------------------------------------------------


def test_extension_is_built_and_used() -> None:
    assert _taskscan is not None, "the C extension was not built (pip install -e .)"
    assert _chunks.ACCELERATED, "_taskscan was built but rejected: its layout != the model's"
    assert tuple(TASK_COLUMNS) == _taskscan.COLUMNS


def test_forced_python_path_does_not_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def scan(buf: bytes) -> Any:
        raise AssertionError("scanned")

    monkeypatch.setattr(_chunks, "_SCAN", scan)
    result = parse_lines(TASK_END + b"\n" + TASK_START, accelerated=False)
    assert len(result.tasks) == 1 and list(result.started_task_ids) == [_TASK_ID]
    with pytest.raises(AssertionError, match="scanned"):
        parse_lines(TASK_END)
    monkeypatch.setattr(_chunks, "_SCAN", None)
    assert len(parse_lines(TASK_END).tasks) == 1
    with pytest.raises(RuntimeError):
        parse_lines(TASK_END, accelerated=True)


@needs_extension
def test_spark_lines_are_parsed_in_c() -> None:
    buf = b"\n".join([JOB_START, TASK_START, TASK_END, b"", b"  \r", UNPERSIST, TASK_END])
    assert scanned(buf) == (2, 1, 2)
    assert_same(buf)
    row = parse_lines(TASK_END, accelerated=True).tasks[0]
    expected = parse_lines(TASK_END, accelerated=False).tasks[0]
    assert row.tolist() == expected.tolist()
    assert row[list(TASK_COLUMNS).index("shuffle_remote_bytes")] > 0


# --- real logs ---------------------------------------------------------------------------


def _stored_files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def _decoded(path: Path) -> bytes:
    """The whole lines of one stored file, decompressed."""
    with path.open("rb") as f:
        codec = sniff_codec(f.read(64)) or "none"
        f.seek(0)
        data = b"".join(
            decoded_chunks(
                f,
                codec,
                source=str(path),
                stats=DecodeStats(),
                max_decoded_bytes=1 << 34,
                max_ratio=1e9,
            )
        )
    return data[: data.rfind(b"\n") + 1]


def _check_log(path: Path) -> tuple[int, int]:
    """Both paths agree on every stored file of a log; (TaskEnds, of them parsed in C)."""
    ends = in_c = 0
    for stored in _stored_files(path):
        buf = _decoded(stored)
        by_type = assert_same(buf)[6]
        ends += by_type.get("SparkListenerTaskEnd", 0)
        in_c += scanned(buf)[0]
    return ends, in_c


@needs_extension
@pytest.mark.parametrize(
    "path",
    sorted({p.relative_to(DATA) for p in DATA.rglob("*") if p.is_file()}),
    ids=str,
)
def test_bundled_logs_agree(path: Path) -> None:
    _check_log(DATA / path)


@needs_extension
@pytest.mark.corpus
def test_corpus_logs_agree() -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/eventlogs is not here")
    ends = in_c = 0
    for name in sorted(corpus_labels()):
        e, c = _check_log(CORPUS / name)
        ends += e
        in_c += c
    # Only failed attempts are left to Python in these logs: well under 1% of tasks.
    assert ends > 10_000 and in_c >= 0.99 * ends


@needs_extension
def test_chunked_log_agrees() -> None:
    """Buffers cut anywhere between lines, as the reader cuts them."""
    buf = _decoded(LOGS / "skew_join_v4.zstd")
    rng = random.Random(7)
    start = 0
    while start < len(buf):
        stop = buf.find(b"\n", start + rng.randrange(1, 200_000))
        stop = len(buf) if stop < 0 else stop + 1
        assert_same(buf[start:stop])
        start = stop


# --- lines Spark never writes: decided case by case ------------------------------------


def _edit(line: bytes, old: bytes, new: bytes) -> bytes:
    assert old in line, old
    return line.replace(old, new, 1)


_TE = TASK_END
_RUN_TIME = json.loads(_TE)["Task Metrics"]["Executor Run Time"]
_RUN = b'"Executor Run Time":%d' % _RUN_TIME
_HOST = b'"Host":"%s"' % json.loads(_TE)["Task Info"]["Host"].encode()

# (line, parsed in C?) The Python path is the reference for what each one yields.
EDGE_CASES: dict[str, tuple[bytes, bool]] = {
    "spark": (_TE, True),
    "crlf": (_TE + b"\r", True),
    "whitespace": (_edit(_TE, b',"Stage Attempt ID":', b' ,\t"Stage Attempt ID" :  '), True),
    "no-accumulables": (_edit(_TE, b',"Accumulables":[', b',"Accumulable":['), True),
    "reason-absent": (_edit(_TE, b'"Task End Reason":{"Reason":"Success"},', b""), True),
    "reason-extra": (
        _edit(_TE, b'{"Reason":"Success"}', b'{"Reason":"Success","Message":null,"X":[{}]}'),
        True,
    ),
    "unknown-keys": (_edit(_TE, _RUN, _RUN + b',"x":{"a":["}\\"]",{"b":[1e5,-0.5]}]}'), True),
    "negative": (_edit(_TE, _RUN, b'"Executor Run Time":-7'), True),
    "minus-zero": (_edit(_TE, _RUN, b'"Executor Run Time":-0'), True),
    "int64-max": (_edit(_TE, _RUN, b'"Executor Run Time":9223372036854775807'), True),
    "int64-min": (_edit(_TE, _RUN, b'"Executor Run Time":-9223372036854775808'), True),
    "unknown-locality": (_edit(_TE, b'"Locality":"', b'"Locality":"X'), True),
    "failed": (_edit(_TE, b'"Reason":"Success"', b'"Reason":"TaskKilled"'), False),
    "reason-message": (_edit(_TE, b'"Success"}', '"Success","Message":"é\\n"}'.encode()), True),
    "reason-message-number": (_edit(_TE, b'"Success"}', b'"Success","Message":5}'), False),
    "reason-message-surrogate": (
        _edit(_TE, b'"Success"}', b'"Success","Message":"\xed\xa0\x80"}'),
        False,
    ),
    "reason-message-overlong": (
        _edit(_TE, b'"Success"}', b'"Success","Message":"\xe0\x80\x80"}'),
        False,
    ),
    "reason-escaped": (_edit(_TE, b'"Reason":"Success"', b'"Reason":"Succes\\u0073"'), False),
    "reason-null": (_edit(_TE, b'{"Reason":"Success"}', b"null"), False),
    "float": (_edit(_TE, _RUN, _RUN + b".0"), False),
    "exponent": (_edit(_TE, _RUN, _RUN + b"e0"), False),
    "string-int": (_edit(_TE, _RUN, b'"Executor Run Time":"%d"' % _RUN_TIME), False),
    "leading-zero": (_edit(_TE, _RUN, b'"Executor Run Time":01'), False),
    "overflow": (_edit(_TE, _RUN, b'"Executor Run Time":9223372036854775808'), False),
    "uint64-overflow": (_edit(_TE, _RUN, b'"Executor Run Time":18446744073709551616'), False),
    "bool-int": (_edit(_TE, _RUN, b'"Executor Run Time":true'), False),
    "duplicate": (_edit(_TE, _RUN, _RUN + b"," + _RUN), False),
    "escaped-key": (_edit(_TE, b'"Stage ID"', b'"Stage\\u0020ID"'), False),
    "escaped-host": (_edit(_TE, _HOST, b'"Host":"h\\u00e9"'), False),
    "utf8-host": (_edit(_TE, _HOST, '"Host":"hé"'.encode()), False),
    "bad-utf8-host": (_edit(_TE, _HOST, b'"Host":"h\xff"'), False),
    "bad-utf8-skipped": (_edit(_TE, _RUN, _RUN + b',"x":"\xc0\x80"'), False),
    "lone-surrogate": (_edit(_TE, _RUN, _RUN + b',"x":"\\ud800"'), False),
    "control-char": (_edit(_TE, _RUN, _RUN + b',"x":"\x01"'), False),
    "no-metrics": (_TE[: _TE.index(b',"Task Metrics":')] + b"}", False),
    "null-metrics": (_TE[: _TE.index(b',"Task Metrics":')] + b',"Task Metrics":null}', False),
    "null-shuffle-read": (
        _edit(_TE, b'"Shuffle Read Metrics":{', b'"Shuffle Read Metrics":null,"x":{'),
        False,
    ),
    "no-info": (_edit(_TE, b'"Task Info":', b'"Task Inf":'), False),
    "no-stage": (_edit(_TE, b'"Stage ID":', b'"Stage":'), False),
    "no-task-id": (_edit(_TE, b'"Task ID":', b'"Task":'), False),
    "trailing-comma": (_edit(_TE, _RUN, _RUN + b",}"), False),
    "trailing-garbage": (_TE + b"x", False),
    # The splice joins the first line's head to the second's metrics: a valid document
    # the Python fast path takes as it is, and so the scanner does.
    "two-objects": (_TE + _TE, True),
    "truncated": (_TE[:-1], False),
    "deep": (_edit(_TE, _RUN, _RUN + b',"x":' + b"[" * 100 + b"]" * 100), False),
    "very-deep": (_edit(_TE, _RUN, _RUN + b',"x":' + b"[" * 5000 + b"]" * 5000), False),
    # Key order Spark never writes: Task Metrics before the accumulables, or a fake one
    # inside them. The splice both paths make then cuts the wrong span.
    "metrics-first": (
        _TE[: _TE.index(b',"Task Type"')]
        + _TE[_TE.index(b',"Task Metrics":') : -1]
        + _TE[_TE.index(b',"Task Type"') : _TE.index(b',"Task Metrics":')]
        + b"}",
        True,
    ),
    "metrics-first-and-fake-in-accumulables": (
        _TE[: _TE.index(b',"Task Type"')]
        + _TE[_TE.index(b',"Task Metrics":') : -1]
        + _edit(
            _TE[_TE.index(b',"Task Type"') : _TE.index(b',"Task Metrics":')],
            b'"Accumulables":[',
            b'"Accumulables":[{"ID":1,"Task Metrics":{}},',
        )
        + b"}",
        False,
    ),
    "fake-metrics-in-accumulables": (
        _edit(_TE, b'"Accumulables":[', b'"Accumulables":[{"ID":1,"Task Metrics":{}},'),
        True,
    ),
}


@needs_extension
@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_case(case: str) -> None:
    line, in_c = EDGE_CASES[case]
    buf = b"\n".join([JOB_START, line, UNPERSIST, TASK_END])
    assert scanned(buf)[0] == 1 + in_c
    assert_same(buf)


@needs_extension
@pytest.mark.parametrize(
    ("text", "in_c"),
    [
        (b'{"Event":"SparkListenerTaskStart","Task Info":{"Task ID":12,"Index":0}}', True),
        (b'{"Event":"SparkListenerTaskStart","Task Info":{"Task ID":-3,"x":1}}', True),
        (b'{"Event":"SparkListenerTaskStart","Task Info":{"Task ID":012,"x":1}}', True),
        (b'{"Event":"SparkListenerTaskStart","Task Info":{"Task ID":12}}', False),
        (b'{"Event":"SparkListenerTaskStart","Task Info":{"Task ID":12},"x":1}', False),
        (b'{"Event":"SparkListenerTaskStart","Task Info":{"Task ID": 12,"x":1}}', False),
        (b'{"Event":"SparkListenerTaskStart","Task Info":{"Task ID":"12","x":1}}', False),
        (b'{"Event":"SparkListenerTaskStart","Task Info":{"Task ID":1e3,"x":1}}', False),
        (b'{"Event":"SparkListenerTaskStart","Task Info":{"Task ID":1_2,"x":1}}', False),
        (b'{"Event":"SparkListenerTaskStart","Stage ID":1}', False),
        (b'{"Event": "SparkListenerTaskStart","Task Info":{"Task ID":12,"x":1}}', False),
    ],
)
def test_task_start(text: bytes, in_c: bool) -> None:
    buf = b"\n".join([TASK_START, text])
    assert scanned(buf)[1] == 1 + in_c
    assert_same(buf)


@needs_extension
def test_executors_keep_log_order_and_first_host() -> None:
    """Executors first seen on lines Python parses keep their place and host."""
    failed = _edit(TASK_END, b'"Reason":"Success"', b'"Reason":"TaskKilled"')
    exec_id = json.loads(TASK_END)["Task Info"]["Executor ID"]

    def on(line: bytes, executor: str, host: str) -> bytes:
        line = _edit(
            line,
            b'"Executor ID":"%s"' % exec_id.encode(),
            b'"Executor ID":"%s"' % executor.encode(),
        )
        return _edit(line, _HOST, b'"Host":"%s"' % host.encode())

    buf = b"\n".join(
        [
            on(TASK_END, "a", "h1"),
            on(failed, "b", "h2"),  # Python
            on(TASK_END, "c", "h3"),
            on(TASK_END, "b", "h4"),  # C saw b here first; Python earlier, with h2
            on(failed, "d", "h5"),  # Python only
            on(TASK_END, "a", "h6"),
        ]
    )
    assert scanned(buf)[0] == 4
    result = parse_lines(buf, accelerated=True)
    assert result.executor_ids == ["a", "b", "c", "d"]
    assert result.executor_hosts == {"a": "h1", "b": "h2", "c": "h3", "d": "h5"}
    assert result.tasks[:, list(TASK_COLUMNS).index("executor")].tolist() == [0, 1, 2, 1, 3, 0]
    assert_same(buf)


# --- hypothesis: mutated task lines -------------------------------------------------------


class Obj(list[tuple[Any, Any]]):
    """A JSON object as its (key, value) pairs: keys may repeat, order is kept."""


class Raw(str):
    """JSON text written as is."""


def _to_json(value: Any, ascii_only: bool) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, Obj):
        return (
            "{"
            + ",".join(f"{_to_json(k, ascii_only)}:{_to_json(v, ascii_only)}" for k, v in value)
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_to_json(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _parsed(line: bytes) -> Obj:
    value: Obj = json.loads(line, object_pairs_hook=Obj)
    return value


KNOWN_KEYS = sorted(
    {
        key
        for line in (TASK_END, TASK_START)
        for key in json.dumps(json.loads(line)).split('"')[1::2]
        if not key.startswith("internal.") and len(key) < 40
    }
)
TRICKY = [*'ab }]{["\\:,/', "é", "\u2028", "😀", "\x00", "\x1f", "\n"]
texts = st.text(alphabet=st.sampled_from(TRICKY), max_size=8)
RAW_NUMBERS = [
    "-0",
    "1.0",
    "1e3",
    "01",
    "-",
    "1.",
    ".5",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "true",
    "nul",
]
# Strings the scanner compares, near misses, and JSON strings as written: escapes (valid
# or not), control characters, UTF-8 (valid or not: \udcXX is byte XX).
WORDS = ["Success", "success", "Success ", "TaskKilled", "NODE_LOCAL", "ANY", "UNKNOWN", "1"]
RAW_STRINGS = [
    *(r'"Succ\u0065ss"', r'"\u0041\n\/"', r'"\x"', r'"\u12"', r'"\ud800"', r'"\udc00"'),
    *(r'"\ud800\udc00"', r'"\ud800\u0041"', '"\x01"', '"\x7f"', '"é"', '"\udcc3\udca9"'),
    *('"\udcff"', '"\udce0\udc80\udc80"', '"\udced\udca0\udc80"', '"\udcf4\udc90\udc80\udc80"'),
]
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    st.sampled_from(WORDS),
    st.sampled_from(RAW_NUMBERS + RAW_STRINGS).map(Raw),
)
values = st.recursive(
    leaves,
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.lists(st.tuples(st.one_of(texts, st.sampled_from(KNOWN_KEYS)), kids), max_size=3).map(
            Obj
        )
    ),
    max_leaves=6,
)
keys = st.one_of(
    st.sampled_from(KNOWN_KEYS),
    texts,
    st.sampled_from(KNOWN_KEYS).map(lambda k: Raw(json.dumps(k).replace(" ", "\\u0020"))),
)


STRUCTS = {
    *("Task End Reason", "Task Info", "Task Metrics", "Shuffle Read Metrics"),
    *("Shuffle Write Metrics", "Input Metrics", "Output Metrics", "Push Based Shuffle"),
}


def _objects(line: Obj) -> tuple[list[Obj], list[Obj]]:
    """The objects of a line: (the line and the structs the model reads, all others)."""
    structs: list[Obj] = [line]
    others: list[Obj] = []
    stack: list[tuple[Any, Any]] = list(line)
    while stack:
        key, v = stack.pop()
        if isinstance(v, Obj):
            (structs if key in STRUCTS else others).append(v)
            stack.extend(v)
        elif isinstance(v, list):
            stack.extend((None, x) for x in v)
    return structs, others


OBJECT_EDITS = [
    "shuffle",
    "drop",
    "duplicate",
    "retype",
    "number",
    "number",
    "number",
    "add",
    "rekey",
]
# A field's value replaced by one of another type, or an edge of its own.
scalars = st.one_of(
    st.integers(-1000, 1000),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
    st.sampled_from(RAW_NUMBERS + RAW_STRINGS).map(Raw),
    st.sampled_from(WORDS),
    st.booleans(),
    st.none(),
)
# Bytes that matter to a JSON parser, and a few that should not be there at all.
JSON_BYTES = st.sampled_from(
    [
        *(b'"', b"\\", b"\x01", b"\x7f", b"\xc3", b"\xa9", b"\xff", b"}", b"]", b"{", b"["),
        *(b",", b":", b" ", b"\t", b"\r", b"0", b"-", b".", b"e", b"u", b"n"),
    ]
)


def _edit_object(draw: st.DrawFn, line: Obj, obj: Obj) -> None:
    at = draw(st.integers(0, len(obj) - 1))
    op = draw(st.sampled_from(OBJECT_EDITS))
    # The first key stays "Event" mostly: otherwise the line is not the scanner's.
    if obj is line and at == 0 and op in ("shuffle", "drop", "rekey") and draw(st.booleans()):
        return
    if op == "shuffle":
        head = obj[:1] if obj is line else []
        obj[len(head) :] = draw(st.permutations(obj[len(head) :]))
    elif op == "drop":
        del obj[at]
    elif op == "duplicate":
        obj.insert(draw(st.integers(0, len(obj))), (obj[at][0], draw(values)))
    elif op in ("retype", "number"):
        obj[at] = (obj[at][0], draw(scalars if op == "number" else values))
    elif op == "add":
        obj.insert(draw(st.integers(1, len(obj))), (draw(keys), draw(values)))
    else:
        obj[at] = (draw(keys), obj[at][1])


def _damage(draw: st.DrawFn, text: bytes) -> bytes:
    """Byte-level damage: truncation, insertion, deletion; anywhere in the line, but
    mostly at a token boundary of the parts the scanner parses."""
    cut = text.find(b',"Accumulables":[')
    resume = text.rfind(b',"Task Metrics":')
    boundaries = [
        m.start()
        for m in re.finditer(rb'[,:{}\[\]"]', text)
        if cut < 0 or resume < 0 or m.start() <= cut or m.start() >= resume
    ]
    at = draw(st.one_of(st.integers(0, len(text)), st.sampled_from([*boundaries, len(text)])))
    op = draw(st.sampled_from(["cut", "insert", "delete"]))
    if op == "cut":
        return text[:at]
    if op == "insert":
        return text[:at] + b"".join(draw(st.lists(JSON_BYTES, min_size=1, max_size=3))) + text[at:]
    return text[:at] + text[at + draw(st.integers(1, 20)) :]


@st.composite
def mutated_lines(draw: st.DrawFn, base: bytes) -> bytes:
    line = _parsed(base)
    structs, others = _objects(line)
    for _ in range(draw(st.integers(0, 3))):
        obj = draw(st.sampled_from(structs if not others or draw(st.integers(0, 4)) else others))
        if obj:
            _edit_object(draw, line, obj)
    text = _to_json(line, ascii_only=draw(st.booleans())).encode("utf-8", "surrogateescape")
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        text = _damage(draw, text)
    return text


garbage = st.binary(max_size=60).map(lambda b: b.replace(b"\n", b""))
task_line_heads = st.sampled_from(
    [b'{"Event":"SparkListenerTaskEnd",', b'{"Event":"SparkListenerTaskStart",']
)
any_line = st.one_of(
    mutated_lines(TASK_END),
    mutated_lines(TASK_START),
    st.tuples(task_line_heads, garbage).map(b"".join),
    garbage,
    st.sampled_from([TASK_END, TASK_START, JOB_START, UNPERSIST, b"", b"\r", b" \t"]),
)
FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@needs_extension
@FAST
@given(mutated_lines(TASK_END))
def test_mutated_task_end_agrees(line: bytes) -> None:
    assert_same(b"\n".join([TASK_END, line, JOB_START]))


@needs_extension
@FAST
@given(st.data())
def test_added_values_agree(data: st.DataObject) -> None:
    """One key added to a real line: its value is skipped, or decoded as an optional
    string in the end reason, exactly as msgspec would (or the line is declined)."""
    line = _parsed(TASK_END)
    obj = data.draw(st.sampled_from(_objects(line)[0]))
    key = data.draw(st.one_of(texts, st.sampled_from(["Message", "Class Name", "Description"])))
    value = data.draw(st.one_of(st.sampled_from(RAW_NUMBERS + RAW_STRINGS).map(Raw), values))
    obj.insert(data.draw(st.integers(1, len(obj))), (key, value))
    text = _to_json(line, ascii_only=data.draw(st.booleans())).encode("utf-8", "surrogateescape")
    assert_same(b"\n".join([TASK_END, text]))


@needs_extension
@settings(FAST, max_examples=100)
@given(st.lists(any_line, min_size=1, max_size=8), st.sampled_from([b"\n", b"\r\n"]), st.booleans())
def test_mixed_lines_agree(lines: list[bytes], newline: bytes, final_newline: bool) -> None:
    buf = newline.join(lines) + (newline if final_newline else b"")
    assert_same(buf)


# --- the scanner alone never misbehaves ---------------------------------------------------


def check_scan(buf: bytes | bytearray | memoryview) -> None:
    data = bytes(buf)
    rows, row_offsets, executor_ids, executor_hosts, started, rest = _taskscan.scan(buf)
    assert isinstance(rows, bytearray) and len(rows) % ROW_BYTES == 0
    n = len(rows) // ROW_BYTES
    matrix = np.frombuffer(rows, dtype=np.int64).reshape(n, N_COLUMNS)
    offsets = array("q", row_offsets)
    assert len(offsets) == n and len(started) % 8 == 0 and len(rest) % 16 == 0
    assert len(executor_ids) == len(executor_hosts)
    assert set(matrix[:, 2].tolist()) == set(range(len(executor_ids)))
    assert set(matrix[:, 4].tolist()) <= {0} and set(matrix[:, 5].tolist()) <= {1}
    spans = array("q", rest)
    lines_left = list(zip(spans[::2], spans[1::2], strict=True))
    # Every non-blank line is a row, a task start or left over: once, in order.
    stops = [m.start() for m in re.finditer(b"\n", data)] + [len(data)]
    starts = [0] + [stop + 1 for stop in stops[:-1]]
    lines = {start: stop for start, stop in zip(starts, stops, strict=True) if start < len(data)}
    nonblank = {start for start, stop in lines.items() if data[start:stop].strip()}
    assert lines_left == sorted(lines_left)
    assert all(lines.get(start) == stop for start, stop in lines_left)
    assert set(offsets) <= nonblank and not set(offsets) & {s for s, _ in lines_left}
    assert n + len(started) // 8 + len(lines_left) == len(nonblank)


@needs_extension
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(any_line, garbage), max_size=6), st.booleans())
def test_scan_survives_anything(lines: list[bytes], final_newline: bool) -> None:
    buf = b"\n".join(lines) + (b"\n" if final_newline else b"")
    check_scan(buf)


@needs_extension
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_scan_survives_bytes(data: bytes) -> None:
    check_scan(data)
    check_scan(TASK_END[:100] + data)
    check_scan(bytearray(data))


@needs_extension
@pytest.mark.parametrize("cut", [0, 1, 30, 33, 34, 200, -200, -20, -2, -1])
def test_scan_truncated_buffers(cut: int) -> None:
    for line in (TASK_END, TASK_START):
        piece = line[:cut]
        check_scan(piece)
        check_scan(memoryview(line)[:cut])
        assert_same(piece)


@needs_extension
def test_scan_rejects_non_buffers() -> None:
    with pytest.raises(TypeError):
        _taskscan.scan("text")  # type: ignore[arg-type]
