"""The local index: every passage of the knowledge base with its vector, built once.

``build_index`` validates the entries, chunks them, fits the TF-IDF embedder and embeds every
passage. A package build writes the result into the package (``_index.npz``, see setup.py);
``shipped_index`` loads that file when it matches the entries next to it and otherwise builds
the same index in memory (editable installs, a source checkout).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from .entries import KB_DIR, Chunk, Entry, chunk_entry, digest, load_entries
from .local import NumpyIndex, TfidfEmbedder
from .ports import Embedder, Matrix, VectorIndex

INDEX_FILE = Path(__file__).resolve().parent / "_index.npz"
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class KnowledgeIndex:
    entries: tuple[Entry, ...]
    chunks: tuple[Chunk, ...]
    embedder: TfidfEmbedder
    #: One unit row per chunk, in chunk order.
    vectors: Matrix
    #: ``entries.digest`` of the files it was built from.
    digest: str

    def entry(self, entry_id: str) -> Entry:
        return next(e for e in self.entries if e.id == entry_id)


def passage_text(entry: Entry, chunk: Chunk) -> str:
    """What gets embedded: the passage, under its entry's title and settings."""
    return " ".join([entry.title, chunk.heading, *entry.config, chunk.text])


def restricts(entry: Entry) -> dict[str, list[str]]:
    """The metadata a passage carries into a vector index."""
    return {"kind": list(entry.kinds)}


def build_index(directory: Path = KB_DIR) -> KnowledgeIndex:
    # Ids are unique: each must equal its file's name.
    entries = load_entries(directory)
    by_id = {e.id: e for e in entries}
    chunks = tuple(c for e in entries for c in chunk_entry(e))
    texts = [passage_text(by_id[c.entry_id], c) for c in chunks]
    embedder = TfidfEmbedder.fit(texts)
    return KnowledgeIndex(
        entries, chunks, embedder, embedder.embed_documents(texts), digest(directory)
    )


def fill(index: VectorIndex, embedder: Embedder, knowledge: KnowledgeIndex) -> None:
    """Embed every passage with ``embedder`` and upsert it into ``index``."""
    by_id = {e.id: e for e in knowledge.entries}
    index.upsert(
        [c.id for c in knowledge.chunks],
        embedder.embed_documents([passage_text(by_id[c.entry_id], c) for c in knowledge.chunks]),
        [restricts(by_id[c.entry_id]) for c in knowledge.chunks],
    )


def numpy_index(knowledge: KnowledgeIndex) -> NumpyIndex:
    """The in-memory index over the passages' stored TF-IDF vectors."""
    by_id = {e.id: e for e in knowledge.entries}
    index = NumpyIndex()
    index.upsert(
        [c.id for c in knowledge.chunks],
        knowledge.vectors,
        [restricts(by_id[c.entry_id]) for c in knowledge.chunks],
    )
    return index


def save_index(knowledge: KnowledgeIndex, path: Path) -> None:
    """Write the index as plain arrays, atomically (temporary name, then rename)."""
    meta = {
        "format": _FORMAT,
        "digest": knowledge.digest,
        "entries": [e.model_dump(mode="json") for e in knowledge.entries],
        "chunks": [[c.id, c.entry_id, c.heading, c.text] for c in knowledge.chunks],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".index-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez_compressed(
                out,
                meta=np.array(json.dumps(meta)),
                vocabulary=np.array(knowledge.embedder.vocabulary),
                idf=knowledge.embedder.idf,
                vectors=knowledge.vectors,
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_index(path: Path) -> KnowledgeIndex:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta["format"] != _FORMAT:
            raise ValueError(f"{path}: index format {meta['format']}, expected {_FORMAT}")
        return KnowledgeIndex(
            entries=tuple(Entry.model_validate(e) for e in meta["entries"]),
            chunks=tuple(Chunk(*c) for c in meta["chunks"]),
            embedder=TfidfEmbedder(data["vocabulary"].tolist(), data["idf"]),
            vectors=data["vectors"],
            digest=meta["digest"],
        )


@cache
def shipped_index() -> KnowledgeIndex:
    """The index built into the package, or built now when there is none or it is stale."""
    if INDEX_FILE.is_file():
        shipped = load_index(INDEX_FILE)
        if shipped.digest == digest(KB_DIR):
            return shipped
    return build_index(KB_DIR)
