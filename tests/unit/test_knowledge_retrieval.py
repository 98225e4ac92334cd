"""Retrieval and explanations on real logs: the query set's recall, and every serious
finding citing an official page on its own topic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparkcopilot.analysis import analyze
from sparkcopilot.analysis.findings import Finding
from sparkcopilot.eventlog import read_application
from sparkcopilot.knowledge import explain, local_retriever
from sparkcopilot.knowledge.entries import OFFICIAL_DOMAINS, load_entries
from sparkcopilot.knowledge.evaluate import evaluate, load_cases
from sparkcopilot.knowledge.local import NumpyIndex
from tests.conftest import CORPUS, DATA, LOGS, bundled_labels, corpus_labels

QUERIES = DATA / "knowledge" / "queries.toml"


def test_query_set_recall_at_3_and_mrr() -> None:
    scores = evaluate(load_cases(QUERIES), local_retriever(), k=3)
    assert scores.recall >= 0.9, scores.misses
    assert scores.mrr >= 0.85, scores.misses


def _explained(log: Path) -> tuple[Finding, ...]:
    return explain(analyze(read_application(log), explained=False).findings)


def _assert_cited_on_topic(findings: tuple[Finding, ...]) -> None:
    kinds = {e.id: set(e.kinds) for e in load_entries()}
    for finding in findings:
        if finding.severity == "info":
            continue
        assert finding.references, finding.title
        assert any(finding.kind in kinds[r.kb_id] for r in finding.references), finding.title
        assert all(r.url.split("/")[2] in OFFICIAL_DOMAINS for r in finding.references)
        assert finding.explanation


@pytest.mark.parametrize("name", sorted(bundled_labels()))
def test_bundled_logs_cite_official_pages_on_topic(name: str) -> None:
    _assert_cited_on_topic(_explained(LOGS / name))


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(corpus_labels()) or ["<corpus absent>"])
def test_corpus_logs_cite_official_pages_on_topic(name: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/eventlogs is not here")
    _assert_cited_on_topic(_explained(CORPUS / name))


def test_skew_explanation_quotes_evidence_and_the_skew_join_page() -> None:
    findings = _explained(LOGS / "skew_join_v4.zstd")
    skew = next(f for f in findings if f.kind == "data_skew" and f.scope.stage_ids == (4,))
    assert skew.references[0].kb_id == "aqe-skew-join"
    assert skew.references[0].url.startswith("https://spark.apache.org/docs/")
    assert f"max over median {skew.evidence['max_over_median']}" in skew.explanation
    assert "spark.sql.adaptive.skewJoin.enabled" in skew.explanation
    assert _explained(LOGS / "skew_join_v4.zstd") == findings  # deterministic


def test_numpy_index_replaces_on_upsert_and_filters_on_metadata() -> None:
    index = NumpyIndex()
    unit = np.eye(3, dtype=np.float32)
    index.upsert(["a", "b", "c"], unit, [{"kind": ["x"]}, {"kind": ["y"]}, {"kind": ["x", "y"]}])
    assert index.query(unit[1], 3)[0].id == "b"
    assert [n.id for n in index.query(unit[1], 3, allow={"kind": ["x"]})] == ["a", "c"]
    index.upsert(["b"], unit[:1], [{"kind": ["y"]}])
    assert index.query(unit[0], 1, allow={"kind": ["y"]})[0].id == "b"
    assert index.query(unit[0], 1, allow={"kind": ["y"]})[0].score == pytest.approx(1.0)
