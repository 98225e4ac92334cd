"""Exactly one results message and one history append per analysis on the embedded
adapters, however recommend's deliveries race or crash; the history's stage and finding
rows. Failures are injected through port wrappers, never by patching the steps."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from sparkcopilot import resources
from sparkcopilot.config import load_settings
from sparkcopilot.eventlog import read_application
from sparkcopilot.pipeline.embedded import (
    InProcessBus,
    SqliteAnalysisHistory,
    SqliteAnalysisStore,
    embedded_pipeline,
)
from sparkcopilot.pipeline.steps import EffectInProgressError, Pipeline, ingest, recommend
from tests.conftest import LOGS

LOG = "skew_join_v4.zstd"
LEASE_S = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class SlowResultsBus:
    """A bus whose results publish takes a while: deliveries that race it overlap."""

    def __init__(self, bus: InProcessBus) -> None:
        self.bus = bus

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        if topic == resources.TOPIC_RESULTS:
            time.sleep(0.2)
        self.bus.publish(topic, data, attributes)


class CrashingResultsBus:
    """The instance dies once, after its lease and before the results message is out."""

    def __init__(self, bus: InProcessBus) -> None:
        self.bus = bus
        self.crashed = False

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        if topic == resources.TOPIC_RESULTS and not self.crashed:
            self.crashed = True
            raise ConnectionError("instance lost before the publish")
        self.bus.publish(topic, data, attributes)


class ReadingSubscriber:
    """A results subscriber that reads the analysis the moment its message is out."""

    def __init__(self, p: Pipeline) -> None:
        self.p = p
        self.seen: list[tuple[str, str]] = []

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        self.p.bus.publish(topic, data, attributes)
        if topic == resources.TOPIC_RESULTS:
            doc = self.p.store.get(attributes["analysis_id"]) or {}
            self.seen.append((attributes["status"], doc.get("status", "")))


def _dispatched(tmp_path: Path) -> tuple[Pipeline, InProcessBus, str]:
    """A log parsed and analyzed by every agent, its dispatch to recommend not delivered."""
    settings = load_settings({"SPARK_COPILOT_PIPELINE__CLAIM_LEASE_S": str(LEASE_S)})
    p, bus = embedded_pipeline(tmp_path, settings)
    bus._subscriptions[resources.TOPIC_DISPATCH] = []
    p.blobs.write("logs", LOG, (LOGS / LOG).read_bytes())
    found = p.blobs.stat("logs", LOG)
    assert found is not None
    analysis_id = ingest(p, found)
    assert analysis_id is not None
    bus.run()
    assert len(bus.published[resources.TOPIC_DISPATCH]) == 1
    return p, bus, analysis_id


def _results(bus: InProcessBus, analysis_id: str) -> list[dict[str, str]]:
    published = bus.published.get(resources.TOPIC_RESULTS, [])
    return [a for _, a in published if a["analysis_id"] == analysis_id]


def _redelivered_until_done(p: Pipeline, analysis_id: str) -> None:
    """recommend as Pub/Sub delivers it: again, as long as it raises."""
    while True:
        try:
            recommend(p, analysis_id)
        except EffectInProgressError:
            time.sleep(0.05)
            continue
        return


def test_history_holds_the_stage_attempts_and_findings_of_the_analysis(tmp_path: Path) -> None:
    p, _, analysis_id = _dispatched(tmp_path)
    recommend(p, analysis_id)
    recommend(p, analysis_id)  # redelivered: nothing more
    history = p.history
    assert isinstance(history, SqliteAnalysisHistory)
    app = read_application(LOGS / LOG)
    stages = history.recorded(resources.TABLE_STAGES, analysis_id)
    assert sorted((s["stage_id"], s["attempt"]) for s in stages) == sorted(
        s.key for s in app.stages
    )
    doc = p.store.get(analysis_id)
    assert doc is not None
    findings = history.recorded(resources.TABLE_FINDINGS, analysis_id)
    assert sorted(f["finding_id"] for f in findings) == sorted(f["id"] for f in doc["findings"])
    skew = next(f for f in findings if f["kind"] == "data_skew")
    assert skew["stage_ids"] and skew["saved_wall_ms"] >= 0
    busiest = max(stages, key=lambda s: s["tasks_ended"])
    assert busiest["task_ms_p50"] <= busiest["task_ms_p90"] <= busiest["task_ms_max"]
    assert [r.app_id for r in history.rows()] == [app.app.id]


def test_racing_deliveries_of_recommend_publish_one_result(tmp_path: Path) -> None:
    p, bus, analysis_id = _dispatched(tmp_path)
    slow = dataclasses.replace(p, bus=SlowResultsBus(bus))
    threads = [
        threading.Thread(target=_redelivered_until_done, args=(slow, analysis_id)) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [result] = _results(bus, analysis_id)
    assert result["status"] == "done"
    assert (p.store.get(analysis_id) or {})["status"] == "done"


def test_a_crash_between_lease_and_publish_sends_one_result_after_the_lease(
    tmp_path: Path,
) -> None:
    p, bus, analysis_id = _dispatched(tmp_path)
    clock = Clock()
    store = SqliteAnalysisStore(tmp_path / "analyses.sqlite", clock)
    crashing = CrashingResultsBus(bus)
    with pytest.raises(ConnectionError):
        recommend(dataclasses.replace(p, store=store, bus=crashing), analysis_id)
    again = dataclasses.replace(p, store=store)
    with pytest.raises(EffectInProgressError):  # the dead holder's lease still runs
        recommend(again, analysis_id)
    assert _results(bus, analysis_id) == []
    clock.now += LEASE_S
    recommend(again, analysis_id)  # the lease has run out: taken over
    recommend(again, analysis_id)
    [result] = _results(bus, analysis_id)
    assert result["status"] == "done"
    history = p.history
    assert isinstance(history, SqliteAnalysisHistory)
    stages = history.recorded(resources.TABLE_STAGES, analysis_id)
    assert len(stages) == len(read_application(LOGS / LOG).stages)


def test_the_document_is_finished_before_the_message_announcing_it(tmp_path: Path) -> None:
    p, _, analysis_id = _dispatched(tmp_path)
    subscriber = ReadingSubscriber(p)
    recommend(dataclasses.replace(p, bus=subscriber), analysis_id)
    p.blobs.write("logs", "broken.zstd", b"\x28\xb5\x2f\xfd" + b"\x00garbage" * 50)
    broken = p.blobs.stat("logs", "broken.zstd")
    assert broken is not None
    ingest(dataclasses.replace(p, bus=subscriber), broken)
    assert subscriber.seen == [("done", "done"), ("failed", "failed")]
