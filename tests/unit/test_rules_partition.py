"""The partition agent's rules (disk_spill, too_many_partitions, too_few_partitions) on
real logs: injected problems found with consistent settings, healthy logs left alone."""

from __future__ import annotations

import pytest

from sparkcopilot.analysis.findings import Finding
from sparkcopilot.analysis.rules import RULES
from sparkcopilot.analysis.rules.partitions import partition_counts
from sparkcopilot.analysis.rules.spill import disk_spill
from sparkcopilot.analysis.thresholds import Thresholds
from sparkcopilot.eventlog import read_application
from tests.conftest import CORPUS, DATA, LOGS, corpus_labels

KINDS = {"disk_spill", "too_many_partitions", "too_few_partitions"}
CODECS = DATA / "codecs"


def _serious(log: object, thresholds: Thresholds | None = None) -> list[Finding]:
    app = read_application(log)  # type: ignore[arg-type]
    limits = thresholds or Thresholds()
    found = disk_spill(app, limits) + partition_counts(app, limits)
    return [f for f in found if f.severity != "info"]


def test_rules_are_registered() -> None:
    assert disk_spill in RULES
    assert partition_counts in RULES


def test_spill_is_found_with_a_consistent_fix() -> None:
    found = _serious(CODECS / "disk_spill_v4.snappy")
    assert [(f.kind, f.scope.stage_ids) for f in found] == [("disk_spill", (3,))]
    spill = found[0]
    assert spill.agent == "partition"
    assert spill.evidence["disk_spilled_bytes"] > 64 << 20
    # The log lowered spark.memory.fraction to 0.1: restore the default.
    assert spill.config["spark.memory.fraction"] == "0.6"
    # At least spark-rapids' x2 of the 4 spilling tasks, a multiple of the 2 cores.
    partitions = int(spill.config["spark.sql.shuffle.partitions"])
    assert partitions >= 8
    assert partitions % 2 == 0
    assert 0 < spill.estimated_savings.wall_ms < spill.evidence["stage_duration_ms"]


def test_spill_cost_is_priced_at_the_disk_rate_the_log_measured() -> None:
    app = read_application(CODECS / "disk_spill_v4.snappy")
    written = int(app.tasks.shuffle_write_bytes.sum())
    rate = written / (float(app.tasks.shuffle_write_time_ns.sum()) / 1e9)
    assumed_rate = Thresholds().partition.spill_disk_bytes_per_s
    never_measured = Thresholds.model_validate(
        {"partition": {"spill_rate_min_write_bytes": written + 1}}
    )
    [measured] = disk_spill(app, Thresholds())
    [assumed] = disk_spill(app, never_measured)
    assert measured.estimated_savings.wall_ms > 0
    # Faster measured writes than the assumed rate make the spill cheaper, and back.
    assert (measured.estimated_savings.wall_ms < assumed.estimated_savings.wall_ms) == (
        rate > assumed_rate
    )


def test_spill_in_a_log_cut_mid_line() -> None:
    kinds = {f.kind for f in _serious(LOGS / "app-20261128143744-0000.inprogress")}
    assert kinds == {"disk_spill"}


def test_one_partition_of_compute_heavy_rows_is_too_few_though_it_reads_little() -> None:
    # Under 10 MB shuffled into one task that hashes each row 12 times for ~10 s: bytes
    # alone would call it too small to split; its task time says otherwise.
    found = _serious(LOGS / "compute_heavy_one_partition.zstd")
    assert [f.kind for f in found] == ["too_few_partitions"]
    few = found[0]
    assert few.evidence["tasks"] == 1
    partitions = int(few.config["spark.sql.shuffle.partitions"])
    assert partitions >= few.evidence["cores"] == 2
    assert few.estimated_savings.wall_ms > 0


def test_one_shuffle_partition_is_too_few() -> None:
    found = _serious(CODECS / "too_few_partitions_v35.lz4")
    assert [(f.kind, f.scope.stage_ids) for f in found] == [("too_few_partitions", (4,))]
    few = found[0]
    assert few.evidence["tasks"] == 1
    assert few.evidence["cores"] == 2
    partitions = int(few.config["spark.sql.shuffle.partitions"])
    assert partitions > 1
    assert partitions % 2 == 0
    assert few.estimated_savings.wall_ms > 0


@pytest.mark.parametrize(
    "log",
    [
        LOGS / "healthy_narrow_v35",
        LOGS / "skew_join_v4.zstd",
        CODECS / "python_udf_v4.lzf",
    ],
    ids=lambda p: p.name,
)
def test_no_partition_finding_where_there_is_no_partition_problem(log: object) -> None:
    assert _serious(log) == []


def test_thresholds_change_the_verdict() -> None:
    lenient_spill = Thresholds.model_validate({"partition": {"spill_min_disk_bytes": 1 << 30}})
    assert _serious(CODECS / "disk_spill_v4.snappy", lenient_spill) == []
    long_stages_only = Thresholds.model_validate({"partition": {"min_stage_ms": 60_000}})
    assert _serious(CODECS / "too_few_partitions_v35.lz4", long_stages_only) == []
    # Stricter the other way: a 0.95 spill ratio makes the 0.89 spill a mere warning.
    strict = Thresholds.model_validate({"partition": {"spill_ratio_critical": 0.95}})
    assert [f.severity for f in _serious(CODECS / "disk_spill_v4.snappy", strict)] == ["warning"]


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(corpus_labels()) or ["<corpus absent>"])
def test_corpus_verdicts_for_partition_kinds(name: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/eventlogs is not here")
    label = corpus_labels()[name]
    found = _serious(CORPUS / name)
    kinds = {f.kind for f in found}
    expected = set(label.get("expect_kinds") or []) & KINDS
    assert expected <= kinds, f"missed: {expected - kinds}"
    if label.get("healthy") or name.startswith("generated/"):
        assert kinds & KINDS <= expected, f"false positive: {[f.title for f in found]}"
    for finding in found:
        # Every recommended partition count is a whole number of waves on the cores.
        for key in ("spark.sql.shuffle.partitions", "spark.default.parallelism"):
            if key in finding.config:
                assert int(finding.config[key]) % int(finding.evidence["cores"]) == 0


@pytest.mark.corpus
def test_unsplittable_input_files_get_a_code_fix_not_a_split_size() -> None:
    log = CORPUS / "public" / "synccomputing-spark-log-parser" / "databricks.json.gz"
    if not log.exists():
        pytest.skip("../shared/eventlogs is not here")
    # Ten gzip files of ~180 MiB: one task each whatever the split size says.
    found = [f for f in _serious(log) if f.kind == "too_few_partitions"]
    assert found
    for finding in found:
        assert finding.evidence["unsplittable_input_files"] == finding.evidence["tasks"]
        assert "spark.sql.files.maxPartitionBytes" not in finding.config
        assert "not splittable" in finding.recommendation
