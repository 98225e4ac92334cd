"""Event-loss detection (DESIGN.md §8) on real logs with lines taken out of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkcopilot.analysis import analyze
from sparkcopilot.analysis.report import analysis_report
from sparkcopilot.cli import main
from sparkcopilot.eventlog import read_application
from sparkcopilot.quality import LOSS_CONFIDENCE_FACTOR, data_quality
from tests.conftest import CORPUS, LOGS, bundled_labels, corpus_labels
from tests.lossy import log_lines

SKEW = LOGS / "skew_join_v4.zstd"
SKEW_LINES = log_lines(SKEW)

#: Complete corpus logs that are not intact as published: their publishers cut them
#: down (sparkscope keeps 1 of a stage's 600 task ends, or none at all), or broke a line
#: on purpose (the rapids tools' malformed-JSON test log loses its environment).
DAMAGED = {
    "public/ucesys-sparkscope/app-20231025121456-0004-eventLog-finished",
    "public/ucesys-sparkscope/app-20231122115433-0000-eventLog-finished-stages",
    "public/nvidia-spark-rapids-tools/malformed_json_eventlog.zstd",
}


def _event(line: bytes) -> str:
    name: str = json.loads(line)["Event"]
    return name


def _without(lines: list[bytes], drop: set[int], out: Path) -> Path:
    out.write_bytes(b"".join(x + b"\n" for i, x in enumerate(lines) if i not in drop))
    return out


def _kinds(path: Path) -> dict[str, tuple[int, ...]]:
    quality = data_quality(read_application(path))
    return {p.kind: p.stage_ids for p in quality.problems}


def _lines_of(event: str, stage_id: int | None = None) -> list[int]:
    out = []
    for i, line in enumerate(SKEW_LINES):
        if _event(line) != event:
            continue
        record = json.loads(line)
        stage = record.get("Stage ID", record.get("Stage Info", {}).get("Stage ID"))
        if stage_id is None or stage == stage_id:
            out.append(i)
    return out


@pytest.mark.parametrize(
    "name",
    [k for k, v in bundled_labels().items() if v["complete"] and not k.startswith("..")],
)
def test_intact_bundled_logs_report_no_loss(name: str) -> None:
    quality = data_quality(read_application(LOGS / name))
    assert quality.complete is True
    assert quality.event_loss is False, quality.problems


def test_a_log_cut_mid_run_is_incomplete_not_lossy() -> None:
    quality = data_quality(read_application(LOGS / "app-20261128143744-0000.inprogress"))
    assert (quality.complete, quality.event_loss, quality.problems) == (False, False, ())


def test_lost_task_ends_name_their_stage(tmp_path: Path) -> None:
    drop = set(_lines_of("SparkListenerTaskEnd", 4)[:3])
    kinds = _kinds(_without(SKEW_LINES, drop, tmp_path / "log"))
    assert kinds["missing_task_end"] == (4,)
    assert "unfinished_task" in kinds  # their starts are there, their ends are not


def test_lost_task_starts_name_their_stage(tmp_path: Path) -> None:
    drop = set(_lines_of("SparkListenerTaskStart", 5)[:2])
    assert _kinds(_without(SKEW_LINES, drop, tmp_path / "log")) == {"missing_task_start": (5,)}


def test_lost_stage_and_job_events_are_found(tmp_path: Path) -> None:
    drop = {
        _lines_of("SparkListenerStageSubmitted", 2)[0],
        _lines_of("SparkListenerStageCompleted", 3)[0],
        _lines_of("SparkListenerJobEnd")[0],
    }
    kinds = _kinds(_without(SKEW_LINES, drop, tmp_path / "log"))
    assert kinds["missing_stage_submit"] == (2,)
    assert kinds["missing_stage_end"] == (3,)
    assert "missing_job_end" in kinds


def test_times_running_backwards_are_impossible(tmp_path: Path) -> None:
    lines = list(SKEW_LINES)
    i = _lines_of("SparkListenerTaskEnd", 5)[0]
    record = json.loads(lines[i])
    record["Task Info"]["Finish Time"] = record["Task Info"]["Launch Time"] - 1000
    lines[i] = json.dumps(record).encode()
    assert _kinds(_without(lines, set(), tmp_path / "log")) == {"impossible_times": (5,)}


def test_findings_on_a_stage_with_lost_events_lose_confidence_and_say_why(
    tmp_path: Path,
) -> None:
    intact = analysis_report(app := read_application(SKEW), analyze(app, explained=False))
    skewed = next(f for f in intact["findings"] if f["kind"] == "data_skew")
    stage = skewed["scope"]["stage_ids"][0]
    # One of the stage's short tasks: the skew is still there to find.
    drop = {_lines_of("SparkListenerTaskEnd", stage)[0]}
    lossy = read_application(_without(SKEW_LINES, drop, tmp_path / "log"))
    report = analysis_report(lossy, analyze(lossy, explained=False))
    assert report["data_quality"]["event_loss"] is True
    after = next(f for f in report["findings"] if f["id"] == skewed["id"])
    assert after["confidence"] == round(skewed["confidence"] * LOSS_CONFIDENCE_FACTOR, 2)
    assert f"task ends lost in stages {stage}" in after["evidence"]["data_quality"]
    assert intact["data_quality"] == {"complete": True, "event_loss": False, "problems": []}


def test_summary_and_analyze_json_carry_the_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _without(SKEW_LINES, set(_lines_of("SparkListenerTaskEnd", 4)[:2]), tmp_path / "log")
    for command in (["summary"], ["analyze", "--no-history"]):
        assert main([*command, str(log), "--format", "json"]) == 0
        section = json.loads(capsys.readouterr().out)["data_quality"]
        assert section["event_loss"] is True
        assert {"kind": "missing_task_end", "count": 2, "stage_ids": [4]} in section["problems"]
    assert main(["summary", str(log)]) == 0
    assert "EVENT LOSS" in capsys.readouterr().out


_LOSABLE = [
    i
    for i, line in enumerate(SKEW_LINES)
    if _event(line)
    in {
        "SparkListenerTaskStart",
        "SparkListenerTaskEnd",
        "SparkListenerStageSubmitted",
        "SparkListenerStageCompleted",
        "SparkListenerJobStart",
        "SparkListenerJobEnd",
        "SparkListenerExecutorAdded",
        "SparkListenerEnvironmentUpdate",
        "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart",
        "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd",
    }
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drop=st.sets(st.sampled_from(_LOSABLE), min_size=1, max_size=6))
def test_any_lost_paired_event_is_detected(tmp_path: Path, drop: set[int]) -> None:
    quality = data_quality(read_application(_without(SKEW_LINES, drop, tmp_path / "log")))
    assert quality.complete is True
    assert quality.event_loss is True


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=4, max_value=len(SKEW_LINES) - 2), partial=st.booleans())
def test_a_log_cut_anywhere_is_incomplete_never_lossy(
    tmp_path: Path, cut: int, partial: bool
) -> None:
    """A live log, or an upload that stopped, at any line (mid-line or not)."""
    head = b"".join(x + b"\n" for x in SKEW_LINES[:cut])
    tail = SKEW_LINES[cut][: len(SKEW_LINES[cut]) // 2] if partial else b""
    (tmp_path / "log").write_bytes(head + tail)
    quality = data_quality(read_application(tmp_path / "log"))
    assert quality.complete is False
    assert quality.event_loss is False, quality.problems


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
@pytest.mark.parametrize(
    "name", sorted(k for k, v in corpus_labels().items() if v["complete"] and k not in DAMAGED)
)
def test_intact_corpus_logs_report_no_loss(name: str) -> None:
    quality = data_quality(read_application(CORPUS / name))
    assert quality.event_loss is False, quality.problems


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_cut_down_corpus_logs_report_loss(name: str) -> None:
    assert data_quality(read_application(CORPUS / name)).event_loss is True
