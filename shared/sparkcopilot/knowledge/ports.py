"""The two ports of retrieval: turning text into vectors, and finding near vectors.

Each has an embedded adapter (``local.py``: TF-IDF and a numpy index, offline) and a Google
Cloud adapter (``vertex.py``: Vertex AI text embeddings and Vector Search).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
#: One row per text.
Matrix = npt.NDArray[np.float32]
#: Tokens per namespace a datapoint carries, e.g. ``{"kind": ["data_skew"]}``; queries may
#: allow only datapoints holding one of the given tokens (Vector Search calls them restricts).
Restricts = Mapping[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class Neighbour:
    id: str
    #: Higher is nearer: cosine similarity for unit vectors.
    score: float


class Embedder(Protocol):
    def embed_documents(self, texts: Sequence[str]) -> Matrix: ...

    def embed_query(self, text: str) -> Vector: ...


class VectorIndex(Protocol):
    def upsert(
        self, ids: Sequence[str], vectors: Matrix, metadata: Sequence[Restricts]
    ) -> None: ...

    def query(self, vector: Vector, k: int, allow: Restricts | None = None) -> list[Neighbour]: ...
