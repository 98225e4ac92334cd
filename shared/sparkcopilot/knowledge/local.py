"""Embedded adapters: a TF-IDF embedder fitted on the knowledge base, a numpy vector index.

Both work offline with nothing to download. The embedder's whole state is its vocabulary and
inverse document frequencies, so a built index ships as plain arrays (no pickles).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from .ports import Matrix, Neighbour, Restricts, Vector

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_PUNCT = re.compile(r"[._\-/#=]+")
_WORD = re.compile(r"\b\w\w+\b")
#: Function words that say nothing about a topic (our own short list).
_STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
    ]
)


def normalise_text(text: str) -> str:
    """``spark.sql.adaptive.skewJoin.enabled`` and ``max_task_ms`` become words."""
    return _PUNCT.sub(" ", _CAMEL.sub(" ", text)).lower()


def words(text: str) -> list[str]:
    """The text's terms: normalised, words of two or more characters, no stop words."""
    return [w for w in _WORD.findall(normalise_text(text)) if w not in _STOP_WORDS]


def _unit_rows(matrix: Matrix) -> Matrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: Matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


class TfidfEmbedder:
    """Sublinear TF-IDF over the knowledge base's words, rows scaled to unit length."""

    def __init__(self, vocabulary: Sequence[str], idf: Vector) -> None:
        self.vocabulary = tuple(vocabulary)
        self.idf = idf.astype(np.float32)
        self._column = {term: i for i, term in enumerate(self.vocabulary)}

    def _counts(self, texts: Sequence[str]) -> Matrix:
        counts = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float32)
        for row, text in enumerate(texts):
            for term, n in Counter(words(text)).items():
                column = self._column.get(term)
                if column is not None:
                    counts[row, column] = n
        return counts

    @classmethod
    def fit(cls, texts: Sequence[str]) -> TfidfEmbedder:
        vocabulary = sorted({w for text in texts for w in words(text)})
        counts = cls(vocabulary, np.ones(len(vocabulary), dtype=np.float32))._counts(texts)
        # Smoothed idf, as if one extra document held every term once.
        doc_freq = (counts > 0).sum(axis=0)
        idf = np.log((1 + len(texts)) / (1 + doc_freq)) + 1
        return cls(vocabulary, idf.astype(np.float32))

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        counts = self._counts(texts)
        tf = np.where(counts > 0, 1 + np.log(np.maximum(counts, 1)), 0).astype(np.float32)
        return _unit_rows(tf * self.idf)

    def embed_query(self, text: str) -> Vector:
        row: Vector = self.embed_documents([text])[0]
        return row


def _allowed(restricts: Restricts, allow: Restricts) -> bool:
    return all(set(restricts.get(ns, ())) & set(tokens) for ns, tokens in allow.items())


class NumpyIndex:
    """Exact nearest neighbours by dot product over unit vectors held in memory."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._vectors: Matrix = np.zeros((0, 0), dtype=np.float32)
        self._restricts: list[Restricts] = []

    def upsert(self, ids: Sequence[str], vectors: Matrix, metadata: Sequence[Restricts]) -> None:
        if not (len(ids) == len(vectors) == len(metadata)):
            raise ValueError("upsert needs one vector and one metadata mapping per id")
        if not len(ids):
            return
        if not self._ids:
            self._vectors = np.zeros((0, vectors.shape[1]), dtype=np.float32)
        rows = _unit_rows(np.asarray(vectors, dtype=np.float32))
        for id_, row, restricts in zip(ids, rows, metadata, strict=True):
            at = self._rows.get(id_)
            if at is None:
                self._rows[id_] = len(self._ids)
                self._ids.append(id_)
                self._vectors = np.vstack([self._vectors, row])
                self._restricts.append(restricts)
            else:
                self._vectors[at] = row
                self._restricts[at] = restricts

    def query(self, vector: Vector, k: int, allow: Restricts | None = None) -> list[Neighbour]:
        if not self._ids:
            return []
        scores = self._vectors @ np.asarray(vector, dtype=np.float32)
        rows: Iterable[int] = range(len(self._ids))
        if allow:
            rows = (i for i in rows if _allowed(self._restricts[i], allow))
        # Ties go to the earlier datapoint, so results never depend on sort stability.
        ranked = sorted(rows, key=lambda i: (-scores[i], i))[:k]
        return [Neighbour(self._ids[i], float(scores[i])) for i in ranked]
