"""``spark-copilot compare``: why one run of an application was slower or faster than
another (DESIGN.md §8).

Each run's wall time is cut into what its stages held and what the driver held alone:
at every instant the running stages share the time equally, and time with no stage
running is the driver's (planning, collecting, scheduling, starting up). Stages are
matched across the runs by the SQL execution they belong to (by order and description,
since ids differ), their name (Spark's call site) and their rank among stages of that
name, attempts together. The difference of each matched pair's share, the shares of
stages only one run has, and the driver's difference then sum exactly to the runs'
difference in wall time.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from .model import Application, StageAttempt
from .prediction.simulator import recorded_config, recorded_wall_ms
from .summary import AppSummary, app_summary, bytes_text

#: Properties that differ between any two runs: ids, times, ports, paths of the run.
_VOLATILE = (
    "spark.app.id",
    "spark.app.startTime",
    "spark.app.submitTime",
    "spark.app.attempt",
    "spark.driver.port",
    "spark.driver.host",
    "spark.blockManager.port",
    "spark.eventLog.dir",
    "spark.ui.port",
    "spark.repl.class.uri",
    "spark.repl.class.outputDir",
    "spark.sql.warehouse.dir",
    "spark.driver.appUIAddress",
    "spark.yarn.app.id",
    "spark.yarn.app.container.log.dir",
)
#: A change of this share or more in a stage's input or shuffle is worth naming.
_NOTABLE = 0.2

StageKey = tuple[int | None, str, int]


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StageChange(_Contract):
    """One matched stage (or one run's stage alone): what it did in each run."""

    label: str
    baseline_stage_ids: tuple[int, ...]
    new_stage_ids: tuple[int, ...]
    #: [baseline, new] for each.
    wall_share_ms: tuple[int, int]
    tasks: tuple[int, int]
    input_bytes: tuple[int, int]
    shuffle_read_bytes: tuple[int, int]
    shuffle_write_bytes: tuple[int, int]
    disk_spilled_bytes: tuple[int, int]
    #: Slowest task ÷ median task.
    skew: tuple[float, float]


class Attribution(_Contract):
    label: str
    stage_ids: tuple[int, ...]
    delta_ms: int
    why: str


class Comparison(_Contract):
    schema_: Literal["spark-copilot/comparison/v1"] = "spark-copilot/comparison/v1"
    baseline: AppSummary
    new: AppSummary
    wall_ms_delta: int
    attribution: tuple[Attribution, ...]
    config_diff: dict[str, tuple[str | None, str | None]]
    likely_cause: str
    executors: dict[str, tuple[int, int]]
    stages: tuple[StageChange, ...]

    def to_json_dict(self) -> dict[str, object]:
        out = self.model_dump(mode="json")
        return {"schema": out.pop("schema_"), **out}


# ------------------------------------------------------------------ one run's shares


def _start(app: Application) -> int:
    starts = [j.submitted_ms for j in app.jobs if j.submitted_ms is not None]
    if app.app.start_ms is not None:
        return app.app.start_ms
    return min(starts) if starts else 0


def _shares(app: Application) -> tuple[dict[int, float], float, int]:
    """Wall ms each stage held (equal split among concurrent ones), the driver's, and
    the wall time they sum to."""
    start = _start(app)
    wall = recorded_wall_ms(app)
    end = start + wall
    intervals = []
    for s in app.stages:
        lo, hi = s.task_rows
        begin = (
            s.submitted_ms
            if s.submitted_ms is not None
            else (int(app.tasks.launch_ms[lo:hi].min()) if hi > lo else None)
        )
        finish = (
            s.completed_ms
            if s.completed_ms is not None
            else (int(app.tasks.finish_ms[lo:hi].max()) if hi > lo else None)
        )
        if begin is None or finish is None:
            continue
        begin, finish = max(begin, start), min(finish, end)
        if finish > begin:
            intervals.append((begin, finish, s.stage_id))
    edges = sorted({start, end, *(b for b, _, _ in intervals), *(f for _, f, _ in intervals)})
    held: dict[int, float] = defaultdict(float)
    driver = 0.0
    for left, right in itertools.pairwise(edges):
        running = [sid for b, f, sid in intervals if b <= left and f >= right]
        if running:
            for sid in running:
                held[sid] += (right - left) / len(running)
        else:
            driver += right - left
    return dict(held), driver, wall


# ------------------------------------------------------------------ matching


def _sql_ranks(app: Application) -> dict[int, int]:
    """SQL execution id → its rank among executions of the same description."""
    seen: dict[str, int] = defaultdict(int)
    ranks = {}
    for q in sorted(app.sql_executions, key=lambda q: (q.start_ms or 0, q.id)):
        ranks[q.id] = seen[q.description]
        seen[q.description] += 1
    return ranks


def _stage_keys(app: Application) -> dict[int, StageKey]:
    """Stage id → (SQL execution's rank-in-order, name, rank among same-named stages)."""
    order = {q.id: i for i, q in enumerate(sorted(app.sql_executions, key=lambda q: q.id))}
    first: dict[int, StageAttempt] = {}
    for s in sorted(app.stages, key=lambda s: (s.stage_id, s.attempt)):
        first.setdefault(s.stage_id, s)
    seen: dict[tuple[int | None, str], int] = defaultdict(int)
    keys = {}
    for stage_id, s in sorted(first.items()):
        sql = order.get(s.sql_id) if s.sql_id is not None else None
        base = (sql, s.name)
        keys[stage_id] = (sql, s.name, seen[base])
        seen[base] += 1
    return keys


@dataclass(frozen=True, slots=True)
class _StageFacts:
    ids: tuple[int, ...]
    name: str
    share_ms: float
    tasks: int
    input_bytes: int
    shuffle_read: int
    shuffle_write: int
    spilled: int
    skew: float


def _facts(app: Application, ids: Sequence[int], shares: Mapping[int, float]) -> _StageFacts:
    attempts = [s for s in app.stages if s.stage_id in ids]
    rows = [app.stage_tasks(s) for s in attempts]
    durations = np.concatenate([r.duration_ms for r in rows]) if rows else np.zeros(0)
    median = float(np.median(durations)) if len(durations) else 0.0

    def total(column: str) -> int:
        return int(sum(int(getattr(r, column).sum()) for r in rows))

    return _StageFacts(
        ids=tuple(ids),
        name=attempts[0].name if attempts else "",
        share_ms=sum(shares.get(i, 0.0) for i in ids),
        tasks=sum(len(r) for r in rows),
        input_bytes=total("input_bytes"),
        shuffle_read=total("shuffle_read_bytes"),
        shuffle_write=total("shuffle_write_bytes"),
        spilled=total("disk_spilled"),
        skew=round(float(durations.max()) / median, 1) if median > 0 else 0.0,
    )


# ------------------------------------------------------------------ wording


def _grew(before: int, after: int) -> float:
    return (after - before) / before if before else (1.0 if after else 0.0)


def _kind(f: _StageFacts) -> str:
    if f.shuffle_read and f.shuffle_read >= f.input_bytes:
        return "shuffle stage"
    if f.input_bytes:
        return "scan"
    return "stage"


def _why(b: _StageFacts | None, n: _StageFacts | None) -> str:
    if b is None and n is not None:
        return f"only in the new run ({n.tasks} tasks)"
    if n is None and b is not None:
        return f"only in the baseline ({b.tasks} tasks)"
    assert b is not None and n is not None
    parts = []
    if b.tasks != n.tasks:
        parts.append(f"{b.tasks} → {n.tasks} tasks")
    for label, x, y in (
        ("input", b.input_bytes, n.input_bytes),
        ("shuffle read", b.shuffle_read, n.shuffle_read),
        ("shuffle write", b.shuffle_write, n.shuffle_write),
    ):
        if abs(_grew(x, y)) >= _NOTABLE:
            parts.append(f"{label} {bytes_text(x)} → {bytes_text(y)} ({_grew(x, y):+.0%})")
    if (b.spilled == 0) != (n.spilled == 0) or abs(_grew(b.spilled, n.spilled)) >= _NOTABLE:
        parts.append(f"disk spill {bytes_text(b.spilled)} → {bytes_text(n.spilled)}")
    if max(b.skew, n.skew) >= 5 and abs(b.skew - n.skew) >= 2:
        parts.append(f"slowest task {b.skew:g}× → {n.skew:g}× the median")
    return "; ".join(parts) or "same tasks and data: the tasks themselves ran slower or faster"


def _exactly(values: Sequence[float], total: int) -> list[int]:
    """Integers within 1 of ``values`` (which sum to ``total`` up to float error) that
    sum to ``total`` exactly; the last (the driver) takes any float residue."""
    floors = [math.floor(v) for v in values]
    rest = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: values[i] - floors[i], reverse=True)
    bumped = max(0, min(rest, len(values)))
    for i in order[:bumped]:
        floors[i] += 1
    floors[-1] += rest - bumped
    return floors


def _config_diff(
    baseline: Application, new: Application
) -> dict[str, tuple[str | None, str | None]]:
    def conf(app: Application) -> dict[str, str]:
        merged = dict(app.spark_conf)
        for q in app.sql_executions:  # settings a session changed per query
            for key, value in q.modified_configs.items():
                merged.setdefault(key, value)
        return {k: v for k, v in merged.items() if k not in _VOLATILE}

    b, n = conf(baseline), conf(new)
    return {k: (b.get(k), n.get(k)) for k in sorted(set(b) | set(n)) if b.get(k) != n.get(k)}


def _likely_cause(  # noqa: PLR0911 - one answer per cause, the most specific first
    delta: int,
    entries: Sequence[tuple[Attribution, _StageFacts | None, _StageFacts | None]],
    config_diff: Mapping[str, tuple[str | None, str | None]],
    executors: Mapping[str, tuple[int, int]],
) -> str:
    direction = "slower" if delta > 0 else "faster"
    if delta == 0:
        return "the runs took the same time"
    # The entries that moved the wall time the way it went, biggest first.
    moved = sorted(
        (e for e in entries if e[0].delta_ms * delta > 0), key=lambda e: -abs(e[0].delta_ms)
    )
    if not moved:
        return f"the new run was {abs(delta) / 1000:.1f} s {direction} without a single cause"
    top, b, n = moved[0]
    if b is None or n is None:
        return f"the new run was {direction} mostly through {top.label}: {top.why}"
    same_way = [e for e in moved if e[1] is not None and e[2] is not None]
    retasked = [e for e in same_way if e[1] and e[2] and e[1].tasks != e[2].tasks]
    partitions = config_diff.get("spark.sql.shuffle.partitions")
    if partitions and retasked and top in [e[0] for e in retasked]:
        stages = sorted({i for e in retasked for i in e[0].stage_ids})
        share = sum(e[0].delta_ms for e in retasked) / delta
        return (
            f"spark.sql.shuffle.partitions {partitions[0]} → {partitions[1]}: the shuffle "
            f"stage(s) {', '.join(map(str, stages))} ran "
            + ", ".join(f"{e[1].tasks} → {e[2].tasks}" for e in retasked if e[1] and e[2])
            + f" tasks and account for {share:.0%} of the {abs(delta) / 1000:.1f} s "
            f"{direction}"
        )
    input_b = sum(e[1].input_bytes for e in same_way if e[1])
    input_n = sum(e[2].input_bytes for e in same_way if e[2])
    if abs(_grew(input_b, input_n)) >= _NOTABLE and input_n != input_b:
        return (
            f"the input {'grew' if input_n > input_b else 'shrank'} "
            f"{abs(_grew(input_b, input_n)):.0%} ({bytes_text(input_b)} → {bytes_text(input_n)}): "
            f"{top.label} {top.why}"
        )
    changed = [k for k, (x, y) in executors.items() if x != y]
    if changed:
        k = changed[0]
        return f"{k} {executors[k][0]} → {executors[k][1]}; most of it in {top.label}"
    if top.label == "driver":
        longer = "longer" if delta > 0 else "less"
        return f"the driver alone took {abs(top.delta_ms) / 1000:.1f} s {longer}"
    return f"{top.label}: {top.why}"


# ------------------------------------------------------------------ the comparison


def _groups(app: Application) -> dict[StageKey, list[int]]:
    out: dict[StageKey, list[int]] = defaultdict(list)
    for stage_id, key in _stage_keys(app).items():
        out[key].append(stage_id)
    return out


def compare(baseline: Application, new: Application) -> Comparison:
    """Why ``new`` took a different wall time than ``baseline``."""
    b_shares, b_driver, b_wall = _shares(baseline)
    n_shares, n_driver, n_wall = _shares(new)
    b_groups, n_groups = _groups(baseline), _groups(new)
    keys = sorted(
        set(b_groups) | set(n_groups),
        key=lambda k: (k[0] is None, k[0] or 0, min(n_groups.get(k, b_groups.get(k, [0])))),
    )
    pairs: list[tuple[_StageFacts | None, _StageFacts | None]] = []
    for key in keys:
        b = _facts(baseline, b_groups[key], b_shares) if key in b_groups else None
        n = _facts(new, n_groups[key], n_shares) if key in n_groups else None
        pairs.append((b, n))
    raw = [(n.share_ms if n else 0.0) - (b.share_ms if b else 0.0) for b, n in pairs]
    delta = n_wall - b_wall
    deltas = _exactly([*raw, n_driver - b_driver], delta)
    entries: list[tuple[Attribution, _StageFacts | None, _StageFacts | None]] = []
    for (b, n), d in zip(pairs, deltas, strict=False):
        facts = n or b
        assert facts is not None
        ids = n.ids if n else facts.ids
        label = f"stage {', '.join(map(str, ids))}: {_kind(facts)} ({facts.name.split(' at ')[0]})"
        if b and n and b.ids != n.ids:
            label = f"stage {', '.join(map(str, b.ids))} → {', '.join(map(str, n.ids))}: " + (
                f"{_kind(facts)} ({facts.name.split(' at ')[0]})"
            )
        entries.append((Attribution(label=label, stage_ids=ids, delta_ms=d, why=_why(b, n)), b, n))
    driver = Attribution(
        label="driver",
        stage_ids=(),
        delta_ms=deltas[-1],
        why=(
            f"time with no stage running {b_driver / 1000:.1f} s → {n_driver / 1000:.1f} s "
            "(start-up, planning, collecting results, between jobs)"
        ),
    )
    entries.append((driver, None, None))
    b_conf, n_conf = recorded_config(baseline), recorded_config(new)
    executors = {
        "executors": (len(baseline.executors), len(new.executors)),
        "executors_at_once": (b_conf.executors, n_conf.executors),
        "cores_per_executor": (b_conf.cores_per_executor, n_conf.cores_per_executor),
    }
    config_diff = _config_diff(baseline, new)
    ranked = sorted(entries, key=lambda e: -abs(e[0].delta_ms))
    return Comparison(
        baseline=app_summary(baseline),
        new=app_summary(new),
        wall_ms_delta=delta,
        attribution=tuple(e[0] for e in ranked),
        config_diff=config_diff,
        likely_cause=_likely_cause(delta, entries, config_diff, executors),
        executors=executors,
        stages=tuple(_change(b, n) for b, n in pairs),
    )


def _change(b: _StageFacts | None, n: _StageFacts | None) -> StageChange:
    empty = _StageFacts((), "", 0.0, 0, 0, 0, 0, 0, 0.0)
    x, y = b or empty, n or empty
    facts = n or b
    assert facts is not None
    return StageChange(
        label=f"{_kind(facts)} ({facts.name.split(' at ')[0]})",
        baseline_stage_ids=x.ids,
        new_stage_ids=y.ids,
        wall_share_ms=(round(x.share_ms), round(y.share_ms)),
        tasks=(x.tasks, y.tasks),
        input_bytes=(x.input_bytes, y.input_bytes),
        shuffle_read_bytes=(x.shuffle_read, y.shuffle_read),
        shuffle_write_bytes=(x.shuffle_write, y.shuffle_write),
        disk_spilled_bytes=(x.spilled, y.spilled),
        skew=(x.skew, y.skew),
    )


def attribution_lines(comparison: Comparison, limit: int = 12) -> Iterable[str]:
    for a in comparison.attribution[:limit]:
        yield f"{a.delta_ms / 1000:+8.1f} s  {a.label}  — {a.why}"


def render_comparison_text(comparison: Comparison) -> str:
    c = comparison
    direction = "slower" if c.wall_ms_delta > 0 else "faster"
    lines = [
        f"baseline {c.baseline.name or '?'} ({c.baseline.id})  "
        f"{(c.baseline.duration_ms or 0) / 1000:.1f} s",
        f"new      {c.new.name or '?'} ({c.new.id})  {(c.new.duration_ms or 0) / 1000:.1f} s",
        f"the new run was {abs(c.wall_ms_delta) / 1000:.1f} s {direction}",
        "",
        f"likely cause: {c.likely_cause}",
        "",
        "where the time went (new − baseline):",
        *(f"  {line}" for line in attribution_lines(c)),
    ]
    if c.config_diff:
        lines += ["", "configuration (baseline → new):"]
        lines += [f"  {k}: {v[0]} → {v[1]}" for k, v in c.config_diff.items()]
    lines += ["", "executors (baseline → new):"]
    lines += [f"  {k}: {x} → {y}" for k, (x, y) in c.executors.items()]
    return "\n".join(lines) + "\n"
