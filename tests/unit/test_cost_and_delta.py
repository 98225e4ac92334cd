"""The cost and Delta agents on real logs: priced core-hours that add up, platform
detection, savings priced per finding, Delta layout advice only where Delta is."""

from __future__ import annotations

import pytest

from sparkcopilot.analysis import analyze
from sparkcopilot.analysis.cost import (
    CostPartial,
    cost_partial,
    detect_platform,
    executor_memory_bytes,
    prices,
)
from sparkcopilot.analysis.delta import DeltaPartial, delta_findings, delta_partial
from sparkcopilot.analysis.findings import Finding, Scope, finding_id
from sparkcopilot.analysis.thresholds import CostSettings, Thresholds
from sparkcopilot.eventlog import read_application
from tests.conftest import LOGS

DELTA_LOG = LOGS / "db_subExecution_id.zstd"


def test_core_hours_add_up_from_the_executor_timeline() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    partial = cost_partial(app, CostSettings(), [])
    end = app.app.end_ms or 0
    lives = [
        ((e.removed_ms or end) - (e.added_ms or 0), e.cores or 1)
        for e in app.executors
        if e.id != "driver"
    ]
    core_ms = sum(life * cores for life, cores in lives)
    assert partial.executor_core_hours == pytest.approx(core_ms / 3_600_000, abs=1e-4)
    gib = executor_memory_bytes(app) / (1 << 30)
    memory = sum(life for life, _ in lives) * gib / 3_600_000
    assert partial.executor_memory_gib_hours == pytest.approx(memory, abs=1e-4)
    p = partial.prices
    total = (partial.executor_core_hours + partial.driver_core_hours) * p.vcpu_hour_usd + (
        partial.executor_memory_gib_hours + partial.driver_memory_gib_hours
    ) * p.gib_hour_usd
    assert partial.cost_usd == pytest.approx(total, abs=1e-3)


def test_platform_comes_from_the_log_or_the_settings() -> None:
    dbx = read_application(DELTA_LOG)  # Databricks Runtime 11.3
    plain = read_application(LOGS / "skew_join_v4.zstd")
    assert detect_platform(dbx, CostSettings())[0] == "databricks"
    assert detect_platform(plain, CostSettings())[0] == "dataproc"
    forced = CostSettings(platform="dataproc_serverless")
    assert detect_platform(dbx, forced) == ("dataproc_serverless", "settings")
    # Serverless: 0.6 DCU a vCPU at the DCU price, no VM charge.
    assert prices(plain, forced).vcpu_hour_usd == pytest.approx(0.6 * 0.060)
    # Databricks pays DBUs on top of the VM.
    assert prices(dbx, CostSettings()).vcpu_hour_usd > prices(plain, CostSettings()).vcpu_hour_usd


def test_every_finding_is_priced_and_the_cost_finding_sums_them() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    result = analyze(app)
    cost = result.agents["cost"]
    assert isinstance(cost.partial, CostPartial)
    others = [f for f in result.findings if f.kind != "cost"]
    assert others
    for f in others:
        assert f.estimated_savings.cost_usd > 0
        assert f.estimated_savings == cost.partial.savings[f.id]
    [summary] = [f for f in result.findings if f.kind == "cost"]
    assert summary.severity == "info"
    assert summary.estimated_savings.cost_usd == pytest.approx(
        sum(f.estimated_savings.cost_usd for f in others), abs=1e-3
    )


def test_prices_from_settings_change_the_bill() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    cheap = cost_partial(app, CostSettings(), [])
    dear = cost_partial(app, CostSettings(vm_vcpu_hour_usd=1.0), [])
    assert dear.cost_usd > cheap.cost_usd * 5


def test_delta_is_not_applicable_without_delta_tables() -> None:
    partial = delta_partial(read_application(LOGS / "skew_join_v4.zstd"))
    assert partial == DeltaPartial(applicable=False, reason=partial.reason)
    assert "no Delta" in partial.reason


def test_delta_tables_are_found_in_databricks_plans() -> None:
    partial = delta_partial(read_application(DELTA_LOG))
    assert partial.applicable
    assert "spark_catalog.default.people_large_2" in partial.tables
    # Delta's own transaction-log scans are not user tables.
    assert not any("Table State" in t for t in partial.tables)


def test_small_files_in_a_delta_table_call_for_optimize() -> None:
    app = read_application(DELTA_LOG)
    location = next(
        node.metadata["Location"]
        for sql in app.sql_executions
        if sql.plan is not None
        for node in sql.plan.walk()
        if "Delta" in node.metadata.get("Location", "")
    )
    scope = Scope(sql_ids=(1,))
    small = Finding(
        id=finding_id("small_files", scope),
        kind="small_files",
        agent="metadata",
        severity="warning",
        title="t",
        scope=scope,
        evidence={"location": location, "files": 2000},
        recommendation="r",
        confidence=0.85,
    )
    [delta] = delta_findings(app, [small])
    assert delta.kind == "delta_layout"
    assert delta.agent == "delta"
    assert delta.recommendation.startswith("Run OPTIMIZE delta.`abfss://")
    assert delta.config["spark.databricks.delta.autoCompact.enabled"] == "true"
    assert delta.evidence["because_of"] == small.id
    # A small-files finding on a plain Parquet directory is not Delta's business.
    plain = small.model_copy(update={"evidence": {"location": "InMemoryFileIndex[file:/x]"}})
    assert delta_findings(app, [plain]) == []


def test_the_delta_agent_reports_its_partial_in_the_analysis() -> None:
    result = analyze(read_application(DELTA_LOG), Thresholds())
    assert isinstance(result.agents["delta"].partial, DeltaPartial)
    assert result.agents["delta"].partial.applicable
