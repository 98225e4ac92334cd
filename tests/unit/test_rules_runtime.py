"""The runtime agent's rules: task failures, GC pressure, idle executors, driver gaps."""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import pytest

from sparkcopilot.analysis import analyze
from sparkcopilot.analysis.findings import Finding
from sparkcopilot.analysis.rules import RULES
from sparkcopilot.analysis.rules.driver import driver_bottleneck
from sparkcopilot.analysis.rules.failures import task_failures
from sparkcopilot.analysis.rules.gc import gc_pressure
from sparkcopilot.analysis.rules.idle import idle_executors
from sparkcopilot.analysis.thresholds import Thresholds
from sparkcopilot.eventlog import read_application
from sparkcopilot.model import Application, TaskFailure, TaskOutcome
from tests.conftest import CORPUS, LOGS, bundled_labels, corpus_labels

RUNTIME_KINDS = {"task_failures", "gc_pressure", "idle_executors", "driver_bottleneck"}
RUNTIME_RULES = (task_failures, gc_pressure, idle_executors, driver_bottleneck)


@cache
def _app(name: str) -> Application:
    return read_application(LOGS / name)


def _runtime(app: Application, thresholds: Thresholds | None = None) -> list[Finding]:
    limits = thresholds or Thresholds()
    return [f for rule in RUNTIME_RULES for f in rule(app, limits)]


def _serious_kinds(app: Application, thresholds: Thresholds | None = None) -> set[str]:
    return {f.kind for f in _runtime(app, thresholds) if f.severity != "info"}


def test_rules_are_registered() -> None:
    assert set(RUNTIME_RULES) <= set(RULES)


def test_healthy_log_gets_no_runtime_finding() -> None:
    assert _runtime(_app("healthy_narrow_v35")) == []
    kinds = {f.kind for f in analyze(_app("healthy_narrow_v35")).findings}
    assert not kinds & RUNTIME_KINDS


@pytest.mark.parametrize("name", sorted(bundled_labels()))
def test_bundled_logs_have_no_false_runtime_verdicts(name: str) -> None:
    label = bundled_labels()[name]
    kinds = _serious_kinds(read_application(LOGS / name))
    expected = set(label.get("expect_kinds") or []) & RUNTIME_KINDS
    assert expected <= kinds
    if label.get("healthy") or label.get("facts", {}).get("spark_version", "").startswith(
        ("3.5", "4.")
    ):
        assert kinds <= expected, f"false positive: {kinds}"


def test_driver_gaps_found_on_a_driver_bound_log() -> None:
    # A public Spark 2 log: six tiny jobs spread over half a minute of driver work.
    found = [f for f in _runtime(_app("spark2-eventlog.zstd")) if f.kind == "driver_bottleneck"]
    assert len(found) == 1
    finding = found[0]
    assert finding.severity == "critical"
    assert finding.evidence["driver_share"] >= 0.75  # type: ignore[operator]
    assert finding.evidence["driver_gap_ms"] >= 10_000  # type: ignore[operator]
    assert finding.estimated_savings.wall_ms > 0
    # The same log under a stricter band is left alone.
    strict = Thresholds.model_validate({"runtime": {"driver_share_warning": 0.99}})
    assert "driver_bottleneck" not in _serious_kinds(_app("spark2-eventlog.zstd"), strict)


def _with_idle_executors(app: Application, extra: int) -> Application:
    template = next(e for e in app.executors if e.id != "driver")
    added = [
        dataclasses.replace(template, id=f"idle-{i}", removed_ms=None, removed_reason=None)
        for i in range(extra)
    ]
    return dataclasses.replace(app, executors=(*app.executors, *added))


def test_idle_executors_found_when_slots_outnumber_tasks() -> None:
    app = _with_idle_executors(_app("healthy_narrow_v35"), extra=6)
    found = [f for f in _runtime(app) if f.kind == "idle_executors"]
    assert len(found) == 1
    finding = found[0]
    assert finding.severity in {"warning", "critical"}
    assert finding.evidence["executors"] == 8
    cfg = finding.config
    low, initial, high = (
        int(cfg[f"spark.dynamicAllocation.{k}Executors"]) for k in ("min", "initial", "max")
    )
    assert low <= initial <= high <= 8
    assert finding.estimated_savings.core_hours > 0
    # Two executors more are within the healthy run's own idleness: below the band.
    assert "idle_executors" not in _serious_kinds(
        _with_idle_executors(_app("healthy_narrow_v35"), extra=0)
    )
    lenient = Thresholds.model_validate({"runtime": {"idle_share_warning": 0.95}})
    assert "idle_executors" not in _serious_kinds(app, lenient)


def _with_failures(app: Application, count: int, message: str) -> Application:
    outcome = app.tasks.outcome.copy()
    outcome[:count] = int(TaskOutcome.EXCEPTION_FAILURE)
    tasks = dataclasses.replace(app.tasks, outcome=outcome)
    failures = tuple(
        TaskFailure(
            stage_id=int(app.tasks.stage_id[i]),
            stage_attempt=int(app.tasks.stage_attempt[i]),
            task_id=int(app.tasks.task_id[i]),
            executor_id="0",
            outcome=TaskOutcome.EXCEPTION_FAILURE,
            message=message,
        )
        for i in range(count)
    )
    return dataclasses.replace(app, tasks=tasks, task_failures=failures)


def test_failed_tasks_are_reported_with_their_message() -> None:
    app = _with_failures(
        _app("healthy_narrow_v35"), 1, "java.lang.OutOfMemoryError: Java heap space"
    )
    (finding,) = [f for f in _runtime(app) if f.kind == "task_failures"]
    assert finding.severity == "warning"
    assert "Java heap space" in finding.recommendation
    assert "spark.executor.memoryOverhead" in finding.config
    assert finding.evidence["failed_task_attempts"] == 1


def test_many_failed_tasks_are_critical() -> None:
    base = _app("skew_join_v4.zstd")
    app = _with_failures(base, 12, "corrupt record 17")
    (finding,) = [f for f in _runtime(app) if f.kind == "task_failures"]
    assert finding.severity == "critical"
    assert finding.evidence["dominant_failure_count"] == 12
    strict = Thresholds.model_validate(
        {"runtime": {"failed_tasks_critical": 50, "failure_rate_critical": 0.9}}
    )
    (lenient,) = [f for f in _runtime(app, strict) if f.kind == "task_failures"]
    assert lenient.severity == "warning"


def test_gc_pressure_bands_and_floor() -> None:
    base = _app("skew_join_v4.zstd")
    # Ten times the run time (about 410 s of task time), so GC clears the 20 s floor.
    run = base.tasks.run_ms * 10
    for share, severity in ((0.12, "warning"), (0.4, "critical")):
        gc = (run * share).astype(np.int64)
        tasks = dataclasses.replace(base.tasks, run_ms=run, gc_ms=gc)
        app = dataclasses.replace(base, tasks=tasks)
        (finding,) = [f for f in _runtime(app) if f.kind == "gc_pressure"]
        assert finding.severity == severity
        assert "-XX:+UseG1GC" in finding.config["spark.executor.extraJavaOptions"]
        assert finding.estimated_savings.wall_ms > 0
    # The real log's GC (about 1.4 s, 3 %) is no pressure; nor is 40 % under a high floor.
    assert "gc_pressure" not in _serious_kinds(base)
    floor = Thresholds.model_validate({"runtime": {"min_gc_ms": 10_000_000}})
    assert "gc_pressure" not in _serious_kinds(app, floor)


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(corpus_labels()) or ["<corpus absent>"])
def test_corpus_verdicts_for_runtime_kinds(name: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/eventlogs is not here")
    label = corpus_labels()[name]
    kinds = _serious_kinds(read_application(CORPUS / name))
    expected = set(label.get("expect_kinds") or []) & RUNTIME_KINDS
    assert expected <= kinds, f"missed: {expected - kinds}"
    if label.get("healthy") or name.startswith("generated/"):
        assert kinds <= expected, f"false positive: {kinds - expected}"


@pytest.mark.corpus
def test_gc_in_rdd_code_with_java_serialisation_asks_for_kryo() -> None:
    rdd_log = CORPUS / "public" / "groupon-sparklint" / "event_log_0"
    sql_log = CORPUS / "generated" / "gc_pressure_v4.zstd"
    if not rdd_log.exists():
        pytest.skip("../shared/eventlogs is not here")
    [rdd] = gc_pressure(read_application(rdd_log), Thresholds())
    assert rdd.config["spark.serializer"] == "org.apache.spark.serializer.KryoSerializer"
    # GC in SQL stages: Spark SQL's rows are not Java-serialised; Kryo would not help.
    [sql] = gc_pressure(read_application(sql_log), Thresholds())
    assert "spark.serializer" not in sql.config
