"""Settings of knowledge retrieval: which adapters, how many references, optional rewrite.

The embedded defaults need nothing: TF-IDF and the in-package index, no network. Choosing
``vertex`` for the embedder or the index, or ``gemini`` for the rewrite, needs the ``vertex``
extra and the Google Cloud resources named under ``[knowledge.vertex]``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class VertexSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str = ""
    location: str = "us-central1"
    # Google's current general-purpose text embedding model (768 dimensions).
    embedding_model: str = "text-embedding-005"
    #: ``projects/P/locations/L/indexes/ID``: where passages are upserted.
    index: str = ""
    #: ``projects/P/locations/L/indexEndpoints/ID``: where the index is deployed.
    index_endpoint: str = ""
    deployed_index_id: str = ""
    #: The endpoint's public domain (``....vdb.vertexai.goog``); find_neighbors is served there.
    endpoint_domain: str = ""
    # The index should use DOT_PRODUCT_DISTANCE over unit vectors, Google's advice for
    # cosine ranking; the distance it returns is then the similarity itself.
    distance_measure: Literal["DOT_PRODUCT_DISTANCE", "COSINE_DISTANCE"] = "DOT_PRODUCT_DISTANCE"
    # A fast, inexpensive model is plenty for rewording three sentences.
    gemini_model: str = "gemini-2.5-flash"


class KnowledgeSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    embedder: Literal["local", "vertex"] = "local"
    index: Literal["local", "vertex"] = "local"
    #: ``gemini`` rewrites the assembled explanation; never needed, off by default.
    rewrite: Literal["none", "gemini"] = "none"
    # Three official pages per finding: the mechanism, the setting, the platform.
    references: int = Field(default=3, ge=1, le=10)
    vertex: VertexSettings = VertexSettings()

    @model_validator(mode="after")
    def _vertex_named(self) -> KnowledgeSettings:
        uses = {
            "embedder": self.embedder == "vertex",
            "index": self.index == "vertex",
            "rewrite": self.rewrite == "gemini",
        }
        if any(uses.values()) and not self.vertex.project:
            used = next(name for name, on in uses.items() if on)
            raise ValueError(f"knowledge.{used} uses Vertex AI: set knowledge.vertex.project")
        if uses["index"]:
            needed = ("index", "index_endpoint", "deployed_index_id", "endpoint_domain")
            missing = [name for name in needed if not getattr(self.vertex, name)]
            if missing:
                raise ValueError(f"knowledge.index = 'vertex' needs knowledge.vertex.{missing[0]}")
        return self
