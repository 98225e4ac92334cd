"""Retrieval: a query per finding, the nearest passages, one best passage per entry.

The query is built from what the finding says: its kind, title, the names (and textual
values) of its evidence, and the settings it recommends. Only entries that apply to the
finding's kind are candidates (a metadata filter both index adapters support); among them,
vector similarity ranks, and sharing a recommended setting lifts an entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ..analysis.findings import Finding, Kind
from .entries import Chunk, Entry
from .index import KnowledgeIndex, fill, numpy_index, shipped_index
from .local import NumpyIndex
from .ports import Embedder, VectorIndex
from .settings import KnowledgeSettings

# How much one recommended setting documented by an entry adds to its similarity (0..1):
# enough to lift the page of the very setting over a page that merely mentions the topic.
CONFIG_WEIGHT = 0.25
# Passages fetched before grouping by entry; the knowledge base has about four per entry.
CANDIDATES = 60


@dataclass(frozen=True, slots=True)
class Query:
    kind: Kind
    text: str
    config: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Passage:
    entry: Entry
    chunk: Chunk
    score: float


def make_query(
    kind: Kind, title: str, evidence: dict[str, int | float | str], config: dict[str, str]
) -> Query:
    words = [
        kind.replace("_", " "),
        title,
        *evidence,
        *(v for v in evidence.values() if isinstance(v, str)),
        *config,
    ]
    return Query(kind, " ".join(words), frozenset(config))


def query_for(finding: Finding) -> Query:
    return make_query(finding.kind, finding.title, finding.evidence, finding.config)


class Retriever:
    def __init__(self, embedder: Embedder, index: VectorIndex, knowledge: KnowledgeIndex) -> None:
        self.embedder = embedder
        self.index = index
        self._entries = {e.id: e for e in knowledge.entries}
        self._chunks = {c.id: c for c in knowledge.chunks}

    def search(self, query: Query, k: int) -> list[Passage]:
        """The ``k`` best entries for the query, each with its best passage, best first."""
        vector = self.embedder.embed_query(query.text)
        best: dict[str, Passage] = {}
        for neighbour in self.index.query(vector, CANDIDATES, allow={"kind": [query.kind]}):
            chunk = self._chunks.get(neighbour.id)
            if chunk is None:  # a datapoint of another knowledge-base version
                continue
            entry = self._entries[chunk.entry_id]
            shared = len(query.config & set(entry.config))
            score = neighbour.score + CONFIG_WEIGHT * shared / max(1, len(query.config))
            if chunk.entry_id not in best or score > best[chunk.entry_id].score:
                best[chunk.entry_id] = Passage(entry, chunk, score)
        return sorted(best.values(), key=lambda p: (-p.score, p.entry.id))[:k]


@cache
def local_retriever() -> Retriever:
    """TF-IDF and the numpy index over the shipped index: offline, deterministic."""
    knowledge = shipped_index()
    return Retriever(knowledge.embedder, numpy_index(knowledge), knowledge)


def retriever_from(settings: KnowledgeSettings) -> Retriever:
    """The adapters the settings choose. A Vertex index must have been filled beforehand
    (``python -m sparkcopilot.knowledge.build --publish``) with the same embedder."""
    if settings.embedder == "local" and settings.index == "local":
        return local_retriever()
    from . import vertex  # noqa: PLC0415 - the cloud adapters only when configured

    knowledge = shipped_index()
    embedder: Embedder = (
        knowledge.embedder
        if settings.embedder == "local"
        else vertex.VertexEmbedder.from_settings(settings.vertex)
    )
    index: VectorIndex
    if settings.index == "vertex":
        index = vertex.VertexVectorSearch.from_settings(settings.vertex)
    else:
        index = NumpyIndex()
        fill(index, embedder, knowledge)
    return Retriever(embedder, index, knowledge)
