"""Names of every cloud resource the pipeline uses, in one place.

The functions' adapters, the emulator topology and the Pulumi program all import these,
so a topic the code publishes to always exists in the infrastructure (DESIGN.md §1, §6).
Names are stems: a deployment may prefix them (``<prefix>-parsed``) through
:func:`qualified`.
"""

from __future__ import annotations

from typing import Final

from .analysis.findings import AgentName

# -- Pub/Sub topics --
#: ingest → the analyze functions (fan-out: one subscription per agent).
TOPIC_PARSED: Final = "parsed"
#: The agent that completes the set → recommend.
TOPIC_DISPATCH: Final = "dispatch"
#: recommend → users' automation (attributes: analysis_id, app_id, status, max_severity, kinds).
TOPIC_RESULTS: Final = "results"
#: Cloud Scheduler → train.
TOPIC_TRAIN: Final = "train"
#: Poison input, acknowledged and parked here with its reason.
TOPIC_DEAD_LETTER: Final = "dead-letter"
TOPICS: Final = (TOPIC_PARSED, TOPIC_DISPATCH, TOPIC_RESULTS, TOPIC_TRAIN, TOPIC_DEAD_LETTER)

#: The six agents, in the order of analysis/agents.py (each has an analyze function and
#: its own subscription on TOPIC_PARSED).
AGENTS: Final[tuple[AgentName, ...]] = ("metadata", "partition", "runtime", "skew", "delta", "cost")


def agent_subscription(agent: AgentName) -> str:
    """The subscription of one agent's analyze function on the parsed topic."""
    return f"{TOPIC_PARSED}-{agent}"


SUBSCRIPTION_DISPATCH: Final = f"{TOPIC_DISPATCH}-recommend"
SUBSCRIPTION_TRAIN: Final = f"{TOPIC_TRAIN}-train"
#: A pull subscription that holds dead letters for inspection (a topic keeps nothing itself).
SUBSCRIPTION_DEAD_LETTER: Final = f"{TOPIC_DEAD_LETTER}-hold"

# -- Firestore --
#: analyses/{id}: status, object, completed_at, findings | error (DESIGN.md §6).
COLLECTION_ANALYSES: Final = "analyses"
#: analyses/{id}/partials/{agent}.
SUBCOLLECTION_PARTIALS: Final = "partials"
#: analyses/{id}/markers/{name}: create-if-absent markers (who dispatched, what was sent).
SUBCOLLECTION_MARKERS: Final = "markers"
#: content hash → analysis id, so an identical log reuses its result.
COLLECTION_CONTENT: Final = "contents"
#: rate-limits/{key id}: the API key's token bucket, shared by every API instance.
COLLECTION_RATE_LIMITS: Final = "rate-limits"

# -- Cloud Storage --
#: Where parsed applications are stored in the artifacts bucket.
PREFIX_PARSED: Final = "parsed/"
#: Where model versions are kept in the artifacts bucket.
PREFIX_MODELS: Final = "models/"
#: Where the deploy bundles (one zip per function version) are kept in the artifacts bucket.
PREFIX_SOURCES: Final = "sources/"
#: Where the knowledge base's vectors are staged for the Vector Search index.
PREFIX_KNOWLEDGE: Final = "knowledge/"

# -- BigQuery --
DATASET_HISTORY: Final = "spark_copilot"
TABLE_APPLICATIONS: Final = "applications"
TABLE_STAGES: Final = "stages"
TABLE_FINDINGS: Final = "findings"
TABLES: Final = (TABLE_APPLICATIONS, TABLE_STAGES, TABLE_FINDINGS)

# -- Secret Manager --
SECRET_API_KEYS: Final = "api-keys"


def qualified(name: str, prefix: str = "") -> str:
    """``name`` under a deployment prefix (``prod-parsed``), or as is without one."""
    return f"{prefix}-{name}" if prefix else name


def history_dataset(prefix: str = "") -> str:
    """The history dataset under a deployment prefix (BigQuery ids take no hyphen)."""
    return qualified(DATASET_HISTORY, prefix).replace("-", "_")
