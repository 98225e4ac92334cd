"""Cloud Function (gen2, Pub/Sub push on the train topic, published by Cloud Scheduler):
trains the runtime model on the BigQuery history and publishes it to the artifacts
bucket's model registry when it beats the current one (DESIGN.md §5, §6)."""

from __future__ import annotations

from sparkcopilot.pipeline.events import CloudEvent
from sparkcopilot.pipeline.gcp import deployed_pipeline
from sparkcopilot.pipeline.models import BlobModelRegistry, train_from_history


def train(cloud_event: CloudEvent) -> None:
    del cloud_event  # the schedule's tick carries nothing
    pipeline = deployed_pipeline()
    registry = BlobModelRegistry(pipeline.blobs, pipeline.settings.pipeline.artifacts_bucket)
    train_from_history(pipeline.history, registry)
