"""aqe_disabled and executor_memory_waste on real logs: what the log shows was used and
wasted, with floors that keep small or healthy runs quiet."""

from __future__ import annotations

import pytest

from sparkcopilot.analysis.rules import RULES
from sparkcopilot.analysis.rules._runtime import parse_size
from sparkcopilot.analysis.rules.aqe import aqe_disabled
from sparkcopilot.analysis.rules.memory import executor_memory_waste
from sparkcopilot.analysis.thresholds import Thresholds
from sparkcopilot.eventlog import read_application
from tests.conftest import LOGS

MEMORY_LOG = LOGS / "application_1553914137147_0018"
#: The bundled YARN run is short (one minute): lower the GiB-hours floor to judge it.
NO_MEMORY_FLOOR = Thresholds.model_validate({"partition": {"memory_min_saved_gib_hours": 0}})


def test_rules_are_registered() -> None:
    assert aqe_disabled in RULES
    assert executor_memory_waste in RULES


def test_aqe_off_with_200_tiny_shuffle_partitions_is_reported() -> None:
    app = read_application(LOGS / "rt_etl_s1_p200_r1.zstd")
    [finding] = aqe_disabled(app, Thresholds())
    assert finding.kind == "aqe_disabled"
    assert finding.severity == "warning"
    assert finding.config["spark.sql.adaptive.enabled"] == "true"
    assert finding.evidence["spark.sql.adaptive.enabled"] == "false"
    assert finding.evidence["tasks_in_those_stages"] >= 200
    # The savings stay within the run, and above the 5 % floor.
    wall = app.app.duration_ms or 0
    assert 0.05 * wall <= finding.estimated_savings.wall_ms < wall


def test_aqe_off_with_partitions_that_fit_is_left_alone() -> None:
    # The same workload with 8 shuffle partitions: nothing for coalescing to merge.
    assert aqe_disabled(read_application(LOGS / "rt_etl_s1_p8_r1.zstd"), Thresholds()) == []


@pytest.mark.parametrize("log", ["healthy_narrow_v35", "skew_join_v4.zstd", "spark2-eventlog.zstd"])
def test_aqe_rule_is_quiet_where_coalescing_would_not_pay(log: str) -> None:
    # healthy: AQE on by default; skew_join: AQE off but its tasks do real work;
    # spark2: Spark 2.4 has no AQE to turn on.
    assert aqe_disabled(read_application(LOGS / log), Thresholds()) == []


def test_memory_waste_from_peak_heap_metrics() -> None:
    app = read_application(MEMORY_LOG)
    [finding] = executor_memory_waste(app, NO_MEMORY_FLOOR)
    peak = max(e.peak_metrics["JVMHeapMemory"] for e in app.executors if e.id != "driver")
    recommended = parse_size(finding.config["spark.executor.memory"], "m") or 0
    # Peak plus headroom, never below 1 GiB, below the 7g the run reserved.
    assert peak * 1.25 <= recommended < 7 << 30
    assert recommended >= 1 << 30
    assert finding.evidence["peak_jvm_heap_bytes"] == peak
    assert finding.estimated_savings.memory_gib_hours > 0
    assert finding.estimated_savings.wall_ms == 0


def test_memory_waste_floor_keeps_short_runs_quiet() -> None:
    assert executor_memory_waste(read_application(MEMORY_LOG), Thresholds()) == []


def test_memory_is_not_judged_without_heap_metrics() -> None:
    assert (
        executor_memory_waste(read_application(LOGS / "skew_join_v4.zstd"), NO_MEMORY_FLOOR) == []
    )


def test_memory_waste_respects_the_peak_share() -> None:
    strict = Thresholds.model_validate(
        {"partition": {"memory_min_saved_gib_hours": 0, "memory_peak_share_warning": 0.05}}
    )
    assert executor_memory_waste(read_application(MEMORY_LOG), strict) == []
