"""The pipeline's side effects, each behind a small port (DESIGN.md §1).

:class:`~sparkcopilot.prediction.history.HistoryStore` is the fifth port; the embedded
adapters are in ``embedded.py``, the Google Cloud ones in ``gcp.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

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

    def marker(self, analysis_id: str, marker: str) -> str | None:
        """The marker's owner, or None when nobody claimed it."""

    def claim_content(self, content_hash: str, analysis_id: str) -> str:
        """The analysis that owns this content: ``analysis_id`` when it is the first."""


class KeyStore(Protocol):
    def key_id(self, presented: str) -> str | None:
        """The id of the API key ``presented`` is, or None; compares hashes in constant time."""
