"""Everything the serverless pipeline needs (DESIGN.md §6), declared from a validated
configuration and the deploy bundles. Names come from :mod:`sparkcopilot.resources` and the
BigQuery schemas from :mod:`sparkcopilot.history_schema`, which the functions' adapters
import too.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pulumi
import pulumi_gcp as gcp

from sparkcopilot import resources as names
from sparkcopilot.history_schema import CLUSTER_COLUMN, HISTORY_TABLES, PARTITION_COLUMN

from .bundle import BundleError
from .components import (
    FunctionSpec,
    Grant,
    HttpTrigger,
    PipelineFunction,
    PushTrigger,
    StorageTrigger,
)
from .config import FunctionName, StackConfig

#: The bundle (``functions/<dir>/``) of a kind of function named otherwise.
SOURCE_DIRECTORY: Final[Mapping[FunctionName, str]] = {"api": "recommend"}

#: Entry points per bundle directory (``functions/<dir>/main.py``).
ENTRY_POINTS: Final[Mapping[str, tuple[str, ...]]] = {
    "ingest": ("ingest",),
    "analyze": tuple(f"analyze_{agent}" for agent in names.AGENTS),
    "recommend": ("recommend", "api"),
    "train": ("train",),
}

_PUBLISHER: Final = "roles/pubsub.publisher"
_DATASTORE: Final = "roles/datastore.user"


@dataclass(frozen=True, slots=True)
class Pipeline:
    logs_bucket: pulumi.Output[str]
    artifacts_bucket: gcp.storage.Bucket
    topics: Mapping[str, gcp.pubsub.Topic]
    functions: Mapping[str, PipelineFunction]


def declare(config: StackConfig, bundles: Mapping[str, Path]) -> Pipeline:
    """Declare the whole topology; ``bundles`` maps ``functions/<dir>`` names to zips."""
    missing = sorted(set(ENTRY_POINTS) - set(bundles))
    if missing:
        raise BundleError(f"no bundle for functions/{missing[0]}: run python -m infra.bundle")
    project, region, prefix = config.project, config.region, config.prefix

    def named(stem: str) -> str:
        return _named(stem, config)

    artifacts, logs_bucket, logs_region = _buckets(config)
    topics, pubsub_agent = _messaging(config)
    dead_letter = topics[names.TOPIC_DEAD_LETTER]
    dataset, api_keys = _stores(config)

    # -- Vertex AI Vector Search (the knowledge base) --
    knowledge_environment: dict[str, pulumi.Input[str]] = {}
    if config.vector_search:
        knowledge_environment = _vector_search(config, artifacts)

    # -- Deploy bundles --
    sources = {
        directory: gcp.storage.BucketObject(
            f"source-{directory}",
            bucket=artifacts.name,
            name=f"{names.PREFIX_SOURCES}{bundles[directory].name}",
            source=pulumi.FileAsset(str(bundles[directory])),
        )
        for directory in ENTRY_POINTS
    }

    # -- Functions --
    environment: dict[str, pulumi.Input[str]] = {
        "SPARK_COPILOT_PIPELINE__PROJECT": project,
        "SPARK_COPILOT_PIPELINE__PREFIX": prefix,
        "SPARK_COPILOT_PIPELINE__ARTIFACTS_BUCKET": artifacts.name,
        "SPARK_COPILOT_PIPELINE__LOG_PREFIX": config.log_prefix,
    }
    push_invoker = _account("push-invoker", "Spark Copilot Pub/Sub pushes", config)
    # Pub/Sub's agent mints the pushes' OIDC tokens as the invoker.
    gcp.serviceaccount.IAMMember(
        "push-invoker-token-creator",
        service_account_id=push_invoker.name,
        role="roles/iam.serviceAccountTokenCreator",
        member=pubsub_agent,
    )
    eventarc_invoker = _account("eventarc-invoker", "Spark Copilot Eventarc delivery", config)
    gcp.projects.IAMMember(
        "eventarc-invoker-receiver",
        project=project,
        role="roles/eventarc.eventReceiver",
        member=eventarc_invoker.email.apply(lambda email: f"serviceAccount:{email}"),
    )

    def pushed_from(topic: str, subscription: str) -> PushTrigger:
        return PushTrigger(
            topic=topics[topic],
            subscription=named(subscription),
            dead_letter_topic=dead_letter,
            max_delivery_attempts=config.max_delivery_attempts,
            pubsub_agent=pubsub_agent,
            invoker=push_invoker,
        )

    def publishes(*published: str) -> list[Grant]:
        return [Grant("topic", _PUBLISHER, topics[topic].name, topic) for topic in published]

    reads_artifacts = Grant("bucket", "roles/storage.objectViewer", artifacts.name, "artifacts")
    # Writers may overwrite (a redelivered event, the current model's pointer): objectUser.
    writes_artifacts = Grant("bucket", "roles/storage.objectUser", artifacts.name, "artifacts")
    firestore = Grant("project", _DATASTORE)

    functions: dict[str, PipelineFunction] = {}

    def function(
        kind: FunctionName,
        name: str,
        trigger: StorageTrigger | PushTrigger | HttpTrigger,
        grants: list[Grant],
        extra_environment: Mapping[str, pulumi.Input[str]] | None = None,
    ) -> None:
        directory = SOURCE_DIRECTORY.get(kind, kind)
        spec = FunctionSpec(
            name=named(name),
            entry_point=name.replace("-", "_"),
            bucket=artifacts.name,
            object=sources[directory].name,
            settings=config.settings(kind),
            trigger=trigger,
            grants=grants,
            environment={**environment, **(extra_environment or {})},
        )
        functions[name] = PipelineFunction(
            spec, project=project, region=region, account_id=named(f"fn-{name}")
        )

    # Poison input is parked on the dead-letter topic by the function that meets it (§6).
    function(
        "ingest",
        "ingest",
        StorageTrigger(bucket=logs_bucket, region=logs_region, invoker=eventarc_invoker),
        [
            Grant("bucket", "roles/storage.objectViewer", logs_bucket, "logs"),
            writes_artifacts,
            firestore,
            *publishes(names.TOPIC_PARSED, names.TOPIC_DEAD_LETTER),
        ],
    )
    for agent in names.AGENTS:
        function(
            "analyze",
            f"analyze-{agent}",
            pushed_from(names.TOPIC_PARSED, names.agent_subscription(agent)),
            [
                reads_artifacts,
                firestore,
                *publishes(names.TOPIC_DISPATCH, names.TOPIC_DEAD_LETTER),
            ],
        )
    function(
        "recommend",
        "recommend",
        pushed_from(names.TOPIC_DISPATCH, names.SUBSCRIPTION_DISPATCH),
        [
            reads_artifacts,
            firestore,
            Grant("dataset", "roles/bigquery.dataEditor", dataset.dataset_id, "history"),
            *publishes(names.TOPIC_RESULTS, names.TOPIC_DEAD_LETTER),
            *([Grant("project", "roles/aiplatform.user")] if config.vector_search else []),
        ],
        knowledge_environment,
    )
    function(
        "api",
        "api",
        HttpTrigger(invokers=config.api_invokers),
        [
            # POST /analyses and /comparisons read the gs:// logs they are given.
            Grant("bucket", "roles/storage.objectViewer", logs_bucket, "logs"),
            firestore,
            Grant("secret", "roles/secretmanager.secretAccessor", api_keys.secret_id, "api-keys"),
        ],
    )
    function(
        "train",
        "train",
        pushed_from(names.TOPIC_TRAIN, names.SUBSCRIPTION_TRAIN),
        [
            Grant("dataset", "roles/bigquery.dataViewer", dataset.dataset_id, "history"),
            Grant("project", "roles/bigquery.jobUser"),
            writes_artifacts,
            *publishes(names.TOPIC_DEAD_LETTER),
        ],
    )

    gcp.cloudscheduler.Job(
        "train-schedule",
        name=named("train"),
        project=project,
        region=region,
        schedule=config.train_schedule,
        time_zone=config.train_time_zone,
        pubsub_target={
            "topic_name": topics[names.TOPIC_TRAIN].id,
            "data": base64.b64encode(b'{"reason": "schedule"}').decode(),
        },
    )

    pulumi.export("logs_bucket", logs_bucket)
    pulumi.export("artifacts_bucket", artifacts.name)
    pulumi.export("api_url", functions["api"].url)
    return Pipeline(logs_bucket, artifacts, topics, functions)


def _named(stem: str, config: StackConfig) -> str:
    return names.qualified(stem, config.prefix)


def _buckets(
    config: StackConfig,
) -> tuple[gcp.storage.Bucket, pulumi.Output[str], pulumi.Output[str]]:
    """The artifacts bucket, and the logs bucket's name and region (created, or existing)."""
    project, region = config.project, config.region
    artifacts = gcp.storage.Bucket(
        "artifacts",
        name=f"{project}-{_named('spark-copilot-artifacts', config)}",
        location=region,
        project=project,
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        lifecycle_rules=[
            {
                "action": {"type": "Delete"},
                "condition": {
                    "age": config.parsed_retention_days,
                    "matches_prefixes": [names.PREFIX_PARSED],
                },
            },
        ],
    )
    if config.logs_bucket:
        existing = gcp.storage.get_bucket_output(name=config.logs_bucket)
        logs_bucket, logs_region = existing.name, existing.location.apply(str.lower)
    else:
        logs = gcp.storage.Bucket(
            "logs",
            name=f"{project}-{_named('spark-logs', config)}",
            location=region,
            project=project,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            lifecycle_rules=(
                [{"action": {"type": "Delete"}, "condition": {"age": config.log_retention_days}}]
                if config.log_retention_days
                else []
            ),
        )
        logs_bucket, logs_region = logs.name, pulumi.Output.from_input(region)
    return artifacts, logs_bucket, logs_region


def _messaging(config: StackConfig) -> tuple[dict[str, gcp.pubsub.Topic], pulumi.Output[str]]:
    """The topics, a subscription holding dead letters, and the service agents' rights;
    returns the topics and Pub/Sub's service agent (as an IAM member)."""
    project = config.project
    topics = {
        topic: gcp.pubsub.Topic(f"topic-{topic}", name=_named(topic, config), project=project)
        for topic in names.TOPICS
    }
    dead_letter = topics[names.TOPIC_DEAD_LETTER]
    gcp.pubsub.Subscription(
        "dead-letter-hold",
        name=_named(names.SUBSCRIPTION_DEAD_LETTER, config),
        topic=dead_letter.id,
        project=project,
        message_retention_duration="604800s",
        expiration_policy={"ttl": ""},
    )
    project_number = gcp.organizations.get_project_output(project_id=project).number
    pubsub_agent = project_number.apply(
        lambda number: f"serviceAccount:service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    )
    gcp.pubsub.TopicIAMMember(
        "dead-letter-pubsub-agent",
        topic=dead_letter.name,
        project=project,
        role=_PUBLISHER,
        member=pubsub_agent,
    )
    # Cloud Storage's own agent publishes the finalize notifications Eventarc listens to.
    gcs_agent = gcp.storage.get_project_service_account_output(project=project).email_address
    gcp.projects.IAMMember(
        "gcs-agent-publisher",
        project=project,
        role=_PUBLISHER,
        member=gcs_agent.apply(lambda email: f"serviceAccount:{email}"),
    )
    return topics, pubsub_agent


def _stores(config: StackConfig) -> tuple[gcp.bigquery.Dataset, gcp.secretmanager.Secret]:
    """Firestore, the BigQuery history and the API keys' secret."""
    project, region = config.project, config.region
    gcp.firestore.Database(
        "firestore",
        name="(default)",
        project=project,
        location_id=region,
        type="FIRESTORE_NATIVE",
        delete_protection_state="DELETE_PROTECTION_ENABLED",
        deletion_policy="ABANDON",
    )
    dataset = gcp.bigquery.Dataset(
        "history",
        dataset_id=names.history_dataset(config.prefix),
        project=project,
        location=region,
        description="Spark Copilot: every analysed application, its stages and findings",
    )
    for table in HISTORY_TABLES.values():
        gcp.bigquery.Table(
            f"history-{table.name}",
            dataset_id=dataset.dataset_id,
            table_id=table.name,
            project=project,
            schema=json.dumps(table.as_bigquery_json()),
            time_partitioning={"type": "DAY", "field": PARTITION_COLUMN},
            clusterings=[CLUSTER_COLUMN],
            deletion_protection=True,
        )
    api_keys = gcp.secretmanager.Secret(
        "api-keys",
        secret_id=_named(names.SECRET_API_KEYS, config),
        project=project,
        replication={"auto": {}},
    )
    return dataset, api_keys


def _account(stem: str, display_name: str, config: StackConfig) -> gcp.serviceaccount.Account:
    return gcp.serviceaccount.Account(
        stem,
        account_id=_named(stem, config),
        display_name=display_name,
        project=config.project,
    )


def _vector_search(
    config: StackConfig, artifacts: gcp.storage.Bucket
) -> dict[str, pulumi.Input[str]]:
    """The index the knowledge base is upserted into, deployed on a public endpoint; returns
    the settings recommend reads (``[knowledge.vertex]``)."""
    project, region = config.project, config.region
    index = gcp.vertex.AiIndex(
        "knowledge-index",
        display_name=names.qualified("spark-copilot-knowledge", config.prefix),
        project=project,
        region=region,
        index_update_method="STREAM_UPDATE",
        metadata={
            "contents_delta_uri": artifacts.name.apply(
                lambda bucket: f"gs://{bucket}/{names.PREFIX_KNOWLEDGE}"
            ),
            "config": {
                "dimensions": config.vector_dimensions,
                "approximate_neighbors_count": 10,
                # Unit vectors and dot product: cosine ranking (knowledge.settings).
                "distance_measure_type": "DOT_PRODUCT_DISTANCE",
                "feature_norm_type": "UNIT_L2_NORM",
                "algorithm_config": {
                    "tree_ah_config": {
                        "leaf_node_embedding_count": 500,
                        "leaf_nodes_to_search_percent": 10,
                    }
                },
            },
        },
    )
    endpoint = gcp.vertex.AiIndexEndpoint(
        "knowledge-endpoint",
        display_name=names.qualified("spark-copilot-knowledge", config.prefix),
        project=project,
        region=region,
        public_endpoint_enabled=True,
    )
    deployed_id = names.qualified("knowledge", config.prefix).replace("-", "_")
    gcp.vertex.AiIndexEndpointDeployedIndex(
        "knowledge-deployed",
        index_endpoint=endpoint.id,
        index=index.id,
        deployed_index_id=deployed_id,
        automatic_resources={"min_replica_count": 1, "max_replica_count": 2},
    )
    return {
        "SPARK_COPILOT_KNOWLEDGE__EMBEDDER": "vertex",
        "SPARK_COPILOT_KNOWLEDGE__INDEX": "vertex",
        "SPARK_COPILOT_KNOWLEDGE__VERTEX__PROJECT": project,
        "SPARK_COPILOT_KNOWLEDGE__VERTEX__LOCATION": region,
        "SPARK_COPILOT_KNOWLEDGE__VERTEX__INDEX": index.id,
        "SPARK_COPILOT_KNOWLEDGE__VERTEX__INDEX_ENDPOINT": endpoint.id,
        "SPARK_COPILOT_KNOWLEDGE__VERTEX__DEPLOYED_INDEX_ID": deployed_id,
        "SPARK_COPILOT_KNOWLEDGE__VERTEX__ENDPOINT_DOMAIN": endpoint.public_endpoint_domain_name,
    }
