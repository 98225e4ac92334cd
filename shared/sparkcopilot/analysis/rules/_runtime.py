"""Shared timeline arithmetic of the runtime rules: when jobs ran, which task slots
executors offered over that time, Spark size strings."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ...model import Application, Executor

#: ``spark.driver.maxResultSize`` when the log does not set it (Spark's config docs).
DEFAULT_MAX_RESULT_BYTES = 1 << 30

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(value: str | None, default_unit: str = "") -> int | None:
    """Bytes of a Spark size string (``"4g"``, ``"512m"``, ``"1073741824"``)."""
    if value is None:
        return None
    match = _SIZE.match(value)
    if match is None:
        return None
    unit = (match.group(2) or default_unit).lower()
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(n_bytes: int) -> str:
    """A size as spark-defaults writes it: whole gigabytes as ``"4g"``, else megabytes."""
    mib = max(1, math.ceil(n_bytes / (1 << 20)))
    return f"{mib // 1024}g" if mib % 1024 == 0 else f"{mib}m"


def job_windows(app: Application) -> list[tuple[int, int]]:
    """Merged ``[start, end)`` intervals during which at least one job ran."""
    spans = sorted(
        (j.submitted_ms, j.completed_ms)
        for j in app.jobs
        if j.submitted_ms is not None
        and j.completed_ms is not None
        and j.completed_ms >= j.submitted_ms
    )
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def overlap_ms(start: int, end: int, windows: list[tuple[int, int]]) -> int:
    return sum(max(0, min(end, e) - max(start, s)) for s, e in windows)


def _conf_int(app: Application, key: str) -> int | None:
    try:
        return int(float(app.spark_conf[key]))
    except (KeyError, ValueError):
        return None


def task_cpus(app: Application) -> int:
    return max(1, _conf_int(app, "spark.task.cpus") or 1)


@dataclass(frozen=True, slots=True)
class SlotExecutor:
    executor: Executor
    cores: int
    #: Tasks it can run at once: cores ÷ spark.task.cpus, capped by GPUs when tasks ask for one.
    slots: int
    start_ms: int
    end_ms: int


def compute_executors(app: Application) -> list[SlotExecutor]:
    """The executors that run tasks, with their slot counts and lifetimes.

    The driver counts only in local mode, where it is the one executor.
    """
    end = app.app.end_ms
    if end is None:
        ends = [j.completed_ms for j in app.jobs if j.completed_ms is not None]
        end = max(ends) if ends else None
    cpus = task_cpus(app)
    gpu_slots: int | None = None
    try:
        exec_gpu = float(app.spark_conf["spark.executor.resource.gpu.amount"])
        task_gpu = float(app.spark_conf["spark.task.resource.gpu.amount"])
        if exec_gpu > 0 and task_gpu > 0:
            gpu_slots = max(1, int(exec_gpu / task_gpu + 1e-9))
    except (KeyError, ValueError):
        pass
    default_cores = _conf_int(app, "spark.executor.cores")
    executors = [e for e in app.executors if e.id != "driver"] or list(app.executors)
    out = []
    for e in executors:
        if e.added_ms is None or end is None:
            continue
        cores = e.cores or default_cores or 1
        slots = max(1, cores // cpus)
        if gpu_slots is not None and e.id != "driver":
            slots = min(slots, gpu_slots)
        out.append(SlotExecutor(e, cores, slots, e.added_ms, e.removed_ms or end))
    return out
