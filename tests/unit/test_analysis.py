"""The analysis on real logs: injected problems found, healthy logs left alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
import zstandard

from sparkcopilot.analysis import analyze
from sparkcopilot.analysis.findings import Kind, finding_id
from sparkcopilot.analysis.thresholds import Thresholds
from sparkcopilot.eventlog import read_application
from tests.conftest import CORPUS, LOGS, corpus_labels

# Every kind the analysis can report at warning or above (cost is always info).
RULED_KINDS = set(get_args(Kind)) - {"cost"}


def _serious(
    log: object, thresholds: Thresholds | None = None
) -> list[tuple[str, tuple[int, ...]]]:
    app = read_application(log)  # type: ignore[arg-type]
    return [
        (f.kind, f.scope.stage_ids)
        for f in analyze(app, thresholds).findings
        if f.severity != "info"
    ]


def test_skewed_join_is_found_on_its_stage() -> None:
    assert ("data_skew", (4,)) in _serious(LOGS / "skew_join_v4.zstd")
    assert ("data_skew", (4,)) in _serious(LOGS / "dbx_cluster_databricks_skew_v4")


def test_skew_fix_splits_the_hot_partition_across_the_cores() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    [skew] = [f for f in analyze(app).findings if f.kind == "data_skew"]
    hot = skew.evidence["max_task_read_bytes"]
    config = skew.config
    # AQE would keep a partition under the advisory size whole: pieces for two per core.
    piece = int(config["spark.sql.adaptive.advisoryPartitionSizeInBytes"].removesuffix("m"))
    assert piece << 20 <= hot // (2 * 2)  # two cores (local-cluster[2,1,1024])
    threshold = config["spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes"]
    assert int(threshold.removesuffix("m")) << 20 <= hot
    # The stage ran its straggler beside the other tasks on the second core: splitting
    # saves at most its span less its work over both cores.
    stage = next(s for s in app.stages if s.stage_id == 4)
    work_ms = int(app.stage_tasks(stage).duration_ms.sum())
    assert 0 <= skew.estimated_savings.wall_ms <= (stage.duration_ms or 0) - work_ms // 2


def test_healthy_log_gets_no_warning() -> None:
    assert _serious(LOGS / "healthy_narrow_v35") == []


def test_thresholds_change_the_verdict() -> None:
    strict = Thresholds.model_validate({"skew": {"ratio_warning": 50, "ratio_critical": 60}})
    assert _serious(LOGS / "skew_join_v4.zstd", strict) == []


def test_finding_ids_are_stable_and_distinct() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    first = analyze(app).findings
    assert [f.id for f in first] == [f.id for f in analyze(app).findings]
    assert all(f.id == finding_id(f.kind, f.scope) for f in first)


def test_analyze_json_follows_the_contract() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparkcopilot.cli",
            "analyze",
            str(LOGS / "skew_join_v4.zstd"),
            "--format",
            "json",
        ],
        capture_output=True,
        check=True,
    )
    report = json.loads(out.stdout)
    assert report["schema"] == "spark-copilot/analysis/v1"
    assert set(report["agents"]) == {"metadata", "partition", "runtime", "skew", "delta", "cost"}
    finding = report["findings"][0]
    assert set(finding) >= {
        "id",
        "kind",
        "agent",
        "severity",
        "title",
        "scope",
        "evidence",
        "recommendation",
        "config",
        "estimated_savings",
        "confidence",
        "references",
        "explanation",
    }


def _without(tmp_path: Path, log: Path, *events: bytes) -> Path:
    """The real log with whole event kinds removed, as lost or never-written logs are."""
    with log.open("rb") as raw:
        if log.suffix == ".zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            data = reader.read()
        else:
            data = raw.read()
    lines = data.split(b"\n")
    path = tmp_path / f"{log.name}.cut"
    path.write_bytes(b"\n".join(x for x in lines if not any(e in x[:60] for e in events)))
    return path


def test_log_without_tasks_says_what_it_could_not_judge(tmp_path: Path) -> None:
    path = _without(tmp_path, LOGS / "healthy_narrow_v35", b'"SparkListenerTask')
    result = analyze(read_application(path))
    # Only the bill, from the executors' lifetimes: no task, no finding.
    assert [f.kind for f in result.findings] == ["cost"]
    assert ("skew", "the log has no task events") in result.not_judged


def test_log_without_executor_events_still_analyzes(tmp_path: Path) -> None:
    path = _without(
        tmp_path,
        LOGS / "skew_join_v4.zstd",
        b'"SparkListenerExecutor',
        b'"SparkListenerBlockManager',
    )
    result = analyze(read_application(path))
    assert ("data_skew", (4,)) in [(f.kind, f.scope.stage_ids) for f in result.findings]
    assert ("runtime", "idle executors: the log has no executor events") in result.not_judged


def test_log_without_sql_events_still_analyzes(tmp_path: Path) -> None:
    path = _without(tmp_path, LOGS / "skew_join_v4.zstd", b'"org.apache.spark.sql.execution.ui')
    app = read_application(path)
    assert app.sql_executions == ()
    result = analyze(app)
    assert "data_skew" in {f.kind for f in result.findings}
    assert result.agents["metadata"].findings == ()
    assert any("no SQL events" in why for agent, why in result.not_judged if agent == "metadata")


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(corpus_labels()) or ["<corpus absent>"])
def test_corpus_verdicts_for_ruled_kinds(name: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/eventlogs is not here")
    label = corpus_labels()[name]
    found = _serious(CORPUS / name)
    kinds = {kind for kind, _ in found}
    expected = set(label.get("expect_kinds") or []) & RULED_KINDS
    assert expected <= kinds
    # A healthy log, or a generated log with one injected problem, reports nothing else.
    # (The runtime series is labeled neither healthy nor with a problem: not judged.)
    if label.get("healthy") or (name.startswith("generated/") and expected):
        assert kinds & RULED_KINDS <= expected, f"false positive: {found}"
    if "data_skew" in expected and label.get("expect_stage_ids"):
        stages = {s for kind, ids in found if kind == "data_skew" for s in ids}
        assert set(label["expect_stage_ids"]) <= stages
