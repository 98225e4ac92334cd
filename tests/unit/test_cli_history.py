"""analyze records each run in the local history that train learns from."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from sparkcopilot.cli import main
from tests.conftest import LOGS


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        return sum(db.execute(f"select count(*) from {t}").fetchone()[0] for t in tables)


def test_analyze_appends_the_run_to_the_history(tmp_path: Path) -> None:
    history = Path(os.environ["SPARK_COPILOT_HISTORY__PATH"])
    assert main(["analyze", str(LOGS / "skew_join_v4.zstd"), "-o", str(tmp_path / "r.txt")]) == 0
    assert history.is_file() and _rows(history) > 0
    before = _rows(history)
    # The same application again replaces its row; --no-history adds nothing.
    assert main(["analyze", str(LOGS / "skew_join_v4.zstd"), "-o", str(tmp_path / "r.txt")]) == 0
    assert _rows(history) == before
    assert (
        main(
            [
                "analyze",
                str(LOGS / "healthy_narrow_v35"),
                "--no-history",
                "-o",
                str(tmp_path / "r.txt"),
            ]
        )
        == 0
    )
    assert _rows(history) == before


def test_an_unwritable_history_is_a_warning_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SPARK_COPILOT_HISTORY__PATH", str(blocker / "history.sqlite"))
    assert main(["analyze", str(LOGS / "skew_join_v4.zstd"), "-o", str(tmp_path / "r.txt")]) == 0
    assert "warning: run not recorded" in capsys.readouterr().err
    assert (tmp_path / "r.txt").read_text()
