"""What-if simulator: the recorded tasks replayed through a model of Spark's task scheduler.

The replay keeps everything the log says the driver did and changes only what a setting
would change:

- **Driver time** is kept as recorded: application start to the first job, the gap
  between a job and the driver event that preceded it (a previous job's start or end),
  the delay between a stage becoming runnable (its parents done) and its submission,
  and the tail after the last job.
- **Task slots** are executors × (cores ÷ ``spark.task.cpus``), each slot usable from
  its executor's recorded start to its removal. A what-if executor or core count
  replaces them by that many static executors, started when the recorded ones were.
- **Tasks** keep their recorded durations and are handed to free slots in Spark's FIFO
  order (job, then stage), a stage only once its parents are done.
- **Shuffle partitions**: the stages whose task count ``spark.sql.shuffle.partitions``
  sets (SQL stages reading a shuffle, with as many tasks as partitions, or fewer when
  AQE coalesced) are re-cut into the what-if count. Each task costs a fixed overhead
  learned from the log plus work proportional to its bytes: the stage's own fixed cost
  where its tasks show it (:func:`stage_task_cost_ms`: many tasks reading next to
  nothing), else what any task costs (:func:`task_overhead_ms`);
  a partition holding a hot key (over 5× the median, Spark's skewedPartitionFactor)
  keeps its excess in one task, since re-hashing cannot split a key.
- **Cold starts**: each executor's first task also loads classes and warms the JIT
  (:func:`executor_cold_start_ms`). A what-if with fewer executors than ran tasks keeps
  only that many cold starts, the earliest; the later first tasks run warm.

A task's duration is assumed not to depend on how many tasks run beside it: true while
tasks do not contend for CPU, disk or network. At the recorded configuration the replay
must reproduce the recorded wall time; :attr:`SimulationResult.self_check_error_pct`
says how closely it does.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import BadInputError, UsageError
from ..model import Application, StageAttempt, TaskOutcome

#: Spark's ``spark.sql.adaptive.skewJoin.skewedPartitionFactor``: a partition this many
#: times the median holds a hot key.
HOT_PARTITION_FACTOR = 5
#: ``spark.sql.shuffle.partitions`` when the log does not set it.
DEFAULT_SHUFFLE_PARTITIONS = 200
#: ``spark.sql.adaptive.advisoryPartitionSizeInBytes`` when the log does not set it.
DEFAULT_ADVISORY_BYTES = 64 << 20
#: Tasks that read nothing, or the scheduler's own share of every task, cost at least
#: this much in any Spark deployment (task launch RPC, deserialization, status update).
MIN_TASK_OVERHEAD_MS = 5.0
#: A stage's tasks show its fixed cost when at least this many ran past each executor's
#: first (which pays class loading and code generation once)...
STAGE_COST_MIN_TASKS = 20
#: ...and they read at most this much each: work on 256 KiB is a few milliseconds at
#: the tens of MB/s a core shuffles, aggregates and writes, so the fastest tasks'
#: duration is nearly all fixed cost (opening and committing output, fetch requests).
STAGE_COST_MAX_TASK_BYTES = 256 << 10
#: No SQL task processes shuffle data slower than this per core (Python UDFs included
#: run at MB/s): time tiny tasks spend beyond it is not work on their bytes but waiting
#: (for the driver that launches thousands of them, for a core), and goes with them.
MIN_SHUFFLE_BYTES_PER_S = 100 << 10
#: The fixed cost is read at this quantile of those tasks' durations: low enough to
#: leave out tasks slowed by contention or GC, high enough not to be a lucky outlier.
STAGE_COST_QUANTILE = 10

_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """The settings the simulator can change."""

    executors: int
    cores_per_executor: int
    shuffle_partitions: int


@dataclass(frozen=True, slots=True)
class WhatIf:
    """Settings to simulate; ``None`` keeps the recorded value."""

    executors: int | None = None
    cores_per_executor: int | None = None
    shuffle_partitions: int | None = None

    def __post_init__(self) -> None:
        for name in ("executors", "cores_per_executor", "shuffle_partitions"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(
                    f"what-if {name.replace('_', ' ')} must be at least 1, not {value}"
                )

    def applied_to(self, recorded: ClusterConfig) -> ClusterConfig:
        return ClusterConfig(
            executors=self.executors or recorded.executors,
            cores_per_executor=self.cores_per_executor or recorded.cores_per_executor,
            shuffle_partitions=self.shuffle_partitions or recorded.shuffle_partitions,
        )


@dataclass(frozen=True, slots=True)
class SimulationResult:
    recorded: ClusterConfig
    simulated: ClusterConfig
    recorded_wall_ms: int
    #: The replay at the recorded configuration (the self-check).
    replayed_wall_ms: int
    #: The replay at the what-if configuration.
    wall_ms: int
    #: No schedule can beat this: the longer of the critical path with unlimited slots
    #: and driver-only time + all task time ÷ slots.
    lower_bound_ms: int
    #: Stages whose completion, one after another, set the simulated wall time.
    critical_path_stage_ids: tuple[int, ...]
    task_overhead_ms: float
    tasks_simulated: int
    #: Simulated time when no stage was runnable or running (the driver alone).
    driver_only_ms: int
    #: The same in the replay at the recorded configuration.
    replayed_driver_only_ms: int

    @property
    def corrected_wall_ms(self) -> int:
        """The what-if's wall time corrected by the replay's own error at the recorded
        configuration. Driver time is replayed as recorded, so that error lies in the
        time stages ran: the what-if's stage time is scaled by recorded ÷ replayed stage
        time and its driver time kept (scaling the whole run would also shrink or stretch
        the application's start-up by the stages' error)."""
        replayed_stages = self.replayed_wall_ms - self.replayed_driver_only_ms
        recorded_stages = self.recorded_wall_ms - self.replayed_driver_only_ms
        if replayed_stages <= 0 or recorded_stages <= 0:
            return self.wall_ms
        what_if_stages = self.wall_ms - self.driver_only_ms
        return round(self.driver_only_ms + what_if_stages * recorded_stages / replayed_stages)

    @property
    def self_check_error_pct(self) -> float:
        """Replay at the recorded configuration vs the recorded wall time, in %."""
        if self.recorded_wall_ms <= 0:
            return 0.0
        return 100.0 * (self.replayed_wall_ms - self.recorded_wall_ms) / self.recorded_wall_ms


# ---------------------------------------------------------------- recorded configuration


def _conf_int(app: Application, key: str) -> int | None:
    try:
        return int(float(app.spark_conf[key]))
    except (KeyError, ValueError):
        return None


def size_bytes(value: str | None) -> int | None:
    """Bytes of a Spark size string (``"4g"``, ``"512m"``, ``"64MB"``, ``"1048576"``)."""
    if not value:
        return None
    text = value.strip().lower().removesuffix("ib").removesuffix("b")
    unit = text[-1:] if text[-1:].isalpha() else ""
    try:
        return int(float(text[: len(text) - len(unit)]) * _SIZE_UNITS[unit])
    except (KeyError, ValueError):
        return None


def task_cpus(app: Application) -> int:
    return max(1, _conf_int(app, "spark.task.cpus") or 1)


def shuffle_partitions(app: Application) -> int:
    """``spark.sql.shuffle.partitions`` as the application set it (its properties, else
    the first SQL execution that modified it, else Spark's default)."""
    value = app.spark_conf.get("spark.sql.shuffle.partitions")
    if value is None:
        value = next(
            (
                q.modified_configs["spark.sql.shuffle.partitions"]
                for q in app.sql_executions
                if "spark.sql.shuffle.partitions" in q.modified_configs
            ),
            None,
        )
    try:
        return max(1, int(value)) if value is not None else DEFAULT_SHUFFLE_PARTITIONS
    except ValueError:
        return DEFAULT_SHUFFLE_PARTITIONS


def aqe_enabled(app: Application) -> bool:
    """``spark.sql.adaptive.enabled``, on by default from Spark 3.2."""
    version = tuple(int(p) for p in (app.app.spark_version or "0.0").split(".")[:2] if p.isdigit())
    default = "true" if version >= (3, 2) else "false"
    return app.spark_conf.get("spark.sql.adaptive.enabled", default).strip().lower() == "true"


def aqe_coalesces(app: Application) -> bool:
    """Whether AQE could coalesce shuffle partitions."""
    coalesce = app.spark_conf.get("spark.sql.adaptive.coalescePartitions.enabled", "true")
    return aqe_enabled(app) and coalesce.strip().lower() == "true"


@dataclass(frozen=True, slots=True)
class _Slots:
    """When each task slot can take tasks, in ms since the application started."""

    start_ms: tuple[float, ...]
    end_ms: tuple[float, ...]


def _app_start(app: Application) -> int:
    if app.app.start_ms is not None:
        return app.app.start_ms
    starts = [j.submitted_ms for j in app.jobs if j.submitted_ms is not None]
    if len(app.tasks):
        starts.append(int(app.tasks.launch_ms.min()))
    return min(starts) if starts else 0


def _worker_executors(app: Application) -> list[tuple[float, float, int]]:
    """(added, removed, cores) of the executors that run tasks, relative to app start:
    every worker executor, and the driver when tasks ran on it (local mode). An executor
    that ran tasks before its logged start counts from its first task; one that ran
    tasks without being logged at all (Spark 1.x local mode) gets as many cores as tasks
    ever ran at once."""
    start = _app_start(app)
    default_cores = _conf_int(app, "spark.executor.cores") or 1
    tasks = app.tasks
    first_launch = {
        app.executor_ids[code]: int(tasks.launch_ms[tasks.executor == code].min()) - start
        for code in np.unique(tasks.executor)
    }
    out = [
        (
            max(0, min((e.added_ms or start) - start, first_launch.get(e.id, math.inf))),
            math.inf if e.removed_ms is None else e.removed_ms - start,
            e.cores or default_cores,
        )
        for e in app.executors
        if e.id != "driver" or e.id in first_launch
    ]
    listed = {e.id for e in app.executors}
    out.extend(
        (max(0, launch), math.inf, max(1, _peak_concurrency(app)))
        for executor_id, launch in first_launch.items()
        if executor_id not in listed
    )
    return out


def _peak_concurrency(app: Application) -> int:
    tasks = app.tasks
    if not len(tasks):
        return 0
    times = np.concatenate([tasks.launch_ms, tasks.finish_ms])
    # Ends sort before starts at the same millisecond: a slot handed straight on is one.
    steps = np.concatenate([np.ones(len(tasks), np.int64), -np.ones(len(tasks), np.int64)])
    return int(np.cumsum(steps[np.lexsort((steps, times))]).max())


def recorded_config(app: Application) -> ClusterConfig:
    """Executors (the most alive at once), their median cores, and shuffle partitions."""
    executors = _worker_executors(app)
    changes = sorted(
        [(added, 1) for added, _, _ in executors]
        + [(removed, -1) for _, removed, _ in executors if removed != math.inf]
    )
    alive = peak = 0
    for _, step in changes:
        alive += step
        peak = max(peak, alive)
    return ClusterConfig(
        executors=max(1, peak),
        cores_per_executor=max(1, int(np.median([cores for _, _, cores in executors]))),
        shuffle_partitions=shuffle_partitions(app),
    )


def _slots(app: Application, recorded: ClusterConfig, config: ClusterConfig) -> _Slots:
    executors = _worker_executors(app)
    cpus = task_cpus(app)
    if (config.executors, config.cores_per_executor) == (
        recorded.executors,
        recorded.cores_per_executor,
    ):
        pool = [(a, r, max(1, c // cpus)) for a, r, c in executors]
    else:
        # Static executors, the k-th started when the k-th recorded one was.
        added = sorted(a for a, _, _ in executors)
        per = max(1, config.cores_per_executor // cpus)
        pool = [(added[min(k, len(added) - 1)], math.inf, per) for k in range(config.executors)]
    starts: list[float] = []
    ends: list[float] = []
    for added_ms, removed_ms, slots in pool:
        starts.extend([added_ms] * slots)
        ends.extend([removed_ms] * slots)
    return _Slots(tuple(starts), tuple(ends))


# ---------------------------------------------------------------- per-task overhead


def _first_on_executor(launch_ms: np.ndarray, executor: np.ndarray) -> np.ndarray:
    """Each executor's earliest task among these: it also pays class loading and JIT."""
    first = np.zeros(len(launch_ms), np.bool_)
    if not len(launch_ms):
        return first
    # By executor, then launch time (stable: the lowest row wins a tie); each
    # executor's run of rows starts with its first task.
    order = np.lexsort((launch_ms, executor))
    by_executor = executor[order]
    first[order[np.r_[True, by_executor[1:] != by_executor[:-1]]]] = True
    return first


def task_overhead_ms(app: Application) -> float:
    """What one more task costs whatever its data, learned from the log.

    Tasks that read nothing measure it directly (launch, deserialization, an empty
    iterator, result and status): their median duration, leaving out each executor's
    first task, which also pays for class loading and JIT. Without such tasks, the part
    of every task spent outside its run time (scheduler delay, deserialization, result
    serialization and fetch) is the estimate.
    """
    tasks = app.tasks
    ok = tasks.outcome == TaskOutcome.SUCCESS
    if not ok.any():
        return MIN_TASK_OVERHEAD_MS
    first = _first_on_executor(tasks.launch_ms, tasks.executor)
    reads = tasks.input_bytes + tasks.shuffle_read_bytes
    empty = ok & ~first & (reads == 0) & (tasks.shuffle_write_bytes == 0)
    if empty.any():
        overhead = float(np.median(tasks.duration_ms[empty]))
    else:
        outside_run = tasks.duration_ms[ok] - tasks.run_ms[ok]
        overhead = float(np.median(np.clip(outside_run, 0, None)))
    return max(MIN_TASK_OVERHEAD_MS, overhead)


def executor_cold_start_ms(app: Application) -> float:
    """What an executor's first task costs beyond a warm one, learned from the log.

    Each first task is set against the warm tasks of its stage, or, for a stage with
    none (one task a job), of the stages with the same name (the same call site); the
    median of those differences over the executors is the cold start. One number, not
    each first task's own excess: a first task that also drew a big partition would
    otherwise count its data as start-up.
    """
    tasks = app.tasks
    ok = tasks.outcome == TaskOutcome.SUCCESS
    first = _first_on_executor(tasks.launch_ms, tasks.executor)
    cold, warm = ok & first, ok & ~first
    duration = tasks.duration_ms
    warm_of_stage = [duration[lo:hi][warm[lo:hi]] for lo, hi in (s.task_rows for s in app.stages)]
    warm_of_site: dict[str, list[np.ndarray]] = {}
    for stage, peers in zip(app.stages, warm_of_stage, strict=True):
        warm_of_site.setdefault(stage.name, []).append(peers)
    site_median = {
        name: float(np.median(np.concatenate(parts)))
        for name, parts in warm_of_site.items()
        if sum(len(p) for p in parts)
    }
    excess: list[float] = []
    for stage, peers in zip(app.stages, warm_of_stage, strict=True):
        lo, hi = stage.task_rows
        firsts = duration[lo:hi][cold[lo:hi]]
        if not len(firsts):
            continue
        typical = float(np.median(peers)) if len(peers) else site_median.get(stage.name)
        if typical is not None:
            excess.extend(float(d) - typical for d in firsts)
    return max(0.0, float(np.median(excess))) if excess else 0.0


def stage_task_cost_ms(app: Application, stage: StageAttempt) -> float | None:
    """The fixed cost of one task of this stage, when its tasks show it, else None.

    A task that writes files or shuffle output pays more than one that reads nothing:
    it opens and commits its output and sends fetch requests. Where the stage ran many
    tasks reading next to nothing, their low quantile is that cost (see the
    ``STAGE_COST_*`` constants); a stage of few or large tasks cannot tell fixed cost
    from work, and the caller falls back to :func:`task_overhead_ms`.
    """
    tasks = app.stage_tasks(stage)
    steady = (tasks.outcome == TaskOutcome.SUCCESS) & ~_first_on_executor(
        tasks.launch_ms, tasks.executor
    )
    if int(steady.sum()) < STAGE_COST_MIN_TASKS:
        return None
    reads = (tasks.input_bytes + tasks.shuffle_read_bytes)[steady]
    if float(np.median(reads)) > STAGE_COST_MAX_TASK_BYTES:
        return None
    return float(np.percentile(tasks.duration_ms[steady], STAGE_COST_QUANTILE))


# ---------------------------------------------------------------- the replayed DAG


@dataclass(frozen=True, slots=True)
class _Node:
    """A stage attempt to replay."""

    stage: StageAttempt
    job: int | None
    deps: tuple[int, ...]
    #: Driver time from runnable (parents done, job submitted) to submission.
    delay_ms: int
    #: Driver time from the last task's end to the stage's completion.
    tail_ms: int
    durations: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class _JobPlan:
    """A job anchored on the driver event that preceded it (None: application start)."""

    index: int
    anchor: tuple[str, int] | None
    gap_ms: int
    tail_ms: int
    nodes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    nodes: tuple[_Node, ...]
    jobs: tuple[_JobPlan, ...]
    #: Orphan stages (no known job) become runnable at this offset from app start.
    orphan_ready_ms: dict[int, int]
    #: Driver time after the last job (or stage) until the application ended.
    end_tail_ms: int


def recorded_wall_ms(app: Application) -> int:
    """Application end − start; for a log with no end, up to the last task or job end."""
    if app.app.duration_ms is not None:
        return app.app.duration_ms
    ends = [j.completed_ms for j in app.jobs if j.completed_ms is not None]
    if len(app.tasks):
        ends.append(int(app.tasks.finish_ms.max()))
    return max(0, max(ends) - _app_start(app)) if ends else 0


def _plan(app: Application) -> _Plan:
    start = _app_start(app)
    jobs = sorted(
        (j for j in app.jobs if j.submitted_ms is not None),
        key=lambda j: (j.submitted_ms or 0, j.id),
    )
    job_index = {j.id: i for i, j in enumerate(jobs)}
    stages = sorted(
        (s for s in app.stages if s.submitted_ms is not None or s.task_rows[1] > s.task_rows[0]),
        key=lambda s: (s.submitted_ms or 0, s.stage_id, s.attempt),
    )
    tasks = app.tasks
    wall = recorded_wall_ms(app)

    def within(t: int) -> int:
        """A time clamped into the application's span (some logs carry broken clocks)."""
        return min(max(t, start), start + wall)

    node_of_stage: dict[int, int] = {}  # stage id → latest attempt's node so far
    completed: list[int] = []
    nodes: list[_Node] = []
    for s in stages:
        lo, hi = s.task_rows
        order = np.argsort(tasks.launch_ms[lo:hi], kind="stable")
        durations = np.clip(tasks.duration_ms[lo:hi][order], 0, None)
        last_finish = within(int(tasks.finish_ms[lo:hi].max())) if hi > lo else None
        submitted = within(
            s.submitted_ms if s.submitted_ms is not None else int(tasks.launch_ms[lo:hi].min())
        )
        finished = max(submitted, within(s.completed_ms or last_finish or submitted))
        owner = min((job_index[j] for j in s.job_ids if j in job_index), default=None)
        deps = tuple(
            node_of_stage[p]
            for p in (*s.parent_ids, s.stage_id)
            if p in node_of_stage and completed[node_of_stage[p]] <= submitted
        )
        # Orphan stages (no known job, e.g. Spark 1.x jobs without submission times)
        # are placed at their recorded submission unless a parent holds them.
        runnable = max(
            [completed[d] for d in deps]
            + ([within(jobs[owner].submitted_ms or start)] if owner is not None else [])
            or [submitted]
        )
        nodes.append(
            _Node(
                stage=s,
                job=owner,
                deps=deps,
                delay_ms=max(0, submitted - runnable),
                tail_ms=max(0, finished - last_finish) if last_finish is not None else 0,
                durations=tuple(float(d) for d in durations),
            )
        )
        completed.append(finished)
        node_of_stage[s.stage_id] = len(nodes) - 1
    plans = []
    for i, job in enumerate(jobs):
        submitted = within(job.submitted_ms or start)
        anchor: tuple[str, int] | None = None
        anchor_ms = start
        for k, other in enumerate(jobs[:i]):
            other_submitted = within(other.submitted_ms or start)
            if other_submitted >= anchor_ms:
                anchor, anchor_ms = ("submit", k), other_submitted
            other_completed = within(other.completed_ms or start + wall)
            if anchor_ms <= other_completed <= submitted:
                anchor, anchor_ms = ("end", k), other_completed
        mine = tuple(n for n, node in enumerate(nodes) if node.job == i)
        last_stage = max((completed[n] for n in mine), default=submitted)
        plans.append(
            _JobPlan(
                index=i,
                anchor=anchor,
                gap_ms=max(0, submitted - anchor_ms),
                tail_ms=max(0, within(job.completed_ms or last_stage) - last_stage),
                nodes=mine,
            )
        )
    orphans = {
        n: within(node.stage.submitted_ms or start) - start
        for n, node in enumerate(nodes)
        if node.job is None
    }
    ends = [within(j.completed_ms) for j in jobs if j.completed_ms is not None] + completed
    last = max(ends) if ends else start
    return _Plan(
        nodes=tuple(nodes),
        jobs=tuple(plans),
        orphan_ready_ms=orphans,
        end_tail_ms=max(0, start + wall - last),
    )


# ---------------------------------------------------------------- partition what-if


def _governed_by_shuffle_partitions(
    app: Application, stage: StageAttempt, partitions: int, coalescing: bool
) -> bool:
    if stage.sql_id is None:
        return False
    tasks = app.stage_tasks(stage)
    read = int(tasks.shuffle_read_bytes.sum())
    if read == 0 or read < int(tasks.input_bytes.sum()):
        return False
    return stage.num_tasks == partitions or (coalescing and stage.num_tasks < partitions)


def _recut(
    durations: np.ndarray, read_bytes: np.ndarray, count: int, overhead_ms: float
) -> tuple[float, ...]:
    """The stage's work re-cut into ``count`` tasks by bytes, hot keys kept whole; work is
    at most what the bytes take at ``MIN_SHUFFLE_BYTES_PER_S``."""
    work = np.clip(durations - overhead_ms, 0, None)
    weight = read_bytes.astype(np.float64) if read_bytes.sum() > 0 else work
    total_weight = float(weight.sum())
    if total_weight <= 0:
        return (overhead_ms,) * count
    hot = np.clip(weight - HOT_PARTITION_FACTOR * float(np.median(weight)), 0, None)
    shares = np.full(count, (total_weight - float(hot.sum())) / count)
    for rank, excess in enumerate(sorted(hot[hot > 0], reverse=True)):
        shares[rank % count] += excess
    rate = float(work.sum()) / total_weight
    if read_bytes.sum() > 0:
        rate = min(rate, 1000 / MIN_SHUFFLE_BYTES_PER_S)
    return tuple(float(overhead_ms + rate * s) for s in shares)


def _with_partitions(
    app: Application,
    plan: _Plan,
    *,
    recorded: int,
    wanted: int,
    overhead_ms: float,
    overhead_scale: float,
) -> _Plan:
    if wanted == recorded:
        return plan
    coalescing = aqe_coalesces(app)
    advisory = (
        size_bytes(app.spark_conf.get("spark.sql.adaptive.advisoryPartitionSizeInBytes"))
        or DEFAULT_ADVISORY_BYTES
    )
    nodes = list(plan.nodes)
    for n, node in enumerate(nodes):
        stage = node.stage
        if not _governed_by_shuffle_partitions(app, stage, recorded, coalescing):
            continue
        tasks = app.stage_tasks(stage)
        order = np.argsort(tasks.launch_ms, kind="stable")
        read = tasks.shuffle_read_bytes[order]
        count = wanted
        if coalescing:
            # AQE merges small partitions towards the advisory size: it would again
            # where it already did, and would stop at that size with more partitions.
            by_size = math.ceil(int(read.sum()) / advisory)
            coalesced = stage.num_tasks < recorded
            count = min(wanted, stage.num_tasks if coalesced else max(stage.num_tasks, by_size))
        if count == len(node.durations):
            continue
        durations = np.asarray(node.durations)
        stage_cost = stage_task_cost_ms(app, stage)
        cost = overhead_scale * max(overhead_ms, stage_cost or 0.0)
        nodes[n] = replace(node, durations=_recut(durations, read, max(1, count), cost))
    return replace(plan, nodes=tuple(nodes))


def _with_executors(app: Application, plan: _Plan, executors: int, overhead_ms: float) -> _Plan:
    """``executors`` static executors start cold once each: of the recorded executors'
    first tasks, those after the earliest ``executors`` run warm (never shorter than a
    task's fixed cost)."""
    tasks = app.tasks
    first_rows = np.flatnonzero(_first_on_executor(tasks.launch_ms, tasks.executor))
    warmed = first_rows[np.argsort(tasks.launch_ms[first_rows], kind="stable")][executors:]
    cold_start = executor_cold_start_ms(app)
    if not len(warmed) or cold_start <= 0:
        return plan
    nodes = list(plan.nodes)
    for n, node in enumerate(nodes):
        lo, hi = node.stage.task_rows
        mine = warmed[(warmed >= lo) & (warmed < hi)]
        if not len(mine):
            continue
        position = np.argsort(np.argsort(tasks.launch_ms[lo:hi], kind="stable"))
        durations = list(node.durations)
        for row in mine:
            at = int(position[row - lo])
            durations[at] = min(durations[at], max(durations[at] - cold_start, overhead_ms))
        nodes[n] = replace(node, durations=tuple(durations))
    return replace(plan, nodes=tuple(nodes))


# ---------------------------------------------------------------- the event-driven replay


@dataclass(frozen=True, slots=True)
class _Replay:
    wall_ms: float
    node_done: tuple[float, ...]
    #: For each node, the node whose completion made it runnable (-1: a driver event).
    binding: tuple[int, ...]
    #: For each job, the node whose completion ended it (-1: none).
    job_last_node: tuple[int, ...]
    #: Time no stage was runnable or running: the driver working alone.
    driver_only_ms: float


def _replay(plan: _Plan, slots: _Slots | None) -> _Replay:  # noqa: PLR0912, PLR0915 - one event loop
    """Discrete-event replay; ``slots=None`` means unlimited slots (the critical path)."""
    nodes, jobs = plan.nodes, plan.jobs
    n_nodes = len(nodes)
    waiting = [len(node.deps) for node in nodes]
    dependents: list[list[int]] = [[] for _ in nodes]
    for n, node in enumerate(nodes):
        for d in node.deps:
            dependents[d].append(n)
    job_submit: list[float | None] = [None] * len(jobs)
    job_end: list[float | None] = [None] * len(jobs)
    job_open = [len(job.nodes) for job in jobs]
    job_last = [-1] * len(jobs)
    anchored: dict[tuple[str, int] | None, list[int]] = {}
    for job in jobs:
        anchored.setdefault(job.anchor, []).append(job.index)
    node_done = [math.inf] * n_nodes
    node_ready_at = [math.inf] * n_nodes
    node_ready_dep = [-1] * n_nodes
    left = [len(node.durations) for node in nodes]
    next_task = [0] * n_nodes

    events: list[tuple[float, int, int, int, int]] = []  # time, kind, seq, a, b
    seq = 0

    def push(time: float, kind: int, a: int, b: int = 0) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (time, kind, seq, a, b))

    # Event kinds, in the order they resolve at equal times.
    task_end, node_end, job_done, job_start, node_ready, slot_open = range(6)
    for j in anchored.get(None, []):
        push(jobs[j].gap_ms, job_start, j)
    for n, ready in plan.orphan_ready_ms.items():
        if not nodes[n].deps:
            push(ready + nodes[n].delay_ms, node_ready, n)
    free: list[int] = []
    # Slots not retired yet. The last one never is: a replay running later than the
    # recording must not strand tasks after the recorded executors left.
    open_slots = len(slots.start_ms) if slots is not None else 0
    if slots is not None:
        for s, begin in enumerate(slots.start_ms):
            push(begin, slot_open, s)
    runnable: list[tuple[int, int, int]] = []  # (job, stage id, node)

    def make_ready(n: int) -> None:
        node = nodes[n]
        submitted = -math.inf if node.job is None else job_submit[node.job]
        if submitted is None:
            return  # its job's submission will make it ready
        deps_done = max((node_done[d] for d in node.deps), default=-math.inf)
        if node.deps and deps_done >= submitted:
            node_ready_dep[n] = max(node.deps, key=lambda d: node_done[d])
        push(max(deps_done, submitted) + node.delay_ms, node_ready, n)

    def finish_node(n: int, now: float) -> None:
        push(now + nodes[n].tail_ms, node_end, n)

    def start_job(j: int, now: float) -> None:
        job_submit[j] = now
        for follower in anchored.get(("submit", j), []):
            push(now + jobs[follower].gap_ms, job_start, follower)
        if not jobs[j].nodes:
            push(now + jobs[j].tail_ms, job_done, j)
        for n in jobs[j].nodes:
            if waiting[n] == 0:
                make_ready(n)

    while events:
        now, kind, _, a, b = heapq.heappop(events)
        if kind == slot_open:
            heapq.heappush(free, a)
        elif kind == task_end:
            left[a] -= 1
            if slots is not None:
                if now < slots.end_ms[b] or open_slots == 1:
                    heapq.heappush(free, b)
                else:
                    open_slots -= 1
            if left[a] == 0:
                finish_node(a, now)
        elif kind == node_end:
            node_done[a] = now
            for m in dependents[a]:
                waiting[m] -= 1
                if waiting[m] == 0:
                    make_ready(m)
            owner = nodes[a].job
            if owner is not None:
                job_open[owner] -= 1
                job_last[owner] = a
                if job_open[owner] == 0:
                    push(now + jobs[owner].tail_ms, job_done, owner)
        elif kind == job_done:
            job_end[a] = now
            for follower in anchored.get(("end", a), []):
                push(now + jobs[follower].gap_ms, job_start, follower)
        elif kind == job_start:
            start_job(a, now)
        elif kind == node_ready:
            node_ready_at[a] = now
            if left[a] == 0:
                finish_node(a, now)
            elif slots is None:
                for duration in nodes[a].durations:
                    push(now + duration, task_end, a, -1)
            else:
                owner = nodes[a].job
                order = (n_nodes if owner is None else owner, nodes[a].stage.stage_id, a)
                heapq.heappush(runnable, order)
        # Hand free slots to runnable tasks, FIFO by job then stage.
        while slots is not None and free and runnable:
            slot = heapq.heappop(free)
            if now >= slots.end_ms[slot] and open_slots > 1:
                open_slots -= 1
                continue
            n = runnable[0][2]
            push(now + nodes[n].durations[next_task[n]], task_end, n, slot)
            next_task[n] += 1
            if next_task[n] == len(nodes[n].durations):
                heapq.heappop(runnable)

    if any(math.isinf(d) for d in node_done) or any(e is None for e in job_end):
        raise BadInputError("<simulation>", "stages wait on stages that never complete")
    last_end = max([e for e in job_end if e is not None] + node_done, default=0.0)
    wall = last_end + plan.end_tail_ms
    busy = covered_until = 0.0
    for ready_at, done_at in sorted(zip(node_ready_at, node_done, strict=True)):
        busy += max(0.0, done_at - max(ready_at, covered_until))
        covered_until = max(covered_until, done_at)
    return _Replay(
        wall_ms=wall,
        node_done=tuple(node_done),
        binding=tuple(node_ready_dep),
        job_last_node=tuple(job_last),
        driver_only_ms=wall - busy,
    )


def _critical_path(plan: _Plan, replay: _Replay) -> tuple[int, ...]:
    """Back from the stage that ended last, through what made each stage runnable: its
    last parent, else the job that the driver waited for before submitting its job."""
    if not replay.node_done:
        return ()
    job_of_last = {j.index: replay.job_last_node[j.index] for j in plan.jobs}
    n = max(range(len(plan.nodes)), key=lambda i: replay.node_done[i])
    path: list[int] = []
    seen: set[int] = set()
    while n >= 0 and n not in seen:
        seen.add(n)
        path.append(plan.nodes[n].stage.stage_id)
        if replay.binding[n] >= 0:
            n = replay.binding[n]
            continue
        job = plan.nodes[n].job
        anchor = plan.jobs[job].anchor if job is not None else None
        while anchor is not None and anchor[0] == "submit":
            anchor = plan.jobs[anchor[1]].anchor
        n = job_of_last.get(anchor[1], -1) if anchor is not None else -1
    return tuple(reversed(path))


def simulate(
    app: Application, what_if: WhatIf | None = None, overhead_scale: float = 1.0
) -> SimulationResult:
    """Replay the application at its recorded configuration and at ``what_if``;
    ``overhead_scale`` multiplies every per-task fixed cost learned from the log."""
    if not len(app.tasks):
        raise BadInputError(app.source.path, "the log has no task events: nothing to simulate")
    recorded = recorded_config(app)
    config = (what_if or WhatIf()).applied_to(recorded)
    overhead = task_overhead_ms(app)
    base_plan = _plan(app)
    baseline = _replay(base_plan, _slots(app, recorded, recorded))
    plan = base_plan
    if config.executors < recorded.executors:
        plan = _with_executors(app, plan, config.executors, overhead)
    plan = _with_partitions(
        app,
        plan,
        recorded=recorded.shuffle_partitions,
        wanted=config.shuffle_partitions,
        overhead_ms=overhead,
        overhead_scale=overhead_scale,
    )
    slots = _slots(app, recorded, config)
    replay = baseline if (plan is base_plan and config == recorded) else _replay(plan, slots)
    unlimited = _replay(plan, None)
    task_ms = sum(sum(node.durations) for node in plan.nodes)
    work_bound = replay.driver_only_ms + task_ms / max(1, len(slots.start_ms))
    return SimulationResult(
        recorded=recorded,
        simulated=config,
        recorded_wall_ms=recorded_wall_ms(app),
        replayed_wall_ms=round(baseline.wall_ms),
        wall_ms=round(replay.wall_ms),
        lower_bound_ms=round(max(unlimited.wall_ms, work_bound)),
        critical_path_stage_ids=_critical_path(plan, replay),
        task_overhead_ms=overhead,
        tasks_simulated=sum(len(node.durations) for node in plan.nodes),
        driver_only_ms=round(replay.driver_only_ms),
        replayed_driver_only_ms=round(baseline.driver_only_ms),
    )


def predicted_savings(app: Application, what_if: WhatIf) -> int:
    """Wall ms the what-if saves on the recorded run (negative when it would be slower),
    from :attr:`SimulationResult.corrected_wall_ms`: a replay 2 s too long on a run the
    what-if cuts from 70 s to 25 s must not claim those 2 s as saved."""
    result = simulate(app, what_if)
    return result.recorded_wall_ms - result.corrected_wall_ms
