"""One configuration across findings: no contradictions, nothing larger than the node,
dynamic allocation in order; and the runtime agent's time split adds up."""

from __future__ import annotations

import dataclasses

from sparkcopilot.analysis import analyze
from sparkcopilot.analysis._engine import merge_repeated
from sparkcopilot.analysis.consistency import node_memory_bytes, reconcile
from sparkcopilot.analysis.findings import Finding, Scope, finding_id
from sparkcopilot.analysis.profiles import RuntimePartial
from sparkcopilot.analysis.rules._runtime import parse_size
from sparkcopilot.analysis.rules.spill import disk_spill
from sparkcopilot.analysis.thresholds import Thresholds
from sparkcopilot.eventlog import read_application
from sparkcopilot.model import Application
from tests.conftest import DATA, LOGS

SPILL_LOG = DATA / "codecs" / "disk_spill_v4.snappy"


def _asking(config: dict[str, str], stage: int, kind: str = "too_few_partitions") -> Finding:
    scope = Scope(stage_ids=(stage,))
    return Finding(
        id=finding_id(kind, scope),  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        agent="partition",
        severity="warning",
        title="t",
        scope=scope,
        evidence={},
        recommendation="r",
        config=config,
        confidence=0.8,
    )


def test_one_shuffle_partition_count_for_the_whole_application() -> None:
    app = read_application(SPILL_LOG)
    [spill] = disk_spill(app, Thresholds())
    asked = int(spill.config["spark.sql.shuffle.partitions"])
    other = _asking({"spark.sql.shuffle.partitions": "2"}, stage=99)
    fixed = reconcile(app, [spill, other], Thresholds())
    values = {f.config["spark.sql.shuffle.partitions"] for f in fixed}
    assert values == {str(asked)}
    # The smaller ask is met by AQE coalescing, now on.
    assert fixed[1].config["spark.sql.adaptive.coalescePartitions.enabled"] == "true"
    assert fixed[1].evidence["asked_spark.sql.shuffle.partitions"] == "2"


def test_never_one_partition_for_a_large_shuffle() -> None:
    app = read_application(SPILL_LOG)
    tiny = Thresholds.model_validate({"partition": {"few_huge_task_bytes": 16 << 20}})
    [fixed] = reconcile(app, [_asking({"spark.sql.shuffle.partitions": "1"}, 3)], tiny)
    largest = max(int(app.stage_tasks(s).shuffle_read_bytes.sum()) for s in app.stages)
    assert int(fixed.config["spark.sql.shuffle.partitions"]) * (16 << 20) >= largest


def _on_node(app: Application, node_type: str) -> Application:
    conf = {**app.spark_conf, "spark.databricks.clusterUsageTags.clusterNodeType": node_type}
    return dataclasses.replace(app, spark_conf=conf)


def test_an_executor_never_outgrows_its_node() -> None:
    app = _on_node(read_application(SPILL_LOG), "n2-standard-4")  # 16 GiB
    assert node_memory_bytes(app) == 16 << 30
    big = _asking({"spark.executor.memory": "24g", "spark.executor.cores": "4"}, 3, "gc_pressure")
    [fixed] = reconcile(app, [big], Thresholds())
    heap = parse_size(fixed.config["spark.executor.memory"], "m") or 0
    overhead = max(384 << 20, heap // 10)
    assert heap + overhead <= 0.85 * (16 << 30)
    assert heap < 24 << 30
    # Half the cores: each task's share of the heap still grows.
    assert fixed.config["spark.executor.cores"] == "2"


def test_unknown_machine_types_are_not_guessed() -> None:
    app = _on_node(read_application(SPILL_LOG), "Standard_DS3_v2")
    assert node_memory_bytes(app) is None


def test_dynamic_allocation_bounds_are_ordered() -> None:
    app = read_application(SPILL_LOG)
    keys = ("minExecutors", "initialExecutors", "maxExecutors")
    bad = _asking(
        {f"spark.dynamicAllocation.{k}": v for k, v in zip(keys, ("4", "8", "2"), strict=True)},
        1,
        "idle_executors",
    )
    [fixed] = reconcile(app, [bad], Thresholds())
    low, initial, high = (int(fixed.config[f"spark.dynamicAllocation.{k}"]) for k in keys)
    assert low <= initial <= high


def test_every_analysis_is_self_consistent_on_real_logs() -> None:
    for log in (SPILL_LOG, LOGS / "skew_join_v4.zstd", LOGS / "rt_etl_s1_p200_r1.zstd"):
        findings = analyze(read_application(log)).findings
        for key in {k for f in findings for k in f.config}:
            assert len({f.config[key] for f in findings if key in f.config}) == 1, key


def test_runtime_partial_splits_wall_time_into_driver_and_jobs() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    partial = analyze(app).agents["runtime"].partial
    assert isinstance(partial, RuntimePartial)
    assert partial.wall_ms == app.app.duration_ms
    assert partial.driver_ms + partial.jobs_ms == partial.wall_ms
    assert partial.driver_ms <= partial.lower_bound_ms <= partial.wall_ms
    stage_ids = {s.stage_id for s in app.stages}
    assert set(partial.critical_path_stage_ids) <= stage_ids
    assert partial.bottleneck_stages[0].duration_ms == max(s.duration_ms or 0 for s in app.stages)


def test_the_same_problem_on_repeated_stages_is_one_finding() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    # Stages 2, 3 and 4 share the call site "save at NativeMethodAccessorImpl.java:0".
    repeated = [_asking({"spark.default.parallelism": "8"}, s) for s in (2, 3, 4)]
    other = _asking({"spark.default.parallelism": "8"}, 0)
    merged = merge_repeated(app, [*repeated, other])
    assert len(merged) == 2
    [group] = [f for f in merged if len(f.scope.stage_ids) > 1]
    assert group.scope.stage_ids == (2, 3, 4)
    assert group.evidence["repeated_in_stages"] == 3
    assert group.id == finding_id(group.kind, group.scope)
