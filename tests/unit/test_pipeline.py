"""The pipeline's steps on the embedded adapters: real logs through ingest, the agents'
fan-out and recommend, with redelivery, crashes and poison input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from sparkcopilot import resources
from sparkcopilot.analysis import analyze
from sparkcopilot.config import load_settings
from sparkcopilot.eventlog import read_application
from sparkcopilot.pipeline.embedded import InProcessBus, LocalBlobStore, embedded_pipeline
from sparkcopilot.pipeline.models import BlobModelRegistry, train_from_history
from sparkcopilot.pipeline.ports import StoredObject
from sparkcopilot.pipeline.steps import Pipeline, analysis_id_of, ingest
from sparkcopilot.prediction.history import SqliteHistoryStore, record_history
from tests.conftest import LOGS, bundled_labels

BUCKET = "logs"
ROLLING = "eventlog_v2_spark-bcec39f6201b42b9925124595baad260"


@pytest.fixture
def topology(tmp_path: Path) -> tuple[Pipeline, InProcessBus]:
    return embedded_pipeline(tmp_path, load_settings({}))


def _upload(p: Pipeline, name: str, data: bytes) -> StoredObject:
    p.blobs.write(BUCKET, name, data)
    found = p.blobs.stat(BUCKET, name)
    assert found is not None
    return found


def _results(bus: InProcessBus) -> list[dict[str, str]]:
    return [attrs for _, attrs in bus.published.get(resources.TOPIC_RESULTS, [])]


def test_a_log_flows_to_the_same_findings_as_the_local_analysis(
    topology: tuple[Pipeline, InProcessBus],
) -> None:
    p, bus = topology
    obj = _upload(p, "jobs/skew_join_v4.zstd", (LOGS / "skew_join_v4.zstd").read_bytes())
    analysis_id = ingest(p, obj)
    bus.run()
    assert analysis_id == analysis_id_of(obj)
    doc = p.store.get(analysis_id)
    assert doc is not None and doc["status"] == "done"
    assert doc["object"] == "jobs/skew_join_v4.zstd" and doc["completed_at"]
    local = analyze(read_application(LOGS / "skew_join_v4.zstd"))
    assert [f["id"] for f in doc["findings"]] == [f.id for f in local.findings]
    [result] = _results(bus)
    assert result["analysis_id"] == analysis_id and result["status"] == "done"
    assert "data_skew" in result["kinds"].split(",")
    assert result["max_severity"] in ("warning", "critical")
    # History is appended for train.
    assert len(p.history.rows()) == 1


def test_the_same_event_twice_is_one_analysis(topology: tuple[Pipeline, InProcessBus]) -> None:
    p, bus = topology
    obj = _upload(p, "a.zstd", (LOGS / "skew_join_v4.zstd").read_bytes())
    first = ingest(p, obj)
    second = ingest(p, obj)
    bus.run()
    assert ingest(p, obj) == first == second
    bus.run()
    assert len(bus.published[resources.TOPIC_PARSED]) == 1 + 2  # fan-out + delta + cost
    assert len(bus.published[resources.TOPIC_DISPATCH]) == 1
    assert len(_results(bus)) == 1


def test_an_agent_crashing_once_is_redelivered_to_one_complete_analysis(
    topology: tuple[Pipeline, InProcessBus], monkeypatch: pytest.MonkeyPatch
) -> None:
    p, bus = topology
    crashed: list[str] = []
    real = bus._subscriptions[resources.TOPIC_PARSED]

    def crash_skew_once(handler: object, data: bytes, attributes: Mapping[str, str]) -> None:
        if not crashed:
            crashed.append("skew")
            raise ConnectionError("instance lost mid-run")
        handler(data, attributes)  # type: ignore[operator]

    bus._subscriptions[resources.TOPIC_PARSED] = [
        (name, (lambda d, a, h=h: crash_skew_once(h, d, a)) if name.endswith("skew") else h)
        for name, h in real
    ]
    analysis_id = ingest(p, _upload(p, "s.zstd", (LOGS / "skew_join_v4.zstd").read_bytes()))
    bus.run()
    assert crashed == ["skew"]
    doc = p.store.get(analysis_id or "")
    assert doc is not None and doc["status"] == "done"
    assert set(p.store.partials(analysis_id or "")) == set(resources.AGENTS)
    assert len(_results(bus)) == 1


def test_a_corrupt_object_fails_with_its_reason_and_the_next_log_flows(
    topology: tuple[Pipeline, InProcessBus],
) -> None:
    p, bus = topology
    bad = ingest(p, _upload(p, "broken.zstd", b"\x28\xb5\x2f\xfd" + b"\x00garbage" * 50))
    good = ingest(p, _upload(p, "good.zstd", (LOGS / "rt_etl_s1_p8_r1.zstd").read_bytes()))
    bus.run()
    failed = p.store.get(bad or "")
    assert failed is not None and failed["status"] == "failed"
    assert "broken.zstd" in failed["error"]
    [(data, attrs)] = bus.published[resources.TOPIC_DEAD_LETTER]
    assert attrs["analysis_id"] == bad and json.loads(data)["object"] == "broken.zstd"
    assert (p.store.get(good or "") or {})["status"] == "done"
    assert sorted(r["status"] for r in _results(bus)) == ["done", "failed"]


def test_a_rolling_log_is_read_when_its_status_marker_lands(
    topology: tuple[Pipeline, InProcessBus],
) -> None:
    p, bus = topology
    folder = LOGS / ROLLING
    events = sorted(f for f in folder.iterdir() if f.name.startswith("events_"))
    for part in events:
        assert ingest(p, _upload(p, f"{ROLLING}/{part.name}", part.read_bytes())) is None
    marker = next(f for f in folder.iterdir() if f.name.startswith("appstatus_"))
    analysis_id = ingest(p, _upload(p, f"{ROLLING}/{marker.name}", marker.read_bytes()))
    bus.run()
    doc = p.store.get(analysis_id or "")
    assert doc is not None and doc["status"] == "done"
    assert doc["app"]["id"] == read_application(folder).app.id


def test_in_progress_logs_are_ignored(topology: tuple[Pipeline, InProcessBus]) -> None:
    p, bus = topology
    log = LOGS / "app-20261128143744-0000.inprogress"
    assert ingest(p, _upload(p, log.name, log.read_bytes())) is None
    bus.run()
    assert not bus.published


def test_an_identical_log_reuses_the_stored_result(
    topology: tuple[Pipeline, InProcessBus],
) -> None:
    p, bus = topology
    data = (LOGS / "rt_etl_s1_p8_r1.zstd").read_bytes()
    first = ingest(p, _upload(p, "run1.zstd", data))
    bus.run()
    again = ingest(p, _upload(p, "copy/run1-again.zstd", data))
    bus.run()
    assert again != first
    doc = p.store.get(again or "")
    assert doc is not None and doc["status"] == "done" and doc["reused_from"] == first
    assert doc["findings"] == (p.store.get(first or "") or {})["findings"]
    assert len(bus.published[resources.TOPIC_DISPATCH]) == 1


def test_a_gs_uri_without_access_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "EMULATOR_HOST" not in k}
    env |= {"HOME": str(tmp_path), "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "none")}
    run = subprocess.run(
        [sys.executable, "-m", "sparkcopilot.cli", "summary", "gs://no-bucket/log.zstd"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode in (2, 3) and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and "spark-copilot:" in run.stderr


def test_train_publishes_to_the_blob_registry_once_history_suffices(tmp_path: Path) -> None:
    history = SqliteHistoryStore(tmp_path / "history.sqlite")
    registry = BlobModelRegistry(LocalBlobStore(tmp_path / "buckets"), "artifacts")
    logs = [LOGS / name for name in bundled_labels()]
    record_history(read_application(logs[0]), history)
    assert train_from_history(history, registry) is None  # one run: too little to learn
    for log in logs[1:]:
        record_history(read_application(log), history)
    result = train_from_history(history, registry)
    assert result is not None and result.published
    current = registry.current()
    assert current is not None and current.version == result.model_version
    rows = history.rows()
    assert current.predict([rows[0].features]).shape == (1,)
