"""The summary of real logs equals the facts Spark itself measured (labels.json)."""

from __future__ import annotations

from typing import Any

import pytest

from sparkcopilot.eventlog import read_application
from sparkcopilot.summary import summarize
from tests.conftest import CORPUS, LOGS, bundled_labels, corpus_labels


def _observed(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        **summary["counts"],
        **summary["totals"],
        "app_id": summary["app"]["id"],
        "app_name": summary["app"]["name"],
        "duration_ms": summary["app"]["duration_ms"],
        "spark_version": summary["app"]["spark_version"],
    }


def _check(path: Any, label: dict[str, Any]) -> None:
    summary = summarize(read_application(path)).to_json_dict()
    observed = _observed(summary)
    wrong = {k: (v, observed.get(k)) for k, v in label["facts"].items() if observed.get(k) != v}
    assert not wrong, f"facts differ (expected, got): {wrong}"
    source = summary["source"]
    assert (source["codec"], source["layout"], source["complete"]) == (
        label["codec"],
        label["layout"],
        label["complete"],
    )
    assert summary["app"]["spark_version"] == label["spark_version"]
    # Public labels also count the events and the malformed lines of each log.
    if "events" in label:
        assert summary["counts"]["events"] == label["events"]
        assert summary["counts"]["lines_malformed"] == label["malformed_lines"]


@pytest.mark.parametrize("name", sorted(bundled_labels()))
def test_bundled_log_matches_its_label(name: str) -> None:
    _check(LOGS / name, bundled_labels()[name])


# A log whose version the log itself never states (pre-1.3, no SparkListenerLogStart)
# must come out as None, not as a guess; every other fact is checked.
_VERSION_NOT_IN_LOG = {"public/apache-spark/local-1422981780767"}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(corpus_labels()) or ["<corpus absent>"])
def test_corpus_log_matches_its_label(name: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/eventlogs is not here")
    label = dict(corpus_labels()[name])
    if name in _VERSION_NOT_IN_LOG:
        label["spark_version"] = None
    _check(CORPUS / name, label)
