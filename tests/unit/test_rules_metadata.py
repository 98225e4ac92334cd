"""The metadata agent's rules: Python UDFs, missed broadcasts, cartesian joins, small files."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import pytest

from sparkcopilot.analysis.findings import Finding
from sparkcopilot.analysis.rules import RULES
from sparkcopilot.analysis.rules.broadcast import broadcast_join_missed
from sparkcopilot.analysis.rules.cartesian import cartesian_join
from sparkcopilot.analysis.rules.python_udf import python_udf
from sparkcopilot.analysis.rules.small_files import small_files
from sparkcopilot.analysis.thresholds import Thresholds
from sparkcopilot.eventlog import read_application
from sparkcopilot.model import Application
from tests.conftest import CORPUS, DATA, LOGS, bundled_labels, corpus_labels

METADATA_KINDS = {"python_udf", "broadcast_join_missed", "cartesian_join", "small_files"}
METADATA_RULES = (python_udf, broadcast_join_missed, cartesian_join, small_files)
# The bundled labels carry no expect_kinds: the codec copy of generated/python_udf_v4.lzf
# must give python_udf; the others (skew, spill, partitions, healthy, public) none of ours.
BUNDLED_EXPECT = {"../codecs/python_udf_v4.lzf": {"python_udf"}}


@cache
def _app(path: Path) -> Application:
    return read_application(path)


def _metadata(app: Application, thresholds: Thresholds | None = None) -> list[Finding]:
    limits = thresholds or Thresholds()
    return [f for rule in METADATA_RULES for f in rule(app, limits)]


def _serious_kinds(app: Application, thresholds: Thresholds | None = None) -> set[str]:
    return {f.kind for f in _metadata(app, thresholds) if f.severity != "info"}


def test_rules_are_registered() -> None:
    assert set(METADATA_RULES) <= set(RULES)


def test_healthy_log_gets_no_metadata_finding() -> None:
    assert _metadata(_app(LOGS / "healthy_narrow_v35")) == []


@pytest.mark.parametrize("name", sorted(bundled_labels()))
def test_bundled_logs_have_no_false_metadata_verdicts(name: str) -> None:
    label = bundled_labels()[name]
    kinds = _serious_kinds(_app(LOGS / name))
    expected = (set(label.get("expect_kinds") or []) | BUNDLED_EXPECT.get(name, set())) & (
        METADATA_KINDS
    )
    assert expected <= kinds
    assert kinds <= expected, f"false positive: {kinds - expected}"


def test_row_at_a_time_udf_is_found() -> None:
    app = _app(DATA / "codecs" / "python_udf_v4.lzf")
    (finding,) = python_udf(app, Thresholds())
    assert finding.severity == "warning"
    assert finding.agent == "metadata"
    assert finding.evidence["python_worker_ms"] >= 10_000  # type: ignore[operator]
    assert finding.evidence["rows_through_udf"] == 1_200_000
    assert "price_tier" in finding.title
    assert finding.config == {"spark.sql.execution.pythonUDF.arrow.enabled": "true"}
    assert finding.scope.sql_ids == (0,)
    assert finding.estimated_savings.wall_ms > 0
    # Raise the floor above the 30 s the UDF took: it stays, as info only.
    lenient = Thresholds.model_validate({"metadata": {"udf_min_python_ms": 60_000}})
    assert [f.severity for f in python_udf(app, lenient)] == ["info"]
    # A stricter critical band makes the same UDF critical.
    strict = Thresholds.model_validate({"metadata": {"udf_critical_python_ms": 20_000}})
    assert [f.severity for f in python_udf(app, strict)] == ["critical"]


def test_arrow_udfs_are_not_row_at_a_time() -> None:
    app = _app(DATA / "codecs" / "python_udf_v4.lzf")
    renamed = []
    for sql in app.sql_executions:
        plan = sql.plan
        assert plan is not None
        renamed.append(
            dataclasses.replace(sql, plan=_rename(plan, "BatchEvalPython", "ArrowEvalPython"))
        )
    arrow = dataclasses.replace(app, sql_executions=tuple(renamed))
    assert python_udf(arrow, Thresholds()) == []


def _rename(node, old: str, new: str):  # type: ignore[no-untyped-def]
    children = tuple(_rename(c, old, new) for c in node.children)
    name = new if node.name == old else node.name
    return dataclasses.replace(node, name=name, children=children)


def test_floors_and_overrides_for_plan_rules() -> None:
    # The skew log's sort-merge join has a ~40 MB side: no DataFlint band fits ...
    skew = _app(LOGS / "skew_join_v4.zstd")
    assert broadcast_join_missed(skew, Thresholds()) == []
    # ... until the small-side band is raised above it.
    wide = Thresholds.model_validate({"metadata": {"bcast_small_bytes": 64 << 20}})
    (finding,) = broadcast_join_missed(skew, wide)
    assert finding.severity == "warning"
    assert 32 << 20 < finding.evidence["small_side_bytes"] < 64 << 20  # type: ignore[operator]
    threshold = finding.config["spark.sql.autoBroadcastJoinThreshold"]
    assert threshold.endswith("m") and 32 < int(threshold[:-1]) <= 1024
    # A big-side floor above the 144 MB it shuffled leaves it at info.
    floor = wide.model_copy(
        update={"metadata": wide.metadata.model_copy(update={"bcast_min_big_bytes": 1 << 30})}
    )
    assert [f.severity for f in broadcast_join_missed(skew, floor)] == ["info"]


@pytest.mark.corpus
@pytest.mark.parametrize(
    "name",
    [
        "generated/broadcast_join_missed_v35.snappy",
        "generated/cartesian_join_v35.lzf",
        "generated/small_files_v35",
    ],
)
def test_generated_problem_logs_and_their_fixes(name: str) -> None:
    if not (CORPUS / name).exists():
        pytest.skip("../shared/eventlogs is not here")
    app = _app(CORPUS / name)
    findings = [f for f in _metadata(app) if f.severity != "info"]
    assert len(findings) == 1
    finding = findings[0]
    if finding.kind == "broadcast_join_missed":
        assert finding.evidence["small_side_bytes"] < 10 << 20  # type: ignore[operator]
        assert finding.config["spark.sql.autoBroadcastJoinThreshold"] == "10m"
        assert finding.config["spark.sql.adaptive.enabled"] == "true"
        assert "autoBroadcastJoinThreshold=-1" in finding.recommendation
    elif finding.kind == "cartesian_join":
        assert finding.evidence["row_pairs_compared"] == 64_000_000
        high = Thresholds.model_validate({"metadata": {"cartesian_min_pairs": 10**8}})
        assert cartesian_join(app, high) == []
    else:
        assert finding.kind == "small_files"
        assert finding.evidence["files"] == 800
        assert finding.scope.sql_ids == (0, 1)
        assert "spark.sql.files.openCostInBytes" in finding.config
        few = Thresholds.model_validate({"metadata": {"small_min_files": 1000}})
        assert small_files(app, few) == []


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(corpus_labels()) or ["<corpus absent>"])
def test_corpus_verdicts_for_metadata_kinds(name: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/eventlogs is not here")
    label = corpus_labels()[name]
    kinds = _serious_kinds(read_application(CORPUS / name))
    expected = set(label.get("expect_kinds") or []) & METADATA_KINDS
    assert expected <= kinds, f"missed: {expected - kinds}"
    if label.get("healthy") or name.startswith("generated/"):
        assert kinds <= expected, f"false positive: {kinds - expected}"
