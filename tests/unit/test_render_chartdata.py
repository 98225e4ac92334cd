"""The chart numbers against the same numbers worked out from the raw JSON events (plain
``json`` and ``zstandard``, not the reader) or from the labels Spark measured."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
import zstandard

from sparkcopilot.eventlog import read_application
from sparkcopilot.render.chartdata import (
    executor_utilisation,
    stage_timeline,
    task_duration_distribution,
    time_window,
    worst_stage_ids,
)
from tests.conftest import LOGS, bundled_labels

SKEW = LOGS / "skew_join_v4.zstd"
SKEWED_STAGE = 4


def _events(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as stored:
        if stored.read(4) == b"\x28\xb5\x2f\xfd":
            stored.seek(0)
            reader = zstandard.ZstdDecompressor().stream_reader(stored, read_across_frames=True)
            raw = reader.read()
        else:
            raw = path.read_bytes()
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["Event"] == f"SparkListener{kind}"]


def _task_spans(events: list[dict[str, Any]]) -> list[tuple[int, int, int]]:
    """(stage id, launch, finish) of every TaskEnd."""
    return [
        (e["Stage ID"], e["Task Info"]["Launch Time"], e["Task Info"]["Finish Time"])
        for e in _of(events, "TaskEnd")
    ]


def _overlap(start: int, stop: int, low: int, high: int) -> int:
    return max(0, min(stop, high) - max(start, low))


@pytest.mark.parametrize("name", ["skew_join_v4.zstd", "healthy_narrow_v35"])
def test_utilisation_integral_is_the_task_time_bin_by_bin(name: str) -> None:
    events = _events(LOGS / name)
    origin = _of(events, "ApplicationStart")[0]["Timestamp"]
    u = executor_utilisation(read_application(LOGS / name))
    assert u.window.origin_ms == origin
    spans = [(a - origin, b - origin) for _, a, b in _task_spans(events)]
    assert sum(u.task_ms) == sum(b - a for a, b in spans)
    edges = u.edges_ms
    for i, got in enumerate(u.task_ms):
        assert got == sum(_overlap(a, b, edges[i], edges[i + 1]) for a, b in spans), i


def test_available_cores_come_from_executor_events_bin_by_bin() -> None:
    events = _events(SKEW)
    origin = _of(events, "ApplicationStart")[0]["Timestamp"]
    end = _of(events, "ApplicationEnd")[0]["Timestamp"] - origin
    removed = {e["Executor ID"]: e["Timestamp"] - origin for e in _of(events, "ExecutorRemoved")}
    alive = [
        (
            e["Timestamp"] - origin,
            removed.get(e["Executor ID"], end),
            e["Executor Info"]["Total Cores"],
        )
        for e in _of(events, "ExecutorAdded")
    ]
    u = executor_utilisation(read_application(SKEW))
    assert u.core_ms is not None
    edges = u.edges_ms
    for i, got in enumerate(u.core_ms):
        assert got == sum(c * _overlap(a, b, edges[i], edges[i + 1]) for a, b, c in alive), i
    added = [c for c in u.changes if c.added]
    assert sorted(x for c in added for x in c.added) == sorted(
        e["Executor ID"] for e in _of(events, "ExecutorAdded")
    )
    assert u.used_share is not None and 0 < u.used_share <= 1


def test_log_without_executor_events_has_no_core_series() -> None:
    u = executor_utilisation(read_application(LOGS / "local-1426533911241"))
    assert u.core_ms is None and u.used_share is None and u.changes == ()
    assert sum(u.task_ms) > 0


def test_skewed_stage_histogram_holds_its_tasks() -> None:
    durations = [b - a for s, a, b in _task_spans(_events(SKEW)) if s == SKEWED_STAGE]
    dist = task_duration_distribution(read_application(SKEW), SKEWED_STAGE)
    assert dist is not None
    assert dist.tasks == len(durations)
    assert dist.median_ms == statistics.median(durations)
    assert dist.max_ms == max(durations)
    assert (dist.edges_ms[0], dist.edges_ms[-1]) == (min(durations), max(durations))
    # The slowest task sits alone in the last bin: the skew the finding reports.
    assert dist.counts[-1] == 1


@pytest.mark.parametrize(
    "name", ["skew_join_v4.zstd", "healthy_narrow_v35", "spark2-eventlog.zstd"]
)
def test_histograms_of_every_stage_count_every_task(name: str) -> None:
    app = read_application(LOGS / name)
    dists = [task_duration_distribution(app, s) for s in {st.stage_id for st in app.stages}]
    assert sum(d.tasks for d in dists if d is not None) == bundled_labels()[name]["facts"]["tasks"]


def test_timeline_bars_are_the_stage_attempts_of_the_log() -> None:
    events = _events(SKEW)
    origin = _of(events, "ApplicationStart")[0]["Timestamp"]
    completed = {
        e["Stage Info"]["Stage ID"]: (
            e["Stage Info"]["Submission Time"] - origin,
            e["Stage Info"]["Completion Time"] - origin,
        )
        for e in _of(events, "StageCompleted")
    }
    timeline = stage_timeline(read_application(SKEW), {SKEWED_STAGE})
    assert {bar.stage: (bar.start_ms, bar.end_ms) for bar in timeline.bars} == {
        (stage, 0): span for stage, span in completed.items()
    }
    assert [bar.stage for bar in timeline.bars if bar.flagged] == [(SKEWED_STAGE, 0)]
    starts = [bar.start_ms for bar in timeline.bars]
    assert starts == sorted(starts)  # jobs run one after the other in this log


def test_timeline_of_more_attempts_than_rows_merges_runs_and_keeps_the_flagged() -> None:
    app = read_application(SKEW)
    full = stage_timeline(app, {SKEWED_STAGE})
    bounded = stage_timeline(app, {SKEWED_STAGE}, max_bars=4)
    assert len(bounded.bars) <= 4
    assert sum(bar.attempts for bar in bounded.bars) == len(app.stages)
    assert [bar.stage for bar in bounded.bars if bar.flagged] == [(SKEWED_STAGE, 0)]
    first, last = min(b.start_ms for b in full.bars), max(b.end_ms for b in full.bars)
    assert (min(b.start_ms for b in bounded.bars), max(b.end_ms for b in bounded.bars)) == (
        first,
        last,
    )


def test_worst_stages_are_the_flagged_else_the_longest() -> None:
    app = read_application(SKEW)
    assert worst_stage_ids(app, [SKEWED_STAGE, 99]) == (SKEWED_STAGE,)
    longest = sorted(app.stages, key=lambda s: -(s.duration_ms or 0))
    assert worst_stage_ids(app, [], limit=2) == tuple(s.stage_id for s in longest[:2])


def test_window_covers_a_log_without_an_end() -> None:
    app = read_application(LOGS / "app-20261128143744-0000.inprogress")
    window = time_window(app)
    assert app.app.end_ms is None
    assert window.origin_ms == app.app.start_ms
    assert window.origin_ms + window.span_ms >= int(app.tasks.finish_ms.max())
    running = [b for b in stage_timeline(app, set()).bars if b.status == "running"]
    assert all(b.end_ms == window.span_ms for b in running)
