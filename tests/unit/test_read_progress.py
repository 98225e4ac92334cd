"""``read_application(progress=...)``: told the stored bytes done as reading goes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sparkcopilot.config import ReaderSettings
from sparkcopilot.eventlog import read_application
from sparkcopilot.summary import summarize
from tests.conftest import DATA, LOGS

# Small pieces, so even these small logs are read in several.
SMALL_PIECES = ReaderSettings(chunk_bytes=64 * 1024)


def _calls(log: object) -> list[tuple[int, int]]:
    calls: list[tuple[int, int]] = []
    read_application(log, SMALL_PIECES, progress=lambda done, total: calls.append((done, total)))  # type: ignore[arg-type]
    return calls


def _stored_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() else path.stat().st_size


@pytest.mark.parametrize(
    "log",
    [
        LOGS / "healthy_narrow_v35",  # plain, read by file ranges
        LOGS / "skew_join_v4.zstd",
        DATA / "codecs" / "disk_spill_v4.snappy",
        DATA / "codecs" / "too_few_partitions_v35.lz4",
        DATA / "codecs" / "python_udf_v4.lzf",
        LOGS / "dbx_cluster_databricks_skew_v4",  # gzip parts then a plain one
    ],
    ids=lambda p: p.name,
)
def test_progress_is_monotonic_and_ends_at_the_stored_size(log: Path) -> None:
    calls = _calls(log)
    total = _stored_size(log)
    assert len(calls) > 2
    assert {t for _, t in calls} == {total}
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert done[-1] == total
    assert 0 < done[0] < total


def test_a_stream_has_no_total_and_ends_at_its_length() -> None:
    data = (LOGS / "skew_join_v4.zstd").read_bytes()
    calls = _calls(io.BytesIO(data))
    assert {t for _, t in calls} == {0}
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == len(data)


def test_progress_changes_nothing_in_the_model() -> None:
    log = LOGS / "healthy_narrow_v35"
    with_progress = read_application(log, SMALL_PIECES, progress=lambda done, total: None)
    assert summarize(with_progress) == summarize(read_application(log, SMALL_PIECES))
