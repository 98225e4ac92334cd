"""Google Cloud adapters: Vertex AI text embeddings, Vector Search, and a Gemini rewrite.

They need the ``vertex`` extra (google-cloud-aiplatform), imported only when an adapter is
built from settings; core code and core tests never import it. Each adapter takes the GAPIC
client it calls, so tests can hand it a fake client and check the requests it sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..analysis.findings import Finding
from .ports import Matrix, Neighbour, Restricts, Vector
from .retrieve import Passage
from .settings import VertexSettings

# text-embedding-005 takes up to 250 texts and 20,000 tokens per request; passages run to
# about 300 tokens, so 32 per request stays well inside both.
EMBED_BATCH = 32
# Vector Search accepts at most 1000 datapoints per upsert request.
UPSERT_BATCH = 1000


def _aiplatform() -> Any:
    try:
        from google.cloud import aiplatform_v1  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        raise ImportError(
            "Vertex AI adapters need the vertex extra: pip install 'spark-copilot[vertex]'"
        ) from exc
    return aiplatform_v1


def _regional(location: str) -> dict[str, str]:
    return {"api_endpoint": f"{location}-aiplatform.googleapis.com"}


def _publisher_model(settings: VertexSettings, model: str) -> str:
    where = f"projects/{settings.project}/locations/{settings.location}"
    return f"{where}/publishers/google/models/{model}"


class VertexEmbedder:
    """Vertex AI text embeddings, with the task type that matches each side of retrieval."""

    def __init__(self, client: Any, model: str) -> None:
        self.client = client
        #: Full resource name of the publisher model.
        self.model = model

    @classmethod
    def from_settings(cls, settings: VertexSettings) -> VertexEmbedder:
        aiplatform = _aiplatform()
        client = aiplatform.PredictionServiceClient(client_options=_regional(settings.location))
        return cls(client, _publisher_model(settings, settings.embedding_model))

    def _embed(self, texts: Sequence[str], task_type: str) -> Matrix:
        from google.protobuf import json_format, struct_pb2  # noqa: PLC0415 - optional extra

        aiplatform = _aiplatform()
        rows: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            request = aiplatform.PredictRequest(endpoint=self.model)
            request.instances.extend(
                json_format.ParseDict({"content": text, "task_type": task_type}, struct_pb2.Value())
                for text in texts[start : start + EMBED_BATCH]
            )
            response = self.client.predict(request=request)
            predictions = type(response).to_dict(response)["predictions"]
            rows += [p["embeddings"]["values"] for p in predictions]
        return np.asarray(rows, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        return self._embed(texts, "RETRIEVAL_DOCUMENT")

    def embed_query(self, text: str) -> Vector:
        row: Vector = self._embed([text], "RETRIEVAL_QUERY")[0]
        return row


def _restrictions(aiplatform: Any, restricts: Restricts) -> list[Any]:
    return [
        aiplatform.IndexDatapoint.Restriction(namespace=namespace, allow_list=list(tokens))
        for namespace, tokens in restricts.items()
    ]


class VertexVectorSearch:
    """Upserts datapoints into an index; finds neighbours on its deployed endpoint."""

    def __init__(self, index_client: Any, match_client: Any, settings: VertexSettings) -> None:
        self.index_client = index_client
        self.match_client = match_client
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: VertexSettings) -> VertexVectorSearch:
        aiplatform = _aiplatform()
        return cls(
            aiplatform.IndexServiceClient(client_options=_regional(settings.location)),
            aiplatform.MatchServiceClient(
                client_options={"api_endpoint": settings.endpoint_domain}
            ),
            settings,
        )

    def upsert(self, ids: Sequence[str], vectors: Matrix, metadata: Sequence[Restricts]) -> None:
        aiplatform = _aiplatform()
        points = [
            aiplatform.IndexDatapoint(
                datapoint_id=id_,
                feature_vector=[float(x) for x in vector],
                restricts=_restrictions(aiplatform, restricts),
            )
            for id_, vector, restricts in zip(ids, vectors, metadata, strict=True)
        ]
        for start in range(0, len(points), UPSERT_BATCH):
            self.index_client.upsert_datapoints(
                request=aiplatform.UpsertDatapointsRequest(
                    index=self.settings.index, datapoints=points[start : start + UPSERT_BATCH]
                )
            )

    def query(self, vector: Vector, k: int, allow: Restricts | None = None) -> list[Neighbour]:
        aiplatform = _aiplatform()
        query = aiplatform.FindNeighborsRequest.Query(
            datapoint=aiplatform.IndexDatapoint(
                datapoint_id="query",
                feature_vector=[float(x) for x in vector],
                restricts=_restrictions(aiplatform, allow or {}),
            ),
            neighbor_count=k,
        )
        response = self.match_client.find_neighbors(
            request=aiplatform.FindNeighborsRequest(
                index_endpoint=self.settings.index_endpoint,
                deployed_index_id=self.settings.deployed_index_id,
                queries=[query],
                return_full_datapoint=False,
            )
        )
        if not response.nearest_neighbors:
            return []
        # Dot product over unit vectors comes back as the similarity; cosine as 1 - it.
        cosine = self.settings.distance_measure == "COSINE_DISTANCE"
        return [
            Neighbour(n.datapoint.datapoint_id, 1.0 - n.distance if cosine else n.distance)
            for n in response.nearest_neighbors[0].neighbors
        ]


_REWRITE_PROMPT = """You explain Spark performance findings to data engineers.
Rewrite the explanation below in at most three plain sentences. Use only facts from the
explanation, the finding and the passages; keep every number exactly as given; do not add
settings, versions or links.

Finding: {title}
Explanation: {explanation}
Passages:
{passages}
"""


class GeminiRewriter:
    """Rewords an assembled explanation with Gemini; the facts stay those retrieved."""

    def __init__(self, client: Any, model: str) -> None:
        self.client = client
        self.model = model

    @classmethod
    def from_settings(cls, settings: VertexSettings) -> GeminiRewriter:
        aiplatform = _aiplatform()
        client = aiplatform.PredictionServiceClient(client_options=_regional(settings.location))
        return cls(client, _publisher_model(settings, settings.gemini_model))

    def rewrite(self, finding: Finding, explanation: str, passages: Sequence[Passage]) -> str:
        aiplatform = _aiplatform()
        prompt = _REWRITE_PROMPT.format(
            title=finding.title,
            explanation=explanation,
            passages="\n".join(f"- {p.entry.title}: {p.chunk.text}" for p in passages),
        )
        response = self.client.generate_content(
            request=aiplatform.GenerateContentRequest(
                model=self.model,
                contents=[aiplatform.Content(role="user", parts=[aiplatform.Part(text=prompt)])],
                generation_config=aiplatform.GenerationConfig(temperature=0.0),
            )
        )
        text = "".join(
            part.text for c in response.candidates[:1] for part in c.content.parts
        ).strip()
        # An empty answer (blocked, or cut off) keeps the deterministic explanation.
        return text or explanation
