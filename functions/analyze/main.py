"""Cloud Functions (gen2, Pub/Sub push on the parsed topic): one entry point per agent,
each deployed with its own subscription; ``analyze`` takes the agent from the
``SPARK_COPILOT_AGENT`` variable instead (DESIGN.md §6)."""

from __future__ import annotations

import os

from sparkcopilot.analysis.findings import AgentName
from sparkcopilot.pipeline import events, steps
from sparkcopilot.pipeline.events import CloudEvent
from sparkcopilot.pipeline.gcp import deployed_pipeline


def _run(agent: AgentName, cloud_event: CloudEvent) -> None:
    data, attributes = events.pubsub_message(cloud_event)
    steps.analyze_message(deployed_pipeline(), agent, data, attributes)


def analyze_metadata(cloud_event: CloudEvent) -> None:
    _run("metadata", cloud_event)


def analyze_partition(cloud_event: CloudEvent) -> None:
    _run("partition", cloud_event)


def analyze_runtime(cloud_event: CloudEvent) -> None:
    _run("runtime", cloud_event)


def analyze_skew(cloud_event: CloudEvent) -> None:
    _run("skew", cloud_event)


def analyze_delta(cloud_event: CloudEvent) -> None:
    _run("delta", cloud_event)


def analyze_cost(cloud_event: CloudEvent) -> None:
    _run("cost", cloud_event)


def analyze(cloud_event: CloudEvent) -> None:
    agent = os.environ["SPARK_COPILOT_AGENT"]
    if agent not in steps.AGENT_BY_NAME:
        raise ValueError(f"SPARK_COPILOT_AGENT={agent}: not one of {sorted(steps.AGENT_BY_NAME)}")
    _run(steps.AGENT_BY_NAME[agent].name, cloud_event)
