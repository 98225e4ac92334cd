"""The HTTPS API's core on the embedded adapters: keys, rate limit, size limit, answers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sparkcopilot.cli import main
from sparkcopilot.config import load_settings
from sparkcopilot.pipeline.api import OPENAPI, Api
from sparkcopilot.pipeline.embedded import LocalKeyStore, embedded_pipeline
from sparkcopilot.pipeline.keys import TokenBuckets, hash_key, key_file, key_id_of
from tests.conftest import LOGS

KEY = "sc_test-key"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api(tmp_path: Path) -> tuple[Api, Clock]:
    settings = load_settings({"SPARK_COPILOT_PIPELINE__API_MAX_BODY_BYTES": str(1 << 20)})
    pipeline, _ = embedded_pipeline(tmp_path, settings)
    keys = tmp_path / "keys.json"
    keys.write_text(key_file({"ci": hash_key(KEY)}))
    clock = Clock()
    return Api(pipeline, LocalKeyStore(keys), TokenBuckets(rate=1, burst=2, clock=clock)), clock


def _post(api: Api, body: bytes, key: str | None = KEY) -> tuple[int, dict[str, object]]:
    headers = {"content-length": str(len(body))} | ({"x-api-key": key} if key else {})
    response = api.handle("POST", "/analyses", headers, io.BytesIO(body).read)
    return response.status, dict(response.body)


def test_a_log_body_is_analyzed_and_stored(api: tuple[Api, Clock]) -> None:
    handler, _ = api
    status, body = _post(handler, (LOGS / "skew_join_v4.zstd").read_bytes())
    assert status == 200 and body["schema"] == "spark-copilot/analysis/v1"
    kinds = {f["kind"] for f in body["findings"]}  # type: ignore[attr-defined]
    assert "data_skew" in kinds
    stored = handler.handle(
        "GET", f"/analyses/{body['analysis_id']}", {"x-api-key": KEY}, io.BytesIO().read
    )
    assert stored.status == 200 and stored.body["status"] == "done"


def test_keys_are_checked_against_hashes(api: tuple[Api, Clock]) -> None:
    handler, _ = api
    assert _post(handler, b"{}", key=None)[0] == 401
    assert _post(handler, b"{}", key="sc_wrong")[0] == 401
    bearer = handler.handle(
        "GET", "/analyses/x", {"authorization": f"Bearer {KEY}"}, io.BytesIO().read
    )
    assert bearer.status == 404
    assert key_id_of({"a": hash_key("one"), "b": hash_key("two")}, "two") == "b"


def test_each_key_has_a_token_bucket(api: tuple[Api, Clock]) -> None:
    handler, clock = api
    statuses = [_post(handler, b"gs-less body")[0] for _ in range(3)]
    assert statuses[:2] == [400, 400] and statuses[2] == 429
    limited = handler.handle("GET", "/analyses/x", {"x-api-key": KEY}, io.BytesIO().read)
    assert limited.status == 429 and limited.headers["Retry-After"] == "1"
    clock.now += 1.0
    assert _post(handler, b"gs-less body")[0] == 400


def test_bodies_over_the_limit_are_refused_unread(api: tuple[Api, Clock]) -> None:
    handler, _ = api
    declared = handler.handle(
        "POST", "/analyses", {"x-api-key": KEY, "content-length": str(2 << 20)}, io.BytesIO().read
    )
    assert declared.status == 413
    assert _post(handler, b"x" * ((1 << 20) + 1))[0] == 413


def test_the_openapi_document_describes_every_route(api: tuple[Api, Clock]) -> None:
    handler, _ = api
    response = handler.handle("GET", "/openapi.json", {}, io.BytesIO().read)
    assert response.status == 200 and response.body is OPENAPI
    assert set(OPENAPI["paths"]) == {"/analyses", "/analyses/{id}", "/comparisons"}


def _compare(api: Api, body: object, key: str | None = KEY) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode()
    headers = {"content-type": "application/json", "content-length": str(len(data))}
    response = api.handle(
        "POST", "/comparisons", headers | ({"x-api-key": key} if key else {}), io.BytesIO(data).read
    )
    return response.status, dict(response.body)


def test_two_stored_logs_are_compared_as_the_cli_compares_them(
    api: tuple[Api, Clock], capsys: pytest.CaptureFixture[str]
) -> None:
    handler, _ = api
    logs = ("rt_etl_s1_p200_r1.zstd", "rt_etl_s1_p8_r1.zstd")
    for name in logs:
        handler.pipeline.blobs.write("logs", f"runs/{name}", (LOGS / name).read_bytes())
    uris = {"baseline": f"gs://logs/runs/{logs[0]}", "new": f"gs://logs/runs/{logs[1]}"}
    status, body = _compare(handler, uris)
    assert main(["compare", *(str(LOGS / n) for n in logs), "--format", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert status == 200 and body["schema"] == "spark-copilot/comparison/v1"
    assert body == cli


def test_a_comparison_needs_two_readable_gs_logs_a_key_and_a_small_body(
    api: tuple[Api, Clock],
) -> None:
    handler, clock = api
    assert _compare(handler, {"baseline": "gs://logs/a", "new": "gs://logs/b"}, key=None)[0] == 401
    status, body = _compare(handler, {"baseline": "gs://logs/a"})
    assert status == 400 and "baseline" in str(body["error"])
    status, body = _compare(handler, {"baseline": "gs://logs/none", "new": "gs://logs/none"})
    assert status == 400 and "gs://logs/none" in str(body["error"])
    clock.now += 1  # a token more: the burst is 2
    assert _compare(handler, {"baseline": "x" * (1 << 20), "new": ""})[0] == 413
    assert _compare(handler, {"baseline": "gs://logs/a", "new": "gs://logs/b"})[0] == 429
