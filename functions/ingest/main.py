"""Cloud Function (gen2, Eventarc ``google.cloud.storage.object.v1.finalized``): a log
landed in the logs bucket → parsed, stored, fanned out to the agents (DESIGN.md §6)."""

from __future__ import annotations

from sparkcopilot.pipeline import events, steps
from sparkcopilot.pipeline.events import CloudEvent
from sparkcopilot.pipeline.gcp import deployed_pipeline


def ingest(cloud_event: CloudEvent) -> None:
    obj = events.stored_object(cloud_event)
    if obj is not None:
        steps.ingest(deployed_pipeline(), obj)
