"""The Pulumi program under mocks: the whole topology, its triggers, retry and dead-letter
policies, IAM bindings and function settings, and that it names what the code uses."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from infra.bundle import build_bundles
from infra.config import StackConfig, from_pulumi, load
from sparkcopilot import resources
from sparkcopilot.config import load_settings
from sparkcopilot.errors import UsageError
from sparkcopilot.history_schema import ROW_MODELS, table_schema

from .cloud import PROJECT_NUMBER, Declared, run_program
from .entry_points import defined_names

PROJECT = "my-project"
PREFIX = "dev"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
TOPIC = "gcp:pubsub/topic:Topic"
AGENT_FUNCTIONS = [f"analyze-{agent}" for agent in resources.AGENTS]
PUSHED = {
    **{f"analyze-{a}": resources.agent_subscription(a) for a in resources.AGENTS},
    "recommend": resources.SUBSCRIPTION_DISPATCH,
    "train": resources.SUBSCRIPTION_TRAIN,
}
PUBSUB_AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
GCS_AGENT = f"service-{PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
LOGS = f"{PROJECT}-dev-spark-logs"
ARTIFACTS = f"{PROJECT}-dev-spark-copilot-artifacts"


def _named(stem: str) -> str:
    return resources.qualified(stem, PREFIX)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bundles")
    return {bundle.function: bundle.path for bundle in build_bundles(out_dir=out)}


@pytest.fixture(scope="module")
def declared(bundles: dict[str, Path]) -> list[Declared]:
    config = StackConfig(
        project=PROJECT,
        prefix=PREFIX,
        api_invokers=("group:data-platform@example.com",),
        functions={"train": {"memory": "8Gi"}},
    )
    return run_program(config, bundles)[1]


def _of(declared: list[Declared], kind: str) -> dict[str, dict[str, Any]]:
    found = [d for d in declared if d.type == kind]
    return {str(d.inputs.get("name", d.name)): dict(d.inputs) for d in found}


def _functions(declared: list[Declared]) -> dict[str, dict[str, Any]]:
    return {name.removeprefix(f"{PREFIX}-"): f for name, f in _of(declared, FUNCTION).items()}


def test_every_function_is_declared_gen2_python311_with_its_entry_point(
    declared: list[Declared], bundles: dict[str, Path]
) -> None:
    functions = _functions(declared)
    assert set(functions) == {"ingest", *AGENT_FUNCTIONS, "recommend", "api", "train"}
    for name, function in functions.items():
        build = function["buildConfig"]
        assert build["runtime"] == "python311"
        assert build["entryPoint"] == name.replace("-", "_")
        bundle_name = build["source"]["storageSource"]["object"].removeprefix("sources/")
        assert build["source"]["storageSource"]["bucket"] == ARTIFACTS
        # The entry point is a top-level function of the main.py inside that very bundle.
        (bundle,) = [p for p in bundles.values() if p.name == bundle_name]
        with zipfile.ZipFile(bundle) as archive:
            defined = defined_names(archive.read("main.py"))
        assert build["entryPoint"] in defined, (name, bundle_name)


def test_function_settings_and_overrides(declared: list[Declared]) -> None:
    functions = _functions(declared)
    for name, function in functions.items():
        service = function["serviceConfig"]
        assert (
            service["serviceAccountEmail"]
            == f"{_named('fn-' + name)}@{PROJECT}.iam.gserviceaccount.com"
        )
        # The functions' settings accept every variable infra sets (unknown keys are refused).
        load_settings(service["environmentVariables"])
        assert service["environmentVariables"]["SPARK_COPILOT_PIPELINE__PREFIX"] == PREFIX
        assert (
            service["environmentVariables"]["SPARK_COPILOT_PIPELINE__ARTIFACTS_BUCKET"] == ARTIFACTS
        )
        # Pub/Sub redelivers a push after the ack deadline (600 s at most).
        if name in PUSHED:
            assert service["timeoutSeconds"] <= 570
    assert functions["ingest"]["serviceConfig"]["availableMemory"] == "4Gi"
    assert functions["train"]["serviceConfig"]["availableMemory"] == "8Gi"  # the override
    assert functions["api"]["serviceConfig"]["maxInstanceRequestConcurrency"] > 1
    recommend_env = functions["recommend"]["serviceConfig"]["environmentVariables"]
    assert recommend_env["SPARK_COPILOT_KNOWLEDGE__INDEX"] == "vertex"
    assert recommend_env["SPARK_COPILOT_KNOWLEDGE__VERTEX__ENDPOINT_DOMAIN"].endswith(".goog")


def test_ingest_is_triggered_by_finalize_on_the_logs_bucket_in_its_region(
    declared: list[Declared],
) -> None:
    functions = _functions(declared)
    trigger = functions["ingest"]["eventTrigger"]
    assert trigger["eventType"] == "google.cloud.storage.object.v1.finalized"
    assert trigger["eventFilters"] == [{"attribute": "bucket", "value": LOGS}]
    assert trigger["triggerRegion"] == "us-central1"
    assert trigger["retryPolicy"] == "RETRY_POLICY_RETRY"
    assert trigger["serviceAccountEmail"].startswith(_named("eventarc-invoker") + "@")
    assert [n for n, f in functions.items() if "eventTrigger" in f] == ["ingest"]


def test_existing_logs_bucket_is_used_in_its_own_region(bundles: dict[str, Path]) -> None:
    config = StackConfig(project=PROJECT, logs_bucket="team-spark-logs", vector_search=False)
    declared = run_program(config, bundles, bucket_location="EUROPE-WEST1")[1]
    assert "team-spark-logs" not in _of(declared, "gcp:storage/bucket:Bucket")
    assert "gcp:vertex/aiIndex:AiIndex" not in {d.type for d in declared}
    trigger = _of(declared, FUNCTION)["ingest"]["eventTrigger"]
    assert trigger["eventFilters"] == [{"attribute": "bucket", "value": "team-spark-logs"}]
    assert trigger["triggerRegion"] == "europe-west1"


def test_each_pushed_function_has_its_subscription_with_retry_and_dead_letter(
    declared: list[Declared],
) -> None:
    subscriptions = _of(declared, SUBSCRIPTION)
    functions = _functions(declared)
    dead_letter = f"projects/{PROJECT}/topics/{_named(resources.TOPIC_DEAD_LETTER)}"
    for function, stem in PUSHED.items():
        subscription = subscriptions[_named(stem)]
        topic = stem.split("-", 1)[0]
        assert subscription["topic"] == f"projects/{PROJECT}/topics/{_named(topic)}"
        push = subscription["pushConfig"]
        assert push["pushEndpoint"] == f"https://{_named(function)}-abc.a.run.app"
        assert push["oidcToken"]["serviceAccountEmail"].startswith(_named("push-invoker") + "@")
        assert subscription["deadLetterPolicy"] == {
            "deadLetterTopic": dead_letter,
            "maxDeliveryAttempts": 5,
        }
        assert subscription["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
        timeout = functions[function]["serviceConfig"]["timeoutSeconds"]
        assert timeout < subscription["ackDeadlineSeconds"] <= 600
    # Dead letters are kept: a topic without a subscription would drop them.
    hold = subscriptions[_named(resources.SUBSCRIPTION_DEAD_LETTER)]
    assert hold["topic"] == dead_letter and "pushConfig" not in hold


def _iam(declared: list[Declared]) -> set[tuple[str, str, str]]:
    """(who, role, on what) for every IAM binding; accounts by their stem."""
    bindings = set()
    for d in declared:
        if not d.type.lower().endswith("iammember"):
            continue
        who = d.inputs["member"].removeprefix("serviceAccount:")
        who = who.split("@")[0].removeprefix(f"{PREFIX}-") if PROJECT in who else who
        target = next(
            str(d.inputs[key])
            for key in (
                "bucket",
                "topic",
                "subscription",
                "datasetId",
                "secretId",
                "name",
                "serviceAccountId",
                "project",
            )
            if key in d.inputs
        )
        bindings.add((who, d.inputs["role"], target.rsplit("/", 1)[-1]))
    return bindings


def _expected_iam() -> set[tuple[str, str, str]]:
    viewer, user, publisher = (
        "roles/storage.objectViewer",
        "roles/storage.objectUser",
        "roles/pubsub.publisher",
    )
    datastore, invoker = "roles/datastore.user", "roles/run.invoker"
    expected = {
        ("fn-ingest", viewer, LOGS),
        ("fn-ingest", user, ARTIFACTS),
        ("fn-ingest", datastore, PROJECT),
        ("fn-ingest", publisher, "dev-parsed"),
        ("fn-ingest", publisher, "dev-dead-letter"),
        ("fn-recommend", viewer, ARTIFACTS),
        ("fn-recommend", datastore, PROJECT),
        ("fn-recommend", "roles/bigquery.dataEditor", "dev_spark_copilot"),
        ("fn-recommend", publisher, "dev-results"),
        ("fn-recommend", publisher, "dev-dead-letter"),
        ("fn-recommend", "roles/aiplatform.user", PROJECT),
        ("fn-api", viewer, LOGS),
        ("fn-api", datastore, PROJECT),
        ("fn-api", "roles/secretmanager.secretAccessor", "dev-api-keys"),
        ("fn-train", "roles/bigquery.dataViewer", "dev_spark_copilot"),
        ("fn-train", "roles/bigquery.jobUser", PROJECT),
        ("fn-train", user, ARTIFACTS),
        ("fn-train", publisher, "dev-dead-letter"),
        # Eventarc delivers the finalize events to ingest only.
        ("eventarc-invoker", "roles/eventarc.eventReceiver", PROJECT),
        ("eventarc-invoker", invoker, "dev-ingest"),
        # Cloud Storage publishes the notifications Eventarc listens to.
        (GCS_AGENT, publisher, PROJECT),
        # Pub/Sub forwards undeliverable messages and signs pushes as the invoker.
        (PUBSUB_AGENT, publisher, "dev-dead-letter"),
        (
            PUBSUB_AGENT,
            "roles/iam.serviceAccountTokenCreator",
            _named("push-invoker") + f"@{PROJECT}.iam.gserviceaccount.com",
        ),
        ("group:data-platform@example.com", invoker, "dev-api"),
    }
    for agent in AGENT_FUNCTIONS:
        expected |= {
            (f"fn-{agent}", viewer, ARTIFACTS),
            (f"fn-{agent}", datastore, PROJECT),
            (f"fn-{agent}", publisher, "dev-dispatch"),
            (f"fn-{agent}", publisher, "dev-dead-letter"),
        }
    for function, subscription in PUSHED.items():
        expected |= {
            ("push-invoker", invoker, _named(function)),
            (PUBSUB_AGENT, "roles/pubsub.subscriber", _named(subscription)),
        }
    return expected


def test_iam_bindings_are_exactly_the_least_privileges(declared: list[Declared]) -> None:
    actual = _iam(declared)
    assert actual - _expected_iam() == set(), "bindings nobody asked for"
    assert _expected_iam() - actual == set(), "bindings missing"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def test_no_primitive_role_no_public_member_and_one_account_per_function(
    declared: list[Declared],
) -> None:
    everything = [s for d in declared for s in _strings(dict(d.inputs))]
    assert not {"allUsers", "allAuthenticatedUsers"} & set(everything)
    assert not {"roles/owner", "roles/editor", "roles/viewer"} & set(everything)
    accounts = [f["serviceConfig"]["serviceAccountEmail"] for f in _of(declared, FUNCTION).values()]
    assert len(set(accounts)) == len(accounts)
    for bucket in _of(declared, "gcp:storage/bucket:Bucket").values():
        assert bucket["uniformBucketLevelAccess"] is True
        assert bucket["publicAccessPrevention"] == "enforced"
        assert bucket["lifecycleRules"], bucket["name"]


def test_resource_names_are_unique(declared: list[Declared]) -> None:
    counts = Counter((d.type, d.name) for d in declared)
    assert [key for key, count in counts.items() if count > 1] == []


def test_every_name_the_code_uses_exists(declared: list[Declared]) -> None:
    """The adapters publish to, subscribe on and write to names of sparkcopilot.resources:
    each must exist in the infrastructure."""
    topics = set(_of(declared, TOPIC))
    subscriptions = set(_of(declared, SUBSCRIPTION))
    constants = {k: v for k, v in vars(resources).items() if k.isupper()}
    for key, value in constants.items():
        if key.startswith("TOPIC_"):
            assert _named(value) in topics, key
        if key.startswith("SUBSCRIPTION_"):
            assert _named(value) in subscriptions, key
    for agent in resources.AGENTS:
        assert _named(resources.agent_subscription(agent)) in subscriptions
    secrets = {s["secretId"] for s in _of(declared, "gcp:secretmanager/secret:Secret").values()}
    assert secrets == {_named(resources.SECRET_API_KEYS)}
    datasets = _of(declared, "gcp:bigquery/dataset:Dataset")
    assert [d["datasetId"] for d in datasets.values()] == ["dev_spark_copilot"]


def test_history_tables_have_the_schemas_of_the_rows_appended_to_them(
    declared: list[Declared],
) -> None:
    """The declared schema of each table is the one derived from the row model the
    BigQuery adapter appends (sparkcopilot.history_schema)."""
    tables = {t["tableId"]: t for t in _of(declared, "gcp:bigquery/table:Table").values()}
    assert set(tables) == set(resources.TABLES) == set(ROW_MODELS)
    for name, table in tables.items():
        derived = table_schema(name, ROW_MODELS[name]).as_bigquery_json()
        assert json.loads(table["schema"]) == derived
        assert [c["name"] for c in derived] == list(ROW_MODELS[name].model_fields)
        assert table["timePartitioning"] == {"type": "DAY", "field": "started_at"}
        assert table["clusterings"] == ["app_id"]


def test_scheduler_firestore_and_vector_search(declared: list[Declared]) -> None:
    (job,) = _of(declared, "gcp:cloudscheduler/job:Job").values()
    assert job["pubsubTarget"]["topicName"] == f"projects/{PROJECT}/topics/dev-train"
    assert job["schedule"] == "0 3 * * 1"
    (database,) = _of(declared, "gcp:firestore/database:Database").values()
    assert database["name"] == "(default)" and database["type"] == "FIRESTORE_NATIVE"
    (index,) = _of(declared, "gcp:vertex/aiIndex:AiIndex").values()
    assert index["indexUpdateMethod"] == "STREAM_UPDATE"
    assert index["metadata"]["config"]["dimensions"] == 768
    assert (
        len(_of(declared, "gcp:vertex/aiIndexEndpointDeployedIndex:AiIndexEndpointDeployedIndex"))
        == 1
    )


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"project": PROJECT, "api_invokers": ["allUsers"]}, "spark-copilot:api_invokers"),
        ({"project": PROJECT, "prefix": "Prod_1"}, "spark-copilot:prefix"),
        (
            {"project": PROJECT, "functions": {"api": {"cpu": 0.5, "concurrency": 8}}},
            "functions.api",
        ),
        ({"project": PROJECT, "max_delivery_attempts": 2}, "max_delivery_attempts"),
        ({"project": PROJECT, "functions": {"train": {"timeout_s": 900}}}, "functions.train"),
        ({"project": PROJECT, "colour": "blue"}, "spark-copilot:colour"),
    ],
)
def test_wrong_configuration_is_one_line_naming_the_key(
    values: dict[str, object], complaint: str
) -> None:
    with pytest.raises(UsageError, match=complaint) as raised:
        load(values)
    assert "\n" not in str(raised.value)


@pytest.fixture
def stack_config() -> Iterator[Callable[[dict[str, str]], StackConfig]]:
    def read(values: dict[str, str]) -> StackConfig:
        pulumi.runtime.set_all_config(values)
        return from_pulumi()

    yield read
    pulumi.runtime.set_all_config({})


def test_stack_configuration_as_pulumi_hands_it_over(
    stack_config: Callable[[dict[str, str]], StackConfig],
) -> None:
    config = stack_config(
        {
            "gcp:project": PROJECT,
            "gcp:region": "europe-west1",
            "spark-copilot:prefix": "dev",
            "spark-copilot:logs_bucket": "12345",
            "spark-copilot:vector_search": "false",
            "spark-copilot:max_delivery_attempts": "7",
            "spark-copilot:api_invokers": '["group:a@example.com"]',
            "spark-copilot:functions": '{"train": {"memory": "8Gi"}}',
        }
    )
    assert (config.project, config.region, config.prefix) == (PROJECT, "europe-west1", "dev")
    assert config.logs_bucket == "12345" and config.vector_search is False
    assert config.max_delivery_attempts == 7
    assert config.api_invokers == ("group:a@example.com",)
    assert config.settings("train").memory == "8Gi"
    assert config.settings("ingest").memory == "4Gi"


def test_stack_configuration_refuses_a_misspelt_key_and_a_missing_project(
    stack_config: Callable[[dict[str, str]], StackConfig],
) -> None:
    with pytest.raises(UsageError, match="spark-copilot:log_bucket"):
        stack_config({"gcp:project": PROJECT, "spark-copilot:log_bucket": "x"})
    with pytest.raises(UsageError, match="gcp:project"):
        stack_config({"spark-copilot:prefix": "dev"})
