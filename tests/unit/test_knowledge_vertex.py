"""The Vertex AI adapters at the request level: fake GAPIC clients record the requests the
adapters send and answer with canned responses. Skipped without the ``vertex`` extra."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sparkcopilot.analysis import analyze
from sparkcopilot.eventlog import read_application
from sparkcopilot.knowledge import explain
from sparkcopilot.knowledge.index import shipped_index
from sparkcopilot.knowledge.retrieve import Retriever
from sparkcopilot.knowledge.settings import KnowledgeSettings, VertexSettings
from tests.conftest import LOGS

aiplatform = pytest.importorskip("google.cloud.aiplatform_v1")
json_format = pytest.importorskip("google.protobuf.json_format")
struct_pb2 = pytest.importorskip("google.protobuf.struct_pb2")

from sparkcopilot.knowledge.vertex import (  # noqa: E402 - after the extra is known present
    GeminiRewriter,
    VertexEmbedder,
    VertexVectorSearch,
)

SETTINGS = VertexSettings(
    project="proj",
    location="europe-west1",
    index="projects/proj/locations/europe-west1/indexes/7",
    index_endpoint="projects/proj/locations/europe-west1/indexEndpoints/9",
    deployed_index_id="kb_v1",
    endpoint_domain="123.europe-west1-456.vdb.vertexai.goog",
)
MODEL = "projects/proj/locations/europe-west1/publishers/google/models/text-embedding-005"


class FakePrediction:
    """PredictionServiceClient: embeddings echo the text length; Gemini answers a canned line."""

    def __init__(self, answer: str = "Rewritten.") -> None:
        self.requests: list[Any] = []
        self.answer = answer

    def predict(self, request: Any) -> Any:
        self.requests.append(request)
        response = aiplatform.PredictResponse()
        for instance in request.instances:
            size = float(len(instance["content"]))
            response.predictions.append(
                json_format.ParseDict({"embeddings": {"values": [size, 1.0]}}, struct_pb2.Value())
            )
        return response

    def generate_content(self, request: Any) -> Any:
        self.requests.append(request)
        part = aiplatform.Part(text=self.answer)
        return aiplatform.GenerateContentResponse(
            candidates=[aiplatform.Candidate(content=aiplatform.Content(parts=[part]))]
        )


class FakeIndexService:
    def __init__(self) -> None:
        self.requests: list[Any] = []

    def upsert_datapoints(self, request: Any) -> Any:
        self.requests.append(request)
        return aiplatform.UpsertDatapointsResponse()


class FakeMatchService:
    def __init__(self, neighbours: list[tuple[str, float]]) -> None:
        self.requests: list[Any] = []
        self.neighbours = neighbours

    def find_neighbors(self, request: Any) -> Any:
        self.requests.append(request)
        found = [
            aiplatform.FindNeighborsResponse.Neighbor(
                datapoint=aiplatform.IndexDatapoint(datapoint_id=id_), distance=distance
            )
            for id_, distance in self.neighbours
        ]
        return aiplatform.FindNeighborsResponse(
            nearest_neighbors=[aiplatform.FindNeighborsResponse.NearestNeighbors(neighbors=found)]
        )


def test_embedder_sends_batched_predict_requests_with_task_types() -> None:
    client = FakePrediction()
    embedder = VertexEmbedder(client, MODEL)
    texts = [f"passage {'x' * i}" for i in range(40)]
    matrix = embedder.embed_documents(texts)
    assert matrix.shape == (40, 2)
    assert matrix[3, 0] == len(texts[3])
    assert [len(r.instances) for r in client.requests] == [32, 8]
    first = aiplatform.PredictRequest.to_dict(client.requests[0])
    assert first["endpoint"] == MODEL
    assert first["instances"][0] == {"content": "passage ", "task_type": "RETRIEVAL_DOCUMENT"}
    query = embedder.embed_query("skew")
    assert query.tolist() == [4.0, 1.0]
    last = aiplatform.PredictRequest.to_dict(client.requests[-1])
    assert last["instances"] == [{"content": "skew", "task_type": "RETRIEVAL_QUERY"}]


def test_vector_search_upserts_datapoints_with_restricts() -> None:
    index_client = FakeIndexService()
    search = VertexVectorSearch(index_client, FakeMatchService([]), SETTINGS)
    vectors = np.array([[0.6, 0.8], [1.0, 0.0]], dtype=np.float32)
    search.upsert(["a#0", "b#0"], vectors, [{"kind": ["data_skew"]}, {"kind": ["cost"]}])
    (request,) = index_client.requests
    assert request.index == SETTINGS.index
    assert [d.datapoint_id for d in request.datapoints] == ["a#0", "b#0"]
    assert list(request.datapoints[0].feature_vector) == pytest.approx([0.6, 0.8])
    restriction = request.datapoints[0].restricts[0]
    assert (restriction.namespace, list(restriction.allow_list)) == ("kind", ["data_skew"])


def test_vector_search_queries_the_deployed_index_and_reads_neighbours() -> None:
    match = FakeMatchService([("aqe-skew-join#1", 0.42), ("speculation#2", 0.31)])
    search = VertexVectorSearch(FakeIndexService(), match, SETTINGS)
    found = search.query(np.array([0.6, 0.8], dtype=np.float32), 5, allow={"kind": ["data_skew"]})
    assert [(n.id, n.score) for n in found] == [
        ("aqe-skew-join#1", pytest.approx(0.42)),
        ("speculation#2", pytest.approx(0.31)),
    ]
    (request,) = match.requests
    assert request.index_endpoint == SETTINGS.index_endpoint
    assert request.deployed_index_id == "kb_v1"
    assert request.return_full_datapoint is False
    (query,) = request.queries
    assert query.neighbor_count == 5
    assert query.datapoint.restricts[0].namespace == "kind"
    assert list(query.datapoint.restricts[0].allow_list) == ["data_skew"]


def test_retriever_over_vector_search_groups_by_entry() -> None:
    knowledge = shipped_index()
    match = FakeMatchService([("aqe-skew-join#1", 0.5), ("aqe-skew-join#2", 0.4), ("gone#0", 0.9)])
    retriever = Retriever(
        knowledge.embedder, VertexVectorSearch(FakeIndexService(), match, SETTINGS), knowledge
    )
    findings = analyze(read_application(LOGS / "skew_join_v4.zstd"), explained=False).findings
    skew = next(f for f in findings if f.kind == "data_skew")
    (explained,) = explain([skew], retriever=retriever)
    assert [r.kb_id for r in explained.references] == ["aqe-skew-join"]
    assert list(match.requests[0].queries[0].datapoint.restricts[0].allow_list) == ["data_skew"]


def test_gemini_rewrite_only_rewords_the_assembled_explanation() -> None:
    client = FakePrediction(answer="The join's hot key made one task run 13x longer.")
    rewriter = GeminiRewriter(client, "projects/proj/locations/l/publishers/google/models/g")
    findings = analyze(read_application(LOGS / "skew_join_v4.zstd"), explained=False).findings[:1]
    (plain,) = explain(findings)
    settings = KnowledgeSettings(rewrite="gemini", vertex=SETTINGS)
    (rewritten,) = explain(findings, settings=settings, rewriter=rewriter)
    assert rewritten.explanation == "The join's hot key made one task run 13x longer."
    assert rewritten.references == plain.references
    (request,) = client.requests
    assert request.model.endswith("/models/g")
    assert request.generation_config.temperature == 0.0
    assert plain.explanation in request.contents[0].parts[0].text
    client.answer = ""
    assert explain(findings, settings=settings, rewriter=rewriter) == (plain,)
