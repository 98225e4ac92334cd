"""What the functions receive, as the steps want it: a Cloud Storage CloudEvent as a
:class:`StoredObject`, a Pub/Sub CloudEvent as (data, attributes)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Protocol

from .ports import StoredObject

FINALIZED = "google.cloud.storage.object.v1.finalized"


class CloudEvent(Protocol):
    """The part of ``cloudevents.http.CloudEvent`` the functions use."""

    data: Any

    def __getitem__(self, key: str) -> Any: ...


def stored_object(event: CloudEvent) -> StoredObject | None:
    """The finalized object, or None for any other storage event."""
    if event["type"] != FINALIZED:
        return None
    data: Mapping[str, Any] = event.data
    return StoredObject(
        bucket=str(data["bucket"]),
        name=str(data["name"]),
        generation=str(data["generation"]),
        size=int(data.get("size") or 0),
        md5=data.get("md5Hash"),
    )


def pubsub_message(event: CloudEvent) -> tuple[bytes, dict[str, str]]:
    """A ``google.cloud.pubsub.topic.v1.messagePublished`` event's data and attributes."""
    message: Mapping[str, Any] = event.data["message"]
    data = base64.b64decode(message.get("data") or b"")
    return data, dict(message.get("attributes") or {})
