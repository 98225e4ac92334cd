"""The knowledge base: every entry valid and official, every kind and recommended setting
covered, and a broken entry fails the build with one line naming the file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from sparkcopilot.analysis.findings import Kind
from sparkcopilot.knowledge.entries import (
    KB_DIR,
    OFFICIAL_DOMAINS,
    KnowledgeBaseError,
    chunk_entry,
    load_entries,
    parse_entry,
)
from sparkcopilot.knowledge.index import build_index, load_index, save_index

# What the rules recommend today, plus the settings coming with the next rules.
RECOMMENDED = {
    "spark.sql.adaptive.enabled",
    "spark.sql.adaptive.coalescePartitions.enabled",
    "spark.sql.adaptive.advisoryPartitionSizeInBytes",
    "spark.sql.adaptive.localShuffleReader.enabled",
    "spark.sql.adaptive.skewJoin.enabled",
    "spark.sql.adaptive.skewJoin.skewedPartitionFactor",
    "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes",
    "spark.sql.autoBroadcastJoinThreshold",
    "spark.sql.shuffle.partitions",
    "spark.default.parallelism",
    "spark.sql.files.maxPartitionBytes",
    "spark.sql.files.openCostInBytes",
    "spark.sql.execution.pythonUDF.arrow.enabled",
    "spark.sql.parquet.filterPushdown",
    "spark.executor.memory",
    "spark.executor.cores",
    "spark.executor.memoryOverhead",
    "spark.executor.extraJavaOptions",
    "spark.memory.fraction",
    "spark.serializer",
    "spark.kryoserializer.buffer.max",
    "spark.dynamicAllocation.enabled",
    "spark.dynamicAllocation.minExecutors",
    "spark.dynamicAllocation.initialExecutors",
    "spark.dynamicAllocation.maxExecutors",
    "spark.dynamicAllocation.executorIdleTimeout",
    "spark.dynamicAllocation.shuffleTracking.enabled",
    "spark.shuffle.service.enabled",
    "spark.shuffle.io.maxRetries",
    "spark.shuffle.io.retryWait",
    "spark.task.maxFailures",
    "spark.driver.maxResultSize",
    "spark.databricks.delta.optimizeWrite.enabled",
    "spark.databricks.delta.autoCompact.enabled",
}


def test_entries_are_valid_official_and_cover_every_kind_and_setting() -> None:
    entries = load_entries()
    assert len(entries) >= 40
    assert all(e.url.startswith("https://") for e in entries)
    assert {k for e in entries for k in e.kinds} == set(get_args(Kind))
    assert {key for e in entries for key in e.config} >= RECOMMENDED
    assert all(len(chunk_entry(e)) >= 2 and e.summary for e in entries)


def _broken_kb(tmp_path: Path, name: str, old: str, new: str) -> Path:
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    path = kb / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return kb


def _check(kb: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkcopilot.knowledge.build", "--check", "--kb", str(kb)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_build_check_passes_on_the_shipped_entries() -> None:
    result = _check(KB_DIR)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


@pytest.mark.parametrize(
    ("name", "old", "new", "problem"),
    [
        ("aqe-skew-join.md", 'title = "AQE', "title = AQE", "front matter"),
        ("aqe-skew-join.md", "+++\n\nWhen one key", "\nWhen one key", "no closing +++"),
        (
            "broadcast-join-threshold.md",
            "https://spark.apache.org/docs",
            "https://sparkbyexamples.com/docs",
            "not an https page of official docs",
        ),
        (
            "gc-tuning.md",
            'kinds = ["gc_pressure"]',
            'kinds = ["gc_presure"]',
            "unknown finding kind",
        ),
        ("gc-tuning.md", 'id = "gc-tuning"', 'id = "gc"', "must match the file name"),
        ("gc-tuning.md", "+++\n", "+++\nowner = 'x'\n", "owner: Extra inputs"),
    ],
)
def test_a_broken_entry_fails_the_build_with_one_line(
    tmp_path: Path, name: str, old: str, new: str, problem: str
) -> None:
    result = _check(_broken_kb(tmp_path, name, old, new))
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert name in lines[0] and problem in lines[0]


def test_official_domains_are_documentation_sites() -> None:
    assert "spark.apache.org" in OFFICIAL_DOMAINS
    assert not any("github" in d or "medium" in d for d in OFFICIAL_DOMAINS)


def test_plain_http_is_refused(tmp_path: Path) -> None:
    kb = _broken_kb(tmp_path, "speculation.md", "https://spark", "http://spark")
    with pytest.raises(KnowledgeBaseError, match=r"speculation\.md: .*official docs"):
        parse_entry(kb / "speculation.md")


def test_index_round_trips_through_its_file(tmp_path: Path) -> None:
    built = build_index()
    path = tmp_path / "index.npz"
    save_index(built, path)
    loaded = load_index(path)
    assert loaded.entries == built.entries
    assert loaded.chunks == built.chunks
    assert loaded.digest == built.digest
    assert (loaded.vectors == built.vectors).all()
    text = "skewed shuffle partition"
    assert (loaded.embedder.embed_query(text) == built.embedder.embed_query(text)).all()
