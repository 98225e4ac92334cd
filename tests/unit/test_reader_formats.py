"""Layouts, streams and the line splitting, on real logs."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkcopilot.config import ReaderSettings
from sparkcopilot.errors import NotAnEventLogError
from sparkcopilot.eventlog import read_application
from sparkcopilot.model import TASK_COLUMNS, TaskOutcome
from sparkcopilot.summary import summarize
from tests.conftest import LOGS

ROLLING = LOGS / "eventlog_v2_spark-bcec39f6201b42b9925124595baad260"
PLAIN = LOGS / "healthy_narrow_v35"


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line]


def _summary(log: object, **kwargs: object) -> dict[str, object]:
    return summarize(read_application(log, **kwargs)).to_json_dict()  # type: ignore[arg-type]


def _rolling_copy(tmp_path: Path, parts: int, status: str) -> Path:
    """The real rolling log re-cut into ``parts`` zstd parts, as Spark 4 writes them."""
    lines = _lines(next(ROLLING.glob("events_*")))
    app = ROLLING.name.removeprefix("eventlog_v2_")
    out = tmp_path / ROLLING.name
    out.mkdir()
    size = -(-len(lines) // parts)
    for n in range(parts):
        body = b"".join(line + b"\n" for line in lines[n * size : (n + 1) * size])
        (out / f"events_{n + 1}_{app}.zstd").write_bytes(zstandard.compress(body))
    (out / f"{status}_{app}").write_bytes(b"")
    return out


def test_rolling_parts_are_read_in_numeric_order(tmp_path: Path) -> None:
    # With 11 parts, events_10 and events_11 sort before events_2 as text: reading them
    # in text order would put the application end in the middle.
    rolled = _rolling_copy(tmp_path, 11, "appstatus")
    whole = _summary(ROLLING)
    got = _summary(rolled)
    assert got["source"] == {
        **whole["source"],
        "path": str(rolled),
        "codec": "zstd",  # type: ignore[dict-item]
        "files": 11,
        "bytes_read": got["source"]["bytes_read"],
    }  # type: ignore[index]
    assert got["counts"] == whole["counts"]
    assert got["totals"] == whole["totals"]
    assert got["app"] == whole["app"]


def test_rolling_log_with_inprogress_marker_is_incomplete(tmp_path: Path) -> None:
    rolled = _rolling_copy(tmp_path, 3, "appstatus")
    marker = next(rolled.glob("appstatus_*"))
    marker.rename(marker.with_name(marker.name + ".inprogress"))
    assert _summary(rolled)["source"]["complete"] is False  # type: ignore[index]


def test_rolling_log_starts_at_the_last_compacted_part(tmp_path: Path) -> None:
    rolled = _rolling_copy(tmp_path, 3, "appstatus")
    first = next(rolled.glob("events_1_*"))
    # Compaction would have folded part 1 into part 2; a stale part 1 must be ignored.
    second = next(rolled.glob("events_2_*"))
    second.rename(second.with_name(second.name + ".compact"))
    first.write_bytes(zstandard.compress(b'{"Event":"SparkListenerJobStart","Job ID":999}\n'))
    assert _summary(rolled)["source"]["files"] == 2  # type: ignore[index]


def test_stdin_and_streams_read_like_files() -> None:
    log = LOGS / "skew_join_v4.zstd"
    from_file = _summary(log)
    from_stream = _summary(io.BytesIO(log.read_bytes()), name=str(log))
    assert from_stream == from_file


class _ShortReads(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes a read, like a socket or GCS."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        size = self._step if n < 0 else min(n, self._step)
        out, self._data = self._data[:size], self._data[size:]
        return bytes(out)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step=st.integers(1, 70_000), chunk=st.integers(64 * 1024, 300_000))
def test_any_read_and_chunk_sizes_give_the_same_model(step: int, chunk: int) -> None:
    data = PLAIN.read_bytes()
    reference = _summary(PLAIN)
    stream = _ShortReads(data, step)
    got = _summary(stream, settings=ReaderSettings(chunk_bytes=chunk), name=str(PLAIN))
    assert got["counts"] == reference["counts"]
    assert got["totals"] == reference["totals"]


def test_parallel_workers_give_the_same_model_as_one_process() -> None:
    inline = read_application(PLAIN, ReaderSettings(workers=1))
    parallel = read_application(
        PLAIN, ReaderSettings(workers=2, parallel_min_bytes=0, chunk_bytes=64 * 1024)
    )
    for name in TASK_COLUMNS:
        assert np.array_equal(getattr(inline.tasks, name), getattr(parallel.tasks, name)), name
    assert inline.stages == parallel.stages
    assert inline.jobs == parallel.jobs
    assert inline.sql_executions == parallel.sql_executions
    assert inline.counts == parallel.counts


def test_task_columns_hold_what_each_task_end_says() -> None:
    """Every column against an independent json.loads of the same TaskEnd lines."""
    app = read_application(PLAIN)
    ends = [json.loads(x) for x in _lines(PLAIN) if b'"SparkListenerTaskEnd"' in x[:40]]
    by_id = {e["Task Info"]["Task ID"]: e for e in ends}
    assert sorted(by_id) == sorted(app.tasks.task_id.tolist())
    executors = app.executor_ids
    for row in range(len(app.tasks)):
        e = by_id[int(app.tasks.task_id[row])]
        info, m = e["Task Info"], e["Task Metrics"]
        sr, sw = m["Shuffle Read Metrics"], m["Shuffle Write Metrics"]
        expected = {
            "stage_id": e["Stage ID"],
            "stage_attempt": e["Stage Attempt ID"],
            "index": info["Index"],
            "attempt": info["Attempt"],
            "launch_ms": info["Launch Time"],
            "finish_ms": info["Finish Time"],
            "getting_result_ms": info["Getting Result Time"],
            "speculative": info["Speculative"],
            "outcome": TaskOutcome.SUCCESS if e["Task End Reason"]["Reason"] == "Success" else -1,
            "run_ms": m["Executor Run Time"],
            "cpu_ns": m["Executor CPU Time"],
            "deserialize_ms": m["Executor Deserialize Time"],
            "deserialize_cpu_ns": m["Executor Deserialize CPU Time"],
            "gc_ms": m["JVM GC Time"],
            "result_size": m["Result Size"],
            "result_serialize_ms": m["Result Serialization Time"],
            "peak_execution_memory": m["Peak Execution Memory"],
            "memory_spilled": m["Memory Bytes Spilled"],
            "disk_spilled": m["Disk Bytes Spilled"],
            "input_bytes": m["Input Metrics"]["Bytes Read"],
            "input_records": m["Input Metrics"]["Records Read"],
            "output_bytes": m["Output Metrics"]["Bytes Written"],
            "output_records": m["Output Metrics"]["Records Written"],
            "shuffle_local_bytes": sr["Local Bytes Read"],
            "shuffle_remote_bytes": sr["Remote Bytes Read"],
            "shuffle_remote_to_disk_bytes": sr["Remote Bytes Read To Disk"],
            "shuffle_records_read": sr["Total Records Read"],
            "shuffle_local_blocks": sr["Local Blocks Fetched"],
            "shuffle_remote_blocks": sr["Remote Blocks Fetched"],
            "shuffle_fetch_wait_ms": sr["Fetch Wait Time"],
            "shuffle_write_bytes": sw["Shuffle Bytes Written"],
            "shuffle_write_records": sw["Shuffle Records Written"],
            "shuffle_write_time_ns": sw["Shuffle Write Time"],
        }
        for name, value in expected.items():
            assert getattr(app.tasks, name)[row] == value, (name, row)
        assert executors[app.tasks.executor[row]] == info["Executor ID"]
        assert app.tasks.has_metrics[row]


def test_tasks_are_grouped_by_stage_attempt() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    assert sum(hi - lo for lo, hi in (s.task_rows for s in app.stages)) == len(app.tasks)
    for stage in app.stages:
        tasks = app.stage_tasks(stage)
        assert set(tasks.stage_id.tolist()) <= {stage.stage_id}
        assert np.all(np.diff(tasks.launch_ms) >= 0)


def test_event_counts_split_known_skipped_and_unknown() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    assert app.counts.by_type["SparkListenerResourceProfileAdded"] == 1
    assert app.counts.skipped == 1  # known to Spark, of no use to the model
    assert app.counts.unknown == 0
    assert app.counts.events == sum(app.counts.by_type.values())
    assert app.counts.task_starts == app.counts.by_type["SparkListenerTaskStart"]


def test_the_model_is_immutable() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    with pytest.raises(ValueError, match="read-only"):
        app.tasks.run_ms[0] = 1
    with pytest.raises(AttributeError):
        app.app.name = "x"  # type: ignore[misc]


def test_sql_executions_carry_plans_and_metrics() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    assert app.sql_executions
    execution = app.sql_executions[0]
    assert execution.plan is not None
    nodes = execution.plan.walk()
    assert any("Join" in n.name for n in nodes)
    assert execution.metric_values, "SQL metric values come from stage accumulables"
    assert execution.job_ids


def test_legacy_directory_gets_version_from_its_marker() -> None:
    app = read_application(LOGS / "local-1426533911241")
    assert app.source.layout == "legacy_dir"
    assert app.app.spark_version == "1.2.0"


def _complete_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in _lines(path):
        with contextlib.suppress(ValueError):
            events.append(json.loads(line))
    return events


def test_inprogress_log_is_parsed_up_to_the_cut() -> None:
    path = LOGS / "app-20261128143744-0000.inprogress"
    events = _complete_events(path)
    app = read_application(path)
    assert app.counts.events == len(events)
    assert app.source.complete is False
    assert app.counts.truncated_tail is True
    assert app.counts.malformed_lines == 0, "the cut last line is not a malformed line"
    started = {e["Task Info"]["Task ID"] for e in events if e["Event"] == "SparkListenerTaskStart"}
    ended = {e["Task Info"]["Task ID"] for e in events if e["Event"] == "SparkListenerTaskEnd"}
    assert app.unfinished_task_ids == tuple(sorted(started - ended))


def test_tasks_without_an_end_are_listed(tmp_path: Path) -> None:
    lines = _lines(PLAIN)
    ends = [i for i, x in enumerate(lines) if x.startswith(b'{"Event":"SparkListenerTaskEnd"')]
    dropped = ends[3:6]
    lost = sorted(json.loads(lines[i])["Task Info"]["Task ID"] for i in dropped)
    path = tmp_path / "lost_task_ends"
    path.write_bytes(b"\n".join(x for i, x in enumerate(lines) if i not in dropped) + b"\n")
    app = read_application(path)
    assert app.unfinished_task_ids == tuple(lost)
    assert len(app.tasks) == len(ends) - 3


def test_pure_python_reader_gives_the_same_model() -> None:
    log = LOGS / "skew_join_v4.zstd"
    fast = read_application(log)
    pure = read_application(log, ReaderSettings(accelerated=False))
    for name in TASK_COLUMNS:
        assert np.array_equal(getattr(fast.tasks, name), getattr(pure.tasks, name)), name
    assert (fast.stages, fast.jobs, fast.counts) == (pure.stages, pure.jobs, pure.counts)


def _zip(tmp_path: Path, files: dict[str, bytes]) -> Path:
    path = tmp_path / "eventLogs-app.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_history_server_zip_of_one_file_reads_like_the_file(tmp_path: Path) -> None:
    log = LOGS / "skew_join_v4.zstd"
    zipped = _zip(tmp_path, {log.name: log.read_bytes()})
    got, want = _summary(zipped), _summary(log)
    assert (got["counts"], got["totals"], got["app"]) == (
        want["counts"],
        want["totals"],
        want["app"],
    )
    assert got["source"]["codec"] == "zstd"  # type: ignore[index]


def test_history_server_zip_of_a_rolling_log_keeps_its_layout(tmp_path: Path) -> None:
    files = {f"{ROLLING.name}/{p.name}": p.read_bytes() for p in ROLLING.iterdir()}
    got, want = _summary(_zip(tmp_path, files)), _summary(ROLLING)
    assert got["source"]["layout"] == "rolling"  # type: ignore[index]
    assert (got["counts"], got["totals"]) == (want["counts"], want["totals"])


def test_zip_of_several_logs_is_refused(tmp_path: Path) -> None:
    log = LOGS / "skew_join_v4.zstd"
    zipped = _zip(tmp_path, {"a/x": log.read_bytes(), "b/y": log.read_bytes()})
    with pytest.raises(NotAnEventLogError, match="not one log"):
        read_application(zipped)
