"""The pipeline's side effects, each behind a small port (DESIGN.md §1); the embedded
adapters are in ``embedded.py``, the Google Cloud ones in ``gcp.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from ..prediction.history import HistoryReader
from .history import AnalysisRecords

#: A Firestore-like document: JSON values (and datetimes) by field name.
Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredObject:
    """An object of a bucket, as a finalize event or a listing describes it."""

    bucket: str
    name: str
    generation: str
    size: int
    #: Base64 MD5 of the content (what GCS reports), when known.
    md5: str | None = None


class BlobStore(Protocol):
    def open(self, bucket: str, name: str) -> AbstractContextManager[BinaryIO]:
        """A streamed reader of the object (never the whole object in memory)."""

    def read(self, bucket: str, name: str) -> bytes: ...

    def write(self, bucket: str, name: str, data: bytes) -> None:
        """Write the object whole (readers never see half of it)."""

    def stat(self, bucket: str, name: str) -> StoredObject | None:
        """The object, or None when there is none."""

    def list(self, bucket: str, prefix: str) -> list[StoredObject]:
        """Objects whose names start with ``prefix``, by name."""


class MessageBus(Protocol):
    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        """Publish one message; returns once the bus has it."""


class AnalysisStore(Protocol):
    """Analyses by id, their agents' partials, and create-if-absent markers. Nothing here
    needs a transaction: the emulator (and production, under contention) pays for them."""

    def create(self, analysis_id: str, fields: Document) -> bool:
        """Create the analysis; False when it already exists (a redelivered event)."""

    def get(self, analysis_id: str) -> Document | None: ...

    def update(self, analysis_id: str, fields: Document) -> None:
        """Set these fields of an existing analysis."""

    def put_partial(self, analysis_id: str, agent: str, partial: Document) -> None: ...

    def partials(self, analysis_id: str) -> dict[str, Document]:
        """Every partial written so far, by agent."""

    def claim(self, analysis_id: str, marker: str, owner: str) -> str:
        """Create the marker if absent, owned by ``owner``; returns its owner (``owner``
        when this call created it, or when the same owner asks again)."""

    def lease(self, analysis_id: str, marker: str, owner: str, seconds: float) -> str:
        """Hold the marker for ``owner`` for ``seconds``: created when absent, taken over
        (compare-and-set, so one taker wins) when its holder's lease has run out; returns
        the holder afterwards (``owner`` when this call holds it)."""

    def marker(self, analysis_id: str, marker: str) -> str | None:
        """The marker's owner, or None when nobody claimed it."""

    def claim_content(self, content_hash: str, analysis_id: str) -> str:
        """The analysis that owns this content: ``analysis_id`` when it is the first."""


class KeyStore(Protocol):
    def key_id(self, presented: str) -> str | None:
        """The id of the API key ``presented`` is, or None; compares hashes in constant time."""


class RateLimiter(Protocol):
    """Each API key's token bucket: a burst of requests at once, refilled at a rate."""

    def take(self, key_id: str) -> float:
        """0 when a request may go ahead (its token taken), else seconds until one is due."""


class AnalysisHistory(HistoryReader, Protocol):
    """Every analysis' rows: its application (which the runtime model trains on), its
    stage attempts and its findings."""

    def record(self, records: AnalysisRecords) -> None:
        """Append one analysis' rows; rows of this analysis already there are not added
        again (a retried append after a crash part-way)."""
