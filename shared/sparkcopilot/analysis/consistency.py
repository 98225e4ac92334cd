"""One configuration across all findings, consistent with itself and with the cluster.

Rules judge one problem each, so two of them can ask for different values of the same
setting. A user applies the settings together, so the report must not contradict
itself:

* ``spark.sql.shuffle.partitions`` applies to every shuffle of the application: all
  findings get the largest value asked (the big shuffles need it) with AQE coalescing on
  (the small ones then shrink back), and never fewer partitions than the largest
  shuffle needs at ``few_huge_task_bytes`` a partition.
* Executor memory and cores: the largest memory asked wins; an executor never outgrows
  its node (when the log names the node type), halving cores instead; the overhead stays
  at least max(384 MiB, 10 % of the heap) where the log set it lower.
* Dynamic allocation: min ≤ initial ≤ max.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from ..model import Application
from .findings import Finding
from .rules._runtime import format_size, parse_size
from .thresholds import Thresholds

_SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
_MEMORY = "spark.executor.memory"
_OVERHEAD = "spark.executor.memoryOverhead"
_CORES = "spark.executor.cores"
_AQE = {
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
}
_DA = ("minExecutors", "initialExecutors", "maxExecutors")
_MIN_OVERHEAD = 384 << 20
#: Share of a node's memory executors can take (Data Mechanics' rule of thumb,
#: FIELD_NOTES §2.5); the rest is the OS, daemons and the cluster manager's.
_NODE_SHARE = 0.85

#: GiB of memory per vCPU of Google Cloud machine families (Compute Engine docs).
_GCE_GIB_PER_VCPU = {
    ("n1", "standard"): 3.75,
    ("n1", "highmem"): 6.5,
    ("n1", "highcpu"): 0.9,
    ("n2", "standard"): 4.0,
    ("n2", "highmem"): 8.0,
    ("n2", "highcpu"): 1.0,
    ("n2d", "standard"): 4.0,
    ("n2d", "highmem"): 8.0,
    ("n2d", "highcpu"): 1.0,
    ("e2", "standard"): 4.0,
    ("e2", "highmem"): 8.0,
    ("e2", "highcpu"): 1.0,
    ("c2", "standard"): 4.0,
    ("c2d", "standard"): 4.0,
    ("c2d", "highmem"): 8.0,
    ("c3", "standard"): 4.0,
    ("c3", "highmem"): 8.0,
    ("n4", "standard"): 4.0,
    ("n4", "highmem"): 8.0,
}
_MACHINE = re.compile(r"^([a-z]\d+[a-z]?)-(standard|highmem|highcpu)-(\d+)$")
_NODE_TYPE_KEYS = (
    "spark.databricks.clusterUsageTags.clusterNodeType",
    "spark.databricks.workerNodeTypeId",
)


def node_memory_bytes(app: Application) -> int | None:
    """Memory of a worker node, when the log names a machine type we know."""
    for key in _NODE_TYPE_KEYS:
        found = _MACHINE.match(app.spark_conf.get(key, "").strip())
        if found:
            per_vcpu = _GCE_GIB_PER_VCPU.get((found.group(1), found.group(2)))
            if per_vcpu is not None:
                return int(per_vcpu * int(found.group(3)) * (1 << 30))
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _set(
    findings: list[Finding], key: str, value: str, extra: dict[str, str] | None = None
) -> None:
    """Give every finding that sets ``key`` this value (and ``extra`` settings)."""
    for i, f in enumerate(findings):
        if key in f.config and (f.config[key] != value or extra):
            config = {**f.config, key: value, **(extra or {})}
            evidence = dict(f.evidence)
            if f.config[key] != value:
                evidence[f"asked_{key}"] = f.config[key]
            findings[i] = f.model_copy(update={"config": config, "evidence": evidence})


def _shuffle_partitions(app: Application, findings: list[Finding], limits: Thresholds) -> None:
    asked = [v for f in findings if (v := _int(f.config.get(_SHUFFLE_PARTITIONS)))]
    if not asked:
        return
    largest_shuffle = max(
        (int(app.stage_tasks(s).shuffle_read_bytes.sum()) for s in app.stages), default=0
    )
    floor = math.ceil(largest_shuffle / limits.partition.few_huge_task_bytes)
    value = max(*asked, floor)
    differs = len(set(asked)) > 1 or value != asked[0]
    _set(findings, _SHUFFLE_PARTITIONS, str(value), dict(_AQE) if differs else None)


def _executor_memory(app: Application, findings: list[Finding]) -> None:
    asked = [b for f in findings if (b := parse_size(f.config.get(_MEMORY), "m"))]
    if not asked:
        return
    heap = max(asked)
    node = node_memory_bytes(app)
    asked_cores = [c for f in findings if (c := _int(f.config.get(_CORES)))]
    cores = min(asked_cores) if asked_cores else _int(app.spark_conf.get(_CORES))
    extra: dict[str, str] = {}
    overhead = max(_MIN_OVERHEAD, heap // 10)
    if node is not None and heap + overhead > node * _NODE_SHARE:
        # Too big for the node: the most heap that fits, with half the cores per executor
        # (each task's share of the heap still grows).
        step = 512 << 20
        heap = int(node * _NODE_SHARE / 1.1) // step * step
        if cores and cores > 1:
            extra[_CORES] = str(cores // 2)
        overhead = max(_MIN_OVERHEAD, heap // 10)
    set_overhead = parse_size(app.spark_conf.get(_OVERHEAD), "m")
    if set_overhead is not None and set_overhead < overhead:
        extra[_OVERHEAD] = format_size(overhead)
    _set(findings, _MEMORY, format_size(heap), extra or None)


def _dynamic_allocation(findings: list[Finding]) -> None:
    for i, f in enumerate(findings):
        keys = [f"spark.dynamicAllocation.{k}" for k in _DA]
        values = [_int(f.config.get(k)) for k in keys]
        low, initial, high = values
        if low is None or initial is None or high is None:
            continue
        high = max(high, low, 1)
        initial = min(max(initial, low), high)
        fixed = {keys[0]: str(low), keys[1]: str(initial), keys[2]: str(high)}
        if any(f.config[k] != v for k, v in fixed.items()):
            findings[i] = f.model_copy(update={"config": {**f.config, **fixed}})


def reconcile(
    app: Application, findings: Sequence[Finding], limits: Thresholds
) -> tuple[Finding, ...]:
    out = list(findings)
    _shuffle_partitions(app, out, limits)
    _executor_memory(app, out)
    _dynamic_allocation(out)
    return tuple(out)
