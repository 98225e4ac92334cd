"""``spark-copilot analyze`` as a user runs it: every format, to stdout and with -o."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sparkcopilot.eventlog import read_application
from sparkcopilot.render.progress import reading_progress
from tests.conftest import LOGS

LOG = LOGS / "skew_join_v4.zstd"
TITLE = "Stage 4: slowest task ran"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkcopilot.cli", "analyze", str(LOG), *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("fmt", "start"),
    [
        ("text", "orders_segment_revenue  app-20261128142505-0000"),
        ("json", "{"),
        ("markdown", "# Spark Copilot analysis: orders"),
        ("html", "<!DOCTYPE html>"),
    ],
)
def test_every_format_goes_to_stdout(fmt: str, start: str) -> None:
    out = _run("--format", fmt)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(start)
    assert TITLE in out.stdout
    assert "\x1b" not in out.stdout  # piped: no colour
    assert out.stderr == ""  # a small log gets no progress bar


def test_text_is_the_default_format() -> None:
    assert _run().stdout == _run("--format", "text").stdout


@pytest.mark.parametrize("fmt", ["html", "markdown", "text"])
def test_output_file_gets_the_report_and_stdout_nothing(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"report.{fmt}"
    out = _run("--format", fmt, "-o", str(target))
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert target.read_text(encoding="utf-8") == _run("--format", fmt).stdout
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left


def test_unknown_format_is_bad_usage() -> None:
    out = _run("--format", "pdf")
    assert out.returncode == 2
    assert "invalid choice: 'pdf'" in out.stderr


class _Terminal(io.StringIO):
    """Standard error as a terminal would be."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_only_for_a_large_log() -> None:
    with reading_progress("x", io.StringIO(), min_bytes=0) as progress:
        assert progress is None
    small = _Terminal()
    with reading_progress(str(LOG), small) as progress:
        assert progress is not None
        read_application(LOG, progress=progress)
    assert small.getvalue() == ""
    shown = _Terminal()
    with reading_progress(str(LOG), shown, min_bytes=1) as progress:
        read_application(LOG, progress=progress)
    assert f"reading {LOG.name}" in shown.getvalue()


def test_summary_json_is_unchanged_by_progress_reporting() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sparkcopilot.cli", "summary", str(LOG), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["counts"]["tasks"] == 38
    assert out.stderr == ""
