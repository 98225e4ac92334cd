"""full_scan on a real log: a selective filter over a scan that pruned nothing."""

from __future__ import annotations

from sparkcopilot.analysis.rules import RULES
from sparkcopilot.analysis.rules.full_scan import full_scan, prunable_scans
from sparkcopilot.analysis.thresholds import Thresholds
from sparkcopilot.eventlog import read_application
from tests.conftest import LOGS

#: The bundled logs are small: lift the size and savings floors to judge their shape.
NO_FLOORS = Thresholds.model_validate(
    {
        "metadata": {
            "scan_min_bytes": 0,
            "scan_min_rows": 0,
            "scan_min_savings_ms": 0,
            "scan_min_share_of_app": 0,
        }
    }
)


def test_rule_is_registered() -> None:
    assert full_scan in RULES


def test_filter_and_scan_rows_come_from_the_plan() -> None:
    app = read_application(LOGS / "healthy_narrow_v35")
    [scan] = prunable_scans(app)
    # qty > 3 over 3 M orders: the plan's own row counts, and the pushed column.
    assert scan.rows_scanned == 3_000_000
    assert 0 < scan.rows_kept < scan.rows_scanned
    assert scan.filter_columns == ("qty",)
    assert scan.bytes_read > 60 << 20


def test_a_filter_keeping_most_rows_is_not_a_full_scan() -> None:
    app = read_application(LOGS / "healthy_narrow_v35")
    [scan] = prunable_scans(app)
    assert scan.kept_share > 0.1
    assert full_scan(app, NO_FLOORS) == []


def test_a_selective_filter_over_an_unpruned_scan_is_reported() -> None:
    # 14 queries each read the 5 000 products to keep one category (~2 %).
    app = read_application(LOGS / "idle_executors_v4.zstd")
    [finding] = full_scan(app, NO_FLOORS)
    assert finding.kind == "full_scan"
    assert finding.agent == "metadata"
    assert finding.evidence["filter_columns"] == "category"
    assert finding.evidence["kept_share"] <= 0.1
    assert finding.evidence["queries"] == len(finding.scope.sql_ids) > 1
    assert finding.estimated_savings.wall_ms > 0


def test_floors_keep_small_scans_quiet() -> None:
    for log in (LOGS / "healthy_narrow_v35", LOGS / "idle_executors_v4.zstd"):
        assert full_scan(read_application(log), Thresholds()) == []
