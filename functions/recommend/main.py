"""Cloud Functions (gen2): ``recommend`` (Pub/Sub push on the dispatch topic) merges the
agents' partials into the analysis; ``api`` (HTTP) is the HTTPS API (DESIGN.md §6)."""

from __future__ import annotations

import flask

from sparkcopilot.pipeline import events, steps
from sparkcopilot.pipeline.events import CloudEvent
from sparkcopilot.pipeline.gcp import deployed_api, deployed_pipeline


def recommend(cloud_event: CloudEvent) -> None:
    analysis_id = steps.analysis_id_from_message(*events.pubsub_message(cloud_event))
    if analysis_id is not None:
        steps.recommend(deployed_pipeline(), analysis_id)


def api(request: flask.Request) -> tuple[str, int, dict[str, str]]:
    headers = {name.lower(): value for name, value in request.headers.items()}
    response = deployed_api().handle(request.method, request.path, headers, request.stream.read)
    return (
        response.json(),
        response.status,
        {"Content-Type": "application/json", **response.headers},
    )
