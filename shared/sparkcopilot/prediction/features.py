"""Documented, versioned numbers that describe an application for the runtime model.

Two kinds: the **workload** (what the application does: bytes, records, stages, plan
operators) and the **configuration** it runs with (executors, cores, shuffle partitions,
memory, AQE), which a what-if replaces. No feature is a time measured in the run: those
are what the model predicts, and a feature made of them (task time, driver time) would
hand the model the answer at the recorded configuration.

Bump :data:`FEATURES_VERSION` whenever a feature is added, removed or computed
differently: rows and models of another version are not mixed (history keeps the
version of each row, a model the version it was trained on).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..model import Application
from .simulator import SimulationResult, WhatIf, aqe_enabled, simulate, size_bytes, task_cpus

FEATURES_VERSION = "1"

#: Plan operators counted over every SQL execution's final plan: feature → name prefixes.
OPERATORS: Mapping[str, tuple[str, ...]] = {
    "op_scans": ("Scan", "FileScan", "BatchScan", "PhotonScan", "GpuFileGpuScan"),
    "op_exchanges": ("Exchange", "ShuffleExchange", "GpuColumnarExchange", "PhotonShuffle"),
    "op_broadcast_joins": ("BroadcastHashJoin", "GpuBroadcastHashJoin", "PhotonBroadcastHashJoin"),
    "op_shuffle_joins": ("SortMergeJoin", "ShuffledHashJoin", "GpuShuffledHashJoin"),
    "op_nested_loop_joins": ("BroadcastNestedLoopJoin", "CartesianProduct"),
    "op_aggregates": ("HashAggregate", "SortAggregate", "ObjectHashAggregate", "GpuHashAggregate"),
    "op_sorts": ("Sort", "GpuSort", "TakeOrderedAndProject"),
    "op_windows": ("Window", "GpuWindow"),
    "op_python": ("BatchEvalPython", "ArrowEvalPython", "FlatMapGroupsInPandas", "MapInPandas"),
    "op_writes": (
        "Execute InsertInto",
        "WriteFiles",
        "Execute CreateDataSourceTable",
        "AppendData",
    ),
}


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    doc: str


#: The schema, in column order. Names never change meaning within a version.
FEATURES: tuple[Feature, ...] = (
    Feature("input_bytes", "bytes read from storage by all tasks"),
    Feature("input_records", "records read from storage"),
    Feature("output_bytes", "bytes written to storage"),
    Feature("output_records", "records written to storage"),
    Feature("shuffle_bytes", "bytes written to shuffle (= read back by the next stages)"),
    Feature("shuffle_records", "records written to shuffle"),
    Feature("jobs", "jobs run"),
    Feature("stages", "stage attempts that ran tasks"),
    Feature("dag_depth", "longest chain of parent → child stages"),
    Feature("sql_executions", "SQL queries run"),
    *(Feature(name, f"plan nodes named {', '.join(p)}...") for name, p in OPERATORS.items()),
    Feature("executors", "executors (the what-if's, else the most alive at once)"),
    Feature("cores_per_executor", "cores per executor (the what-if's, else the median)"),
    Feature("slots", "tasks that can run at once: executors x cores / spark.task.cpus"),
    Feature("shuffle_partitions", "spark.sql.shuffle.partitions (the what-if's, else set)"),
    Feature("tasks", "tasks the application runs (shuffle stages re-cut for the what-if)"),
    Feature("max_stage_tasks", "tasks of the largest stage"),
    Feature("executor_memory_bytes", "spark.executor.memory (Spark's default 1g when unset)"),
    Feature("aqe_enabled", "1 when spark.sql.adaptive.enabled (default on from Spark 3.2)"),
    Feature("bytes_per_slot", "(input + shuffle + output bytes) / slots"),
    Feature("tasks_per_slot", "tasks / slots: waves of tasks"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)


def _dag_depth(app: Application) -> int:
    parents = {s.stage_id: s.parent_ids for s in app.stages}
    depth: dict[int, int] = {}
    for stage_id in sorted(parents):
        # Parents have lower ids than their children in every Spark version.
        depth[stage_id] = 1 + max((depth.get(p, 0) for p in parents[stage_id]), default=0)
    return max(depth.values(), default=0)


def _operator_counts(app: Application) -> dict[str, float]:
    counts = dict.fromkeys(OPERATORS, 0.0)
    for query in app.sql_executions:
        if query.plan is None:
            continue
        for node in query.plan.walk():
            for feature, prefixes in OPERATORS.items():
                if node.name.startswith(prefixes):
                    counts[feature] += 1
    return counts


class FeatureBuilder:
    """Features of an application at its recorded configuration or a what-if."""

    version = FEATURES_VERSION
    names = FEATURE_NAMES

    def build(self, app: Application, what_if: WhatIf | None = None) -> dict[str, float]:
        return self.build_from(app, simulate(app, what_if))

    def build_from(self, app: Application, sim: SimulationResult) -> dict[str, float]:
        """Features for the configuration ``sim`` simulated (saves a second replay)."""
        tasks = app.tasks
        config = sim.simulated
        slots = config.executors * max(1, config.cores_per_executor // task_cpus(app))
        data_bytes = float(
            tasks.input_bytes.sum() + tasks.shuffle_write_bytes.sum() + tasks.output_bytes.sum()
        )
        per_stage = [hi - lo for lo, hi in (s.task_rows for s in app.stages)]
        recorded_partitions = sim.recorded.shuffle_partitions
        # The largest stage grows or shrinks with the partitions when shuffle-cut.
        largest = max(per_stage, default=0)
        if largest == recorded_partitions:
            largest = config.shuffle_partitions
        values: dict[str, float] = {
            "input_bytes": float(tasks.input_bytes.sum()),
            "input_records": float(tasks.input_records.sum()),
            "output_bytes": float(tasks.output_bytes.sum()),
            "output_records": float(tasks.output_records.sum()),
            "shuffle_bytes": float(tasks.shuffle_write_bytes.sum()),
            "shuffle_records": float(tasks.shuffle_write_records.sum()),
            "jobs": float(len(app.jobs)),
            "stages": float(sum(1 for n in per_stage if n > 0)),
            "dag_depth": float(_dag_depth(app)),
            "sql_executions": float(len(app.sql_executions)),
            **_operator_counts(app),
            "executors": float(config.executors),
            "cores_per_executor": float(config.cores_per_executor),
            "slots": float(slots),
            "shuffle_partitions": float(config.shuffle_partitions),
            "tasks": float(sim.tasks_simulated),
            "max_stage_tasks": float(largest),
            "executor_memory_bytes": float(
                size_bytes(app.spark_conf.get("spark.executor.memory")) or 1 << 30
            ),
            "aqe_enabled": 1.0 if aqe_enabled(app) else 0.0,
            "bytes_per_slot": data_bytes / slots,
            "tasks_per_slot": sim.tasks_simulated / slots,
        }
        return values


def as_matrix(
    rows: list[Mapping[str, float]], names: tuple[str, ...] = FEATURE_NAMES
) -> np.ndarray:
    """Rows of features → a float matrix in schema order (missing or non-finite → 0)."""
    out = np.zeros((len(rows), len(names)))
    for i, row in enumerate(rows):
        for j, name in enumerate(names):
            value = float(row.get(name, 0.0))
            out[i, j] = value if math.isfinite(value) else 0.0
    return out
