"""The pipeline end to end on Google's emulators: real logs dropped into the bucket flow
through ingest, the six agents and recommend to Firestore, BigQuery and the results topic;
redelivery, a crashed agent and poison input; the HTTPS API; gs:// logs.

One topology (emulators + every function under functions-framework) serves the module;
it is started and stopped here, on free loopback ports.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from emulator.topology import (
    ARTIFACTS_BUCKET,
    LOGS_BUCKET,
    SUBSCRIPTION_RESULTS,
    Topology,
    missing_binaries,
)
from sparkcopilot import resources
from sparkcopilot.comparison import compare
from sparkcopilot.config import load_settings
from sparkcopilot.eventlog import read_application
from sparkcopilot.pipeline import steps
from sparkcopilot.pipeline.api import Api
from sparkcopilot.pipeline.embedded import LocalKeyStore
from sparkcopilot.pipeline.gcp import (
    BigQueryHistoryStore,
    FirestoreAnalysisStore,
    FirestoreRateLimiter,
    bigquery_client,
    gcp_pipeline,
)
from sparkcopilot.pipeline.keys import hash_key, key_file
from sparkcopilot.pipeline.ports import StoredObject
from sparkcopilot.pipeline.steps import EffectInProgressError, Pipeline, analysis_id_of
from tests.conftest import LOGS

storage = pytest.importorskip("google.cloud.storage", reason="the gcp extra is not installed")
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("emulators")]

API_LIMIT = 1 << 20
ROLLING = "eventlog_v2_spark-bcec39f6201b42b9925124595baad260"
WAIT_S = 180


@dataclass
class Cloud:
    topology: Topology
    results: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    def upload(self, name: str, data: bytes) -> str:
        """Drop an object into the logs bucket; its analysis id."""
        blob = storage.Client().bucket(LOGS_BUCKET).blob(name)
        blob.upload_from_string(data)
        return analysis_id_of(StoredObject(LOGS_BUCKET, name, str(blob.generation), len(data)))

    def store(self) -> Any:
        return FirestoreAnalysisStore(self.topology.project)

    def until(self, what: str, check: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}")

    def results_of(self, analysis_id: str) -> list[dict[str, str]]:
        self.results.extend(self.topology.pull(SUBSCRIPTION_RESULTS))
        return [a for _, a in self.results if a["analysis_id"] == analysis_id]

    def result(self, analysis_id: str) -> dict[str, str]:
        found = self.until(f"the result of {analysis_id}", lambda: self.results_of(analysis_id))
        return dict(found[0])

    def settled_results_of(self, analysis_id: str, later_log: str) -> list[dict[str, str]]:
        """Every result of the analysis, once whatever it set off has been published: a
        later log's result comes after it."""
        later = self.upload(f"later/{uuid.uuid4().hex}", (LOGS / later_log).read_bytes())
        self.result(later)
        return self.results_of(analysis_id)

    def history(self) -> BigQueryHistoryStore:
        return BigQueryHistoryStore(bigquery_client(self.topology.project))

    def history_counts(self, analysis_id: str) -> dict[str, int]:
        return {
            table: len(self.history().recorded(table, analysis_id)) for table in resources.TABLES
        }

    def expected_counts(self, analysis_id: str, log: str) -> dict[str, int]:
        """One history row per run (when it finished), stage attempt and finding."""
        app = read_application(LOGS / log)
        return {
            resources.TABLE_APPLICATIONS: int(app.complete and app.app.duration_ms is not None),
            resources.TABLE_STAGES: len(app.stages),
            resources.TABLE_FINDINGS: len(self.store().get(analysis_id)["findings"]),
        }

    def dispatched(self, name: str, log: str) -> str:
        """A log dropped while recommend is down, once every agent is done with it."""
        self.topology.servers["recommend"].stop()
        analysis_id = self.upload(name, (LOGS / log).read_bytes())
        self.until("the dispatch", lambda: self.store().marker(analysis_id, "dispatch"))
        return analysis_id

    def deliver_dispatch(self, analysis_id: str) -> bool:
        """One delivery of the dispatch message to recommend, as Eventarc makes it."""
        message = {
            "data": base64.b64encode(json.dumps({"analysis_id": analysis_id}).encode()).decode(),
            "attributes": {"analysis_id": analysis_id},
            "messageId": uuid.uuid4().hex,
            "publishTime": "2026-11-28T00:00:00Z",
        }
        project = self.topology.project
        headers = {
            "ce-specversion": "1.0",
            "ce-id": message["messageId"],
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
            "ce-source": f"//pubsub.googleapis.com/projects/{project}/topics/dispatch",
            "content-type": "application/json",
        }
        body = json.dumps({"message": message}).encode()
        return self.topology.post_cloud_event("recommend", body, headers)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    missing = missing_binaries()
    if missing:
        pytest.skip(f"emulators not installed: {', '.join(missing)}")
    topology = Topology(
        tmp_path_factory.mktemp("topology"),
        settings_env={
            "SPARK_COPILOT_PIPELINE__API_MAX_BODY_BYTES": str(API_LIMIT),
            "SPARK_COPILOT_PIPELINE__API_BURST": "5",
            "SPARK_COPILOT_PIPELINE__API_RATE_PER_S": "0.2",
        },
    )
    with topology:
        yield Cloud(topology)


def test_a_dropped_log_produces_the_results_document_message_and_history(cloud: Cloud) -> None:
    analysis_id = cloud.upload("jobs/skew.zstd", (LOGS / "skew_join_v4.zstd").read_bytes())
    result = cloud.result(analysis_id)
    assert result["status"] == "done" and result["max_severity"] == "critical"
    assert "data_skew" in result["kinds"].split(",")
    doc = cloud.store().get(analysis_id)
    assert doc["status"] == "done" and doc["object"] == "jobs/skew.zstd"
    assert doc["completed_at"] is not None
    assert any(f["kind"] == "data_skew" and f["references"] for f in doc["findings"])
    history = cloud.history().rows()
    assert result["app_id"] in {row.app_id for row in history}
    stages = cloud.history().recorded(resources.TABLE_STAGES, analysis_id)
    app = read_application(LOGS / "skew_join_v4.zstd")
    assert sorted((s["stage_id"], s["attempt"]) for s in stages) == sorted(
        s.key for s in app.stages
    )
    assert {s["app_id"] for s in stages} == {result["app_id"]}
    findings = cloud.history().recorded(resources.TABLE_FINDINGS, analysis_id)
    assert sorted(f["finding_id"] for f in findings) == sorted(f["id"] for f in doc["findings"])
    counts = cloud.history_counts(analysis_id)
    assert counts == cloud.expected_counts(analysis_id, "skew_join_v4.zstd")
    assert counts[resources.TABLE_APPLICATIONS] == 1
    assert cloud.deliver_dispatch(analysis_id)  # recommend redelivered: nothing appended
    assert cloud.history_counts(analysis_id) == counts


def test_the_same_finalize_event_twice_is_one_analysis(cloud: Cloud) -> None:
    data = (LOGS / "rt_etl_s1_p8_r1.zstd").read_bytes()
    analysis_id = cloud.upload("twice/etl.zstd", data)
    cloud.result(analysis_id)
    blob = storage.Client().bucket(LOGS_BUCKET).get_blob("twice/etl.zstd")
    event = {"bucket": LOGS_BUCKET, "name": blob.name, "generation": str(blob.generation)}
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "redelivered",
        "ce-type": "google.cloud.storage.object.v1.finalized",
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{LOGS_BUCKET}",
        "ce-subject": f"objects/{blob.name}",
        "content-type": "application/json",
    }
    assert cloud.topology.post_cloud_event("ingest", json.dumps(event).encode(), headers)
    # Whatever the redelivery might have set off is published before this next log's result.
    later = cloud.upload("twice/after.zstd", (LOGS / "healthy_narrow_v35").read_bytes())
    cloud.result(later)
    # One analysis: one document, one partial per agent, one result.
    assert len(cloud.results_of(analysis_id)) == 1
    assert cloud.store().get(analysis_id)["status"] == "done"
    assert len(cloud.store().partials(analysis_id)) == len(resources.AGENTS)


def test_an_agent_down_mid_fan_out_is_redelivered_to_one_complete_analysis(cloud: Cloud) -> None:
    skew = cloud.topology.servers["analyze-skew"]
    skew.stop()
    # A log no other test drops: an identical one would reuse that result, not fan out.
    analysis_id = cloud.upload("crash/db.zstd", (LOGS / "db_subExecution_id.zstd").read_bytes())
    others = {"metadata", "partition", "runtime", "delta"}
    cloud.until(
        "the other agents' partials", lambda: others <= set(cloud.store().partials(analysis_id))
    )
    assert "cost" not in cloud.store().partials(analysis_id)  # cost waits for skew
    cloud.topology.start_function("analyze-skew")
    assert cloud.result(analysis_id)["status"] == "done"
    assert set(cloud.store().partials(analysis_id)) == set(resources.AGENTS)
    later = cloud.upload("crash/after.zstd", (LOGS / "rt_etl_s1_p200_r1.zstd").read_bytes())
    cloud.result(later)
    assert len(cloud.results_of(analysis_id)) == 1


def test_a_corrupt_object_is_failed_dead_lettered_and_the_next_log_flows(cloud: Cloud) -> None:
    bad = cloud.upload("poison/broken.zstd", b"\x28\xb5\x2f\xfd" + b"\x00garbage" * 100)
    assert cloud.result(bad)["status"] == "failed"
    doc = cloud.store().get(bad)
    assert doc["status"] == "failed" and "poison/broken.zstd" in doc["error"]
    dead = cloud.until(
        "the dead letter",
        lambda: [
            a
            for _, a in cloud.topology.pull(resources.SUBSCRIPTION_DEAD_LETTER)
            if a.get("analysis_id") == bad
        ],
    )
    assert dead[0]["reason"] == doc["error"]
    good = cloud.upload("poison/next.zstd", (LOGS / "idle_executors_v4.zstd").read_bytes())
    assert cloud.result(good)["status"] == "done"


def test_a_rolling_log_flows_when_its_status_marker_lands(cloud: Cloud) -> None:
    folder = LOGS / ROLLING
    parts = sorted(folder.iterdir(), key=lambda p: p.name.startswith("appstatus_"))
    ids = [cloud.upload(f"rolling/{ROLLING}/{p.name}", p.read_bytes()) for p in parts]
    result = cloud.result(ids[-1])
    assert result["status"] == "done"
    assert result["app_id"] == read_application(folder).app.id
    assert all(cloud.store().get(i) is None for i in ids[:-1])


def test_gs_uris_are_read_streamed_from_the_bucket(cloud: Cloud) -> None:
    cloud.upload("gs/skew.zstd", (LOGS / "skew_join_v4.zstd").read_bytes())
    for part in (LOGS / ROLLING).iterdir():
        cloud.upload(f"gs/{ROLLING}/{part.name}", part.read_bytes())
    local = read_application(LOGS / "skew_join_v4.zstd")
    remote = read_application(f"gs://{LOGS_BUCKET}/gs/skew.zstd")
    assert remote.app == local.app and len(remote.tasks) == len(local.tasks)
    rolling = read_application(f"gs://{LOGS_BUCKET}/gs/{ROLLING}/")
    assert rolling.source.layout == "rolling"
    assert rolling.app == read_application(LOGS / ROLLING).app


def _call(
    cloud: Cloud, method: str, path: str, key: str | None, body: bytes | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"X-API-Key": key} if key else {}
    url = cloud.topology.servers["api"].url + path
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def test_the_https_api(cloud: Cloud) -> None:
    key = cloud.topology.api_key
    assert _call(cloud, "GET", "/openapi.json", None)[1]["openapi"].startswith("3.")
    assert _call(cloud, "POST", "/analyses", "wrong-key", b"{}")[0] == 401
    assert _call(cloud, "POST", "/analyses", None, b"{}")[0] == 401
    status, body, _ = _call(cloud, "POST", "/analyses", key, b"x" * (API_LIMIT + 1))
    assert status == 413 and "bytes" in body["error"]
    status, body, _ = _call(
        cloud, "POST", "/analyses", key, (LOGS / "skew_join_v4.zstd").read_bytes()
    )
    assert status == 200 and body["schema"] == "spark-copilot/analysis/v1"
    assert "data_skew" in {f["kind"] for f in body["findings"]}
    status, stored, _ = _call(cloud, "GET", f"/analyses/{body['analysis_id']}", key)
    assert status == 200 and stored["status"] == "done"
    # The burst is 5 and refills at one request in 5 s: the next few calls exhaust it.
    answers = [_call(cloud, "GET", "/analyses/none", key) for _ in range(6)]
    limited = [headers for status, _, headers in answers if status == 429]
    assert limited and int(limited[0]["Retry-After"]) >= 1
    assert {status for status, _, _ in answers} <= {404, 429}


def test_bad_input_through_the_api_is_a_400(cloud: Cloud, tmp_path: Path) -> None:
    # A fresh key bucket is not needed: 400s come after the key check, and this test runs
    # after the rate test in the same module only by chance, so it waits for a token.
    key = cloud.topology.api_key

    def answered() -> tuple[int, dict[str, Any], dict[str, str]] | None:
        found = _call(cloud, "POST", "/analyses", key, b"not,an,event,log\n1,2,3\n")
        return None if found[0] == 429 else found

    status, body, _ = cloud.until("a token", answered)
    assert status == 400 and "not a Spark event log" in body["error"]


def test_racing_deliveries_of_recommend_publish_one_result_and_append_once(cloud: Cloud) -> None:
    log = "application_1553914137147_0018"
    analysis_id = cloud.dispatched("race/yarn", log)
    cloud.topology.start_function("recommend")  # the push subscription delivers it again
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(cloud.deliver_dispatch, [analysis_id] * 6))
    assert cloud.result(analysis_id)["status"] == "done"
    assert len(cloud.settled_results_of(analysis_id, "rt_etl_s1_p8_r1.zstd")) == 1
    assert cloud.history_counts(analysis_id) == cloud.expected_counts(analysis_id, log)


class CrashingResultsBus:
    """The instance dies once, after its lease and before the results message is out."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.bus = pipeline.bus
        self.crashed = False

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        if topic.endswith(resources.TOPIC_RESULTS) and not self.crashed:
            self.crashed = True
            raise ConnectionError("instance lost before the publish")
        self.bus.publish(topic, data, attributes)


def test_a_recommend_crashing_between_lease_and_publish_sends_one_result(cloud: Cloud) -> None:
    analysis_id = cloud.dispatched("crash/spark2.zstd", "spark2-eventlog.zstd")
    lease = {"SPARK_COPILOT_PIPELINE__CLAIM_LEASE_S": "8"}
    pipeline = gcp_pipeline(load_settings({**cloud.topology.env, **lease}))
    crashing = dataclasses.replace(pipeline, bus=CrashingResultsBus(pipeline))
    with pytest.raises(ConnectionError):
        steps.recommend(crashing, analysis_id)
    with pytest.raises(EffectInProgressError):  # the dead holder's lease still runs
        steps.recommend(pipeline, analysis_id)

    def delivered() -> bool:
        try:
            steps.recommend(pipeline, analysis_id)
        except EffectInProgressError:
            return False
        return True

    cloud.until("the crashed delivery's lease to run out", delivered)
    cloud.topology.start_function("recommend")
    assert cloud.result(analysis_id)["status"] == "done"
    assert len(cloud.settled_results_of(analysis_id, "rt_etl_s1_p8_r1.zstd")) == 1
    assert cloud.history_counts(analysis_id) == cloud.expected_counts(
        analysis_id, "spark2-eventlog.zstd"
    )


def test_two_api_instances_share_each_keys_rate(cloud: Cloud, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(key_file({"shared-rate": hash_key("sc_shared")}))
    pipeline = gcp_pipeline(load_settings(cloud.topology.env))
    project = cloud.topology.project
    apis = [
        Api(pipeline, LocalKeyStore(keys), FirestoreRateLimiter(project, rate=0.01, burst=4))
        for _ in range(2)
    ]

    def call(i: int) -> int:
        headers = {"x-api-key": "sc_shared"}
        return apis[i % 2].handle("GET", "/analyses/none", headers, io.BytesIO().read).status

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(call, range(10)))
    assert sorted(statuses) == [404] * 4 + [429] * 6


def test_two_stored_logs_are_compared_through_the_api(cloud: Cloud) -> None:
    bucket = storage.Client().bucket(ARTIFACTS_BUCKET)
    names = ("rt_etl_s1_p200_r1.zstd", "rt_etl_s1_p8_r1.zstd")
    for name in names:
        bucket.blob(f"compare/{name}").upload_from_string((LOGS / name).read_bytes())
    uris = {
        run: f"gs://{ARTIFACTS_BUCKET}/compare/{name}"
        for run, name in zip(("baseline", "new"), names, strict=True)
    }
    body = json.dumps(uris).encode()

    def answered() -> tuple[int, dict[str, Any], dict[str, str]] | None:
        found = _call(cloud, "POST", "/comparisons", cloud.topology.api_key, body)
        return None if found[0] == 429 else found

    status, answer, _ = cloud.until("a token", answered)
    local = compare(*(read_application(LOGS / name) for name in names))
    assert status == 200 and answer == local.to_json_dict()
