"""Every class of bad input: a one-line reason, a defined exit code, nothing half-written."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import zstandard

from sparkcopilot.cli import main
from sparkcopilot.config import ReaderSettings
from sparkcopilot.errors import (
    EXIT_BAD_INPUT,
    EXIT_USAGE,
    CorruptLogError,
    LogTooLargeError,
    NotAnEventLogError,
)
from sparkcopilot.eventlog import read_application
from tests.conftest import DATA, LOGS

PLAIN = LOGS / "healthy_narrow_v35"
LZ4 = DATA / "codecs" / "too_few_partitions_v35.lz4"


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sparkcopilot.cli", *args],
        input=stdin,
        capture_output=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "no Spark listener events"),
        (b"\n\n  \n", "no Spark listener events"),
        (b"id,name,amount\n1,a,3.5\n2,b,4\n", "not JSON lines"),
        (bytes(range(256)) * 64, "binary data"),
        (b'{"name": "a", "rows": 3}\n{"name": "b", "rows": 4}\n', 'without an "Event"'),
        (b'[{"Event": "SparkListenerLogStart"}]\n', "not JSON lines"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "binary data"),
    ],
    ids=["empty", "blank", "csv", "binary", "json-not-events", "json-array", "png"],
)
def test_not_an_event_log(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "input"
    path.write_bytes(content)
    with pytest.raises(NotAnEventLogError, match=reason):
        read_application(path)
    result = _cli("summary", str(path))
    assert result.returncode == EXIT_BAD_INPUT
    err = result.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and str(path) in err and reason in err


def test_compressed_non_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n" * 100))
    with pytest.raises(NotAnEventLogError):
        read_application(path)


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    result = _cli("summary", str(tmp_path / "nope"))
    assert result.returncode == EXIT_BAD_INPUT
    assert b"no such file" in result.stderr


def test_malformed_lines_mid_file_are_skipped_and_counted(tmp_path: Path) -> None:
    lines = PLAIN.read_bytes().split(b"\n")
    broken = [*lines[:50], b'{"Event":"SparkListenerTaskEnd","Stage ID":', b"garbage", *lines[50:]]
    path = tmp_path / "broken"
    path.write_bytes(b"\n".join(broken))
    reference = read_application(PLAIN)
    app = read_application(path)
    assert app.counts.malformed_lines == 2
    assert len(app.tasks) == len(reference.tasks)
    assert app.source.complete


def test_unknown_event_types_are_ignored_and_counted(tmp_path: Path) -> None:
    lines = PLAIN.read_bytes().split(b"\n")
    vendor = b'{"Event":"com.example.VendorEvent","payload":{"x":[1,2,3]}}'
    path = tmp_path / "vendor"
    path.write_bytes(b"\n".join([lines[0], vendor, *lines[1:], vendor]))
    app = read_application(path)
    assert app.counts.unknown == 2
    assert app.counts.skipped == read_application(PLAIN).counts.skipped
    assert app.counts.by_type["com.example.VendorEvent"] == 2
    assert len(app.tasks) == len(read_application(PLAIN).tasks)


def test_corrupt_compressed_block_names_file_and_offset(tmp_path: Path) -> None:
    data = bytearray(LZ4.read_bytes())
    offset = 40_000
    data[offset : offset + 64] = bytes(64)  # wipe part of a block in the middle
    path = tmp_path / "corrupt.lz4"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptLogError) as caught:
        read_application(path)
    assert caught.value.offset is not None and caught.value.offset <= offset
    result = _cli("summary", str(path), "--format", "json")
    assert result.returncode == EXIT_BAD_INPUT
    err = result.stderr.decode()
    assert str(path) in err and "at byte" in err and len(err.strip().splitlines()) == 1
    assert result.stdout == b""


def test_log_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LogTooLargeError, match="max_log_bytes"):
        read_application(PLAIN, ReaderSettings(max_log_bytes=100_000))
    compressed = tmp_path / "log.zstd"
    compressed.write_bytes(zstandard.compress(PLAIN.read_bytes()))
    with pytest.raises(LogTooLargeError):
        read_application(compressed, ReaderSettings(max_log_bytes=100_000))


def test_size_limit_comes_from_the_environment(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sparkcopilot.cli", "summary", str(PLAIN)],
        capture_output=True,
        env={"SPARK_COPILOT_READER__MAX_LOG_BYTES": "1000", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == EXIT_BAD_INPUT
    assert b"over the limit" in result.stderr


def test_decompression_bomb_is_refused_quickly(tmp_path: Path) -> None:
    # 1 GiB of one repeated event compresses to ~32 KiB: far past any real log's ratio.
    line = b'{"Event":"SparkListenerUnpersistRDD","RDD ID":1}\n'
    compressor = zstandard.ZstdCompressor(level=19)
    chunk = line * ((1 << 20) // len(line))
    writer_buffer = io.BytesIO()
    with compressor.stream_writer(writer_buffer, closefd=False) as writer:
        for _ in range(1024):
            writer.write(chunk)
    path = tmp_path / "bomb.zstd"
    path.write_bytes(writer_buffer.getvalue())
    with pytest.raises(LogTooLargeError, match=r"ratio|expan"):
        read_application(path)


def test_bad_usage_exits_2() -> None:
    assert _cli("summary").returncode == EXIT_USAGE
    assert _cli("summary", str(PLAIN), "--format", "yaml").returncode == EXIT_USAGE
    assert _cli("frobnicate").returncode == EXIT_USAGE


def test_failed_run_leaves_no_output_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2\n")
    out = tmp_path / "summary.json"
    assert main(["summary", str(bad), "--format", "json", "--output", str(out)]) == EXIT_BAD_INPUT
    assert list(tmp_path.iterdir()) == [bad]


def test_corrupt_stream_stops_its_decoding_thread(tmp_path: Path) -> None:
    # Compressed streams are decoded one piece ahead in a thread: an error there must
    # reach the caller, and the thread must be gone afterwards.
    data = zstandard.compress(PLAIN.read_bytes() * 40)
    broken = data[: len(data) // 2] + bytes(4096) + data[len(data) // 2 + 4096 :]
    path = tmp_path / "broken.zstd"
    path.write_bytes(broken)
    before = threading.active_count()
    with pytest.raises(CorruptLogError):
        read_application(path, ReaderSettings(chunk_bytes=64 * 1024))
    assert threading.active_count() == before
