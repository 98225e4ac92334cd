"""The numbers behind the report's charts, computed from the model and nothing else.

Every series here is bounded whatever the size of the log: a timeline keeps at most a
few hundred stage attempts, a histogram a fixed number of bins, the utilisation series
a fixed number of time bins (computed from sorted task boundaries and prefix sums, so
10^6 tasks cost a sort, never one element each).

All times are milliseconds relative to :attr:`TimeWindow.origin_ms`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..model import Application, StageAttempt

#: Time bins of the utilisation series (enough for one bin per few pixels of a chart).
UTILISATION_BINS = 240
#: Bars of a task-duration histogram.
HISTOGRAM_BINS = 30
#: Stage attempts drawn on a timeline; the rest are counted, not drawn.
TIMELINE_MAX_BARS = 80
#: Stages whose task durations are drawn.
WORST_STAGES = 4


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The span every time chart shares: the application's, widened to whatever the log
    shows happening outside it (a log without an end, tasks past the end)."""

    origin_ms: int
    span_ms: int


@dataclass(frozen=True, slots=True)
class TimelineBar:
    """One row of the timeline: a stage attempt, or, on a log with more attempts than
    rows, every other attempt of a run of consecutive jobs merged."""

    #: First and last job of the row (equal for one job); None when the log names none.
    jobs: tuple[int, int] | None
    #: (stage id, attempt) of a single attempt; None for a merged row.
    stage: tuple[int, int] | None
    name: str
    #: Stage attempts the row stands for.
    attempts: int
    start_ms: int
    end_ms: int
    #: Of a merged row: failed if any failed, else running if any still runs.
    status: Literal["complete", "failed", "running"]
    num_tasks: int
    #: Task attempts that ended (TaskEnd events).
    tasks_ended: int
    #: A finding names this stage.
    flagged: bool


@dataclass(frozen=True, slots=True)
class StageTimeline:
    window: TimeWindow
    #: In drawing order: by job (jobs in order of their first stage), then by submission.
    bars: tuple[TimelineBar, ...]
    #: Stage attempts without a submission time, which cannot be placed.
    unplaced: int


@dataclass(frozen=True, slots=True)
class DurationDistribution:
    """Wall times (finish − launch) of every task attempt of one stage, all attempts."""

    stage_id: int
    name: str
    flagged: bool
    #: Bin edges, ``len(counts) + 1`` of them, from the shortest task to the longest.
    edges_ms: tuple[float, ...]
    counts: tuple[int, ...]
    median_ms: float
    p95_ms: float
    max_ms: int

    @property
    def tasks(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class ExecutorChange:
    """Executors added and removed within one time bin."""

    at_ms: int
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Utilisation:
    window: TimeWindow
    #: ``len(task_ms) + 1`` integer bin edges from 0 to the window's span.
    edges_ms: tuple[int, ...]
    #: Task time (ms) spent running within each bin: its mean running tasks × its width.
    task_ms: tuple[int, ...]
    #: Core time (core·ms) the executors alive in each bin offered; None when the log has
    #: no executor with a known core count.
    core_ms: tuple[int, ...] | None
    changes: tuple[ExecutorChange, ...]

    def running_tasks(self) -> tuple[float, ...]:
        """Mean number of running tasks in each bin."""
        return _per_width(self.task_ms, self.edges_ms)

    def cores(self) -> tuple[float, ...] | None:
        """Mean number of available cores in each bin."""
        return None if self.core_ms is None else _per_width(self.core_ms, self.edges_ms)

    @property
    def used_share(self) -> float | None:
        """Task time over core time, over the whole window."""
        if self.core_ms is None or sum(self.core_ms) == 0:
            return None
        return sum(self.task_ms) / sum(self.core_ms)


def time_window(app: Application) -> TimeWindow:
    tasks = app.tasks
    starts = [app.app.start_ms]
    ends = [app.app.end_ms]
    for stage in app.stages:
        starts.append(stage.submitted_ms)
        ends.append(stage.completed_ms)
    for executor in app.executors:
        starts.append(executor.added_ms)
        ends.append(executor.removed_ms)
    if len(tasks):
        starts.append(int(tasks.launch_ms.min()))
        ends.append(int(tasks.finish_ms.max()))
    known_starts = [t for t in starts if t is not None]
    known_ends = [t for t in ends + starts if t is not None]
    if not known_starts:
        return TimeWindow(0, 0)
    origin = min(known_starts)
    return TimeWindow(origin, max(known_ends) - origin)


def stage_timeline(
    app: Application,
    flagged_stage_ids: Collection[int],
    *,
    max_bars: int = TIMELINE_MAX_BARS,
) -> StageTimeline:
    """A row per stage attempt, by job. Past ``max_bars`` attempts, runs of consecutive
    attempts share a row, except flagged and failed ones (up to a quarter of the rows),
    so the rows still cover the whole application."""
    window = time_window(app)
    by_job: dict[int | None, list[StageAttempt]] = {}
    for stage in app.stages:
        if stage.submitted_ms is not None:
            by_job.setdefault(min(stage.job_ids, default=None), []).append(stage)
    for stages in by_job.values():
        stages.sort(key=lambda s: (s.submitted_ms or 0, s.stage_id, s.attempt))
    ordered = [
        s
        for job in sorted(
            by_job, key=lambda j: (by_job[j][0].submitted_ms or 0, -1 if j is None else j)
        )
        for s in by_job[job]
    ]
    unplaced = len(app.stages) - len(ordered)
    if len(ordered) <= max_bars:
        bars = tuple(_bar([s], window, s.stage_id in flagged_stage_ids) for s in ordered)
        return StageTimeline(window, bars, unplaced)
    standouts = sorted(
        (s for s in ordered if s.stage_id in flagged_stage_ids or s.status == "failed"),
        key=lambda s: (
            s.stage_id not in flagged_stage_ids,
            (s.submitted_ms or 0) - _stage_end(s, window),
        ),
    )
    alone = {s.key for s in standouts[: max_bars // 4]}
    # Each standout may cut a run short: one extra row each.
    per_row = -(-(len(ordered) - len(alone)) // (max_bars - 2 * len(alone)))
    result: list[TimelineBar] = []
    run: list[StageAttempt] = []
    for stage in ordered:
        if stage.key not in alone:
            run.append(stage)
        if run and (len(run) == per_row or stage.key in alone):
            result.append(_bar(run, window, False))
            run = []
        if stage.key in alone:
            result.append(_bar([stage], window, stage.stage_id in flagged_stage_ids))
    if run:
        result.append(_bar(run, window, False))
    return StageTimeline(window, tuple(result), unplaced)


def _stage_end(stage: StageAttempt, window: TimeWindow) -> int:
    """Absolute end of an attempt; one still running ends with the window."""
    if stage.completed_ms is not None:
        return stage.completed_ms
    return window.origin_ms + window.span_ms


def _bar(stages: Sequence[StageAttempt], window: TimeWindow, flagged: bool) -> TimelineBar:
    first = stages[0]
    start = min(s.submitted_ms or window.origin_ms for s in stages) - window.origin_ms
    end = max(_stage_end(s, window) for s in stages) - window.origin_ms
    job_ids = [min(s.job_ids) for s in stages if s.job_ids]
    return TimelineBar(
        jobs=(min(job_ids), max(job_ids)) if job_ids else None,
        stage=first.key if len(stages) == 1 else None,
        name=first.name if len(stages) == 1 else "",
        attempts=len(stages),
        start_ms=start,
        end_ms=max(start, end),
        status=_merged_status({s.status for s in stages}),
        num_tasks=sum(s.num_tasks for s in stages),
        tasks_ended=sum(s.task_rows[1] - s.task_rows[0] for s in stages),
        flagged=flagged,
    )


def _merged_status(
    statuses: set[Literal["complete", "failed", "running"]],
) -> Literal["complete", "failed", "running"]:
    if "failed" in statuses:
        return "failed"
    if "running" in statuses:
        return "running"
    return "complete"


def worst_stage_ids(
    app: Application, flagged_stage_ids: Sequence[int], *, limit: int = WORST_STAGES
) -> tuple[int, ...]:
    """The stages whose task durations are worth a picture: those findings name (in their
    order), else the longest stages that ran tasks."""
    with_tasks: dict[int, int] = {}
    for stage in app.stages:
        if stage.task_rows[1] > stage.task_rows[0]:
            duration = stage.duration_ms or 0
            with_tasks[stage.stage_id] = max(with_tasks.get(stage.stage_id, 0), duration)
    flagged = [s for s in dict.fromkeys(flagged_stage_ids) if s in with_tasks]
    if flagged:
        return tuple(flagged[:limit])
    longest = sorted(with_tasks, key=lambda s: (-with_tasks[s], s))
    return tuple(longest[:limit])


def task_duration_distribution(
    app: Application, stage_id: int, *, flagged: bool = False, bins: int = HISTOGRAM_BINS
) -> DurationDistribution | None:
    """The histogram of one stage's task durations (None when it ran no task)."""
    attempts = [s for s in app.stages if s.stage_id == stage_id]
    parts = [app.stage_tasks(s).duration_ms for s in attempts]
    durations = np.concatenate(parts) if parts else np.empty(0, np.int64)
    if durations.size == 0:
        return None
    low, high = int(durations.min()), int(durations.max())
    counts, edges = np.histogram(durations, bins=bins if high > low else 1, range=(low, high))
    return DurationDistribution(
        stage_id=stage_id,
        name=attempts[0].name,
        flagged=flagged,
        edges_ms=tuple(float(e) for e in edges),
        counts=tuple(int(c) for c in counts),
        median_ms=float(np.median(durations)),
        p95_ms=float(np.percentile(durations, 95)),
        max_ms=high,
    )


def executor_utilisation(app: Application, *, bins: int = UTILISATION_BINS) -> Utilisation:
    """Running tasks against available cores over the application, in time bins.

    The task time of a bin is exact: the integral of the running-task count over the
    bin, from prefix sums over sorted launch and finish times.
    """
    window = time_window(app)
    edges = np.unique(np.linspace(0, window.span_ms, bins + 1).round().astype(np.int64))
    if edges.size < 2:
        edges = np.array([0, max(window.span_ms, 1)], np.int64)
    tasks = app.tasks
    launch = tasks.launch_ms - window.origin_ms
    finish = np.maximum(tasks.finish_ms - window.origin_ms, launch)
    task_ms = np.diff(_running_integral(launch, finish, np.ones_like(launch), edges))
    known = [e for e in app.executors if e.cores is not None]
    core_ms: npt.NDArray[np.int64] | None = None
    if known:
        end = window.span_ms
        added = np.array(
            [0 if e.added_ms is None else e.added_ms - window.origin_ms for e in known], np.int64
        )
        removed = np.array(
            [end if e.removed_ms is None else e.removed_ms - window.origin_ms for e in known],
            np.int64,
        )
        cores = np.array([e.cores for e in known], np.int64)
        core_ms = np.diff(_running_integral(added, np.maximum(removed, added), cores, edges))
    return Utilisation(
        window=window,
        edges_ms=tuple(int(e) for e in edges),
        task_ms=tuple(int(v) for v in task_ms),
        core_ms=None if core_ms is None else tuple(int(v) for v in core_ms),
        changes=_executor_changes(app, window, edges),
    )


def _running_integral(
    starts: npt.NDArray[np.int64],
    stops: npt.NDArray[np.int64],
    weights: npt.NDArray[np.int64],
    at: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """For each x in ``at``: ∫ from −∞ to x of Σ weightᵢ·[startᵢ ≤ t < stopᵢ] dt, which is
    Σ weightᵢ·(max(x − startᵢ, 0) − max(x − stopᵢ, 0))."""
    return _ramp_sum(starts, weights, at) - _ramp_sum(stops, weights, at)


def _ramp_sum(
    points: npt.NDArray[np.int64], weights: npt.NDArray[np.int64], at: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Σ weightᵢ·max(x − pointᵢ, 0) for each x in ``at``."""
    order = np.argsort(points, kind="stable")
    sorted_points = points[order]
    sorted_weights = weights[order]
    weight_sum = np.concatenate(([0], np.cumsum(sorted_weights)))
    moment_sum = np.concatenate(([0], np.cumsum(sorted_weights * sorted_points)))
    below = np.searchsorted(sorted_points, at, side="right")
    result: npt.NDArray[np.int64] = at * weight_sum[below] - moment_sum[below]
    return result


def _executor_changes(
    app: Application, window: TimeWindow, edges: npt.NDArray[np.int64]
) -> tuple[ExecutorChange, ...]:
    by_bin: dict[int, tuple[list[str], list[str]]] = {}
    for executor in app.executors:
        for when, side in ((executor.added_ms, 0), (executor.removed_ms, 1)):
            if when is None:
                continue
            at = when - window.origin_ms
            index = int(np.clip(np.searchsorted(edges, at, side="right") - 1, 0, edges.size - 2))
            by_bin.setdefault(index, ([], []))[side].append(executor.id)
    return tuple(
        ExecutorChange(int(edges[i]), tuple(added), tuple(removed))
        for i, (added, removed) in sorted(by_bin.items())
    )


def _per_width(values: Sequence[int], edges: Sequence[int]) -> tuple[float, ...]:
    return tuple(v / max(edges[i + 1] - edges[i], 1) for i, v in enumerate(values))
