"""``spark-copilot summary`` as a user runs it: the JSON contract of DESIGN.md §3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sparkcopilot.cli import main
from tests.conftest import LOGS, bundled_labels

LOG = LOGS / "skew_join_v4.zstd"

CONTRACT = {
    "schema": None,
    "source": {"path", "layout", "codec", "files", "bytes_read", "complete"},
    "app": {"id", "name", "user", "spark_version", "start_ms", "end_ms", "duration_ms"},
    "counts": {
        "jobs",
        "jobs_failed",
        "stages_completed",
        "stages_failed",
        "tasks",
        "tasks_failed",
        "executors",
        "sql_executions",
        "events",
        "events_unknown",
        "lines_malformed",
    },
    "totals": {
        "input_bytes",
        "output_bytes",
        "shuffle_read_bytes",
        "shuffle_write_bytes",
        "memory_spilled_bytes",
        "disk_spilled_bytes",
        "executor_run_time_ms",
        "jvm_gc_time_ms",
    },
}


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sparkcopilot.cli", *args],
        input=stdin,
        capture_output=True,
        check=True,
    )


def test_json_output_is_exactly_the_contract() -> None:
    out = json.loads(_run("summary", str(LOG), "--format", "json").stdout)
    assert set(out) >= set(CONTRACT)
    assert out["schema"] == "spark-copilot/summary/v1"
    for section, keys in CONTRACT.items():
        if keys is not None:
            assert set(out[section]) >= keys, section
    facts = bundled_labels()[LOG.name]["facts"]
    assert out["counts"]["tasks"] == facts["tasks"]
    assert out["app"]["duration_ms"] == facts["duration_ms"]


def test_stdin_dash_reads_the_log_from_standard_input() -> None:
    from_file = json.loads(_run("summary", str(LOG), "--format", "json").stdout)
    from_stdin = json.loads(_run("summary", "-", "--format", "json", stdin=LOG.read_bytes()).stdout)
    assert from_stdin["counts"] == from_file["counts"]
    assert from_stdin["totals"] == from_file["totals"]
    assert from_stdin["source"]["path"] == "<stdin>"


def test_text_output_names_the_application() -> None:
    text = _run("summary", str(LOG)).stdout.decode()
    facts = bundled_labels()[LOG.name]["facts"]
    assert facts["app_name"] in text and facts["app_id"] in text
    assert f"tasks {facts['tasks']}" in text


def test_output_file_is_written_whole(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    assert main(["summary", str(LOG), "--format", "json", "--output", str(out)]) == 0
    assert json.loads(out.read_text())["app"]["id"] == bundled_labels()[LOG.name]["facts"]["app_id"]
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
