"""The repeated shape of the pipeline: a function with its own service account, the least
privileges it needs, and its trigger (a Cloud Storage finalize through Eventarc, or a Pub/Sub
push subscription with a retry and a dead-letter policy, or none for HTTPS).

Pub/Sub triggers are push subscriptions declared here rather than Eventarc's Pub/Sub
triggers: Eventarc's subscriptions get generated names and no dead-letter policy, and
these carry the names of :mod:`sparkcopilot.resources`. The Functions Framework turns a
raw push body into the same CloudEvent an Eventarc trigger delivers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import pulumi
import pulumi_gcp as gcp

from .bundle import RUNTIME
from .config import FunctionSettings

#: No function, agent or user gets one of these (Google's primitive roles).
PRIMITIVE_ROLES: Final = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
FINALIZED: Final = "google.cloud.storage.object.v1.finalized"
INVOKER: Final = "roles/run.invoker"


@dataclass(frozen=True, slots=True)
class Grant:
    """One role on one resource for a function's account."""

    scope: Literal["project", "bucket", "topic", "dataset", "secret"]
    role: str
    #: The bucket name, topic id, dataset id or secret id ("" for the project).
    target: pulumi.Input[str] = ""
    #: Names the target in the binding's resource name (``logs``, ``parsed``...).
    label: str = "project"

    def bind(
        self, name: str, member: pulumi.Input[str], project: str, opts: pulumi.ResourceOptions
    ) -> None:
        if self.role in PRIMITIVE_ROLES:
            raise ValueError(f"{name}: {self.role} is a primitive role")
        match self.scope:
            case "project":
                gcp.projects.IAMMember(
                    name, project=project, role=self.role, member=member, opts=opts
                )
            case "bucket":
                gcp.storage.BucketIAMMember(
                    name, bucket=self.target, role=self.role, member=member, opts=opts
                )
            case "topic":
                gcp.pubsub.TopicIAMMember(
                    name,
                    project=project,
                    topic=self.target,
                    role=self.role,
                    member=member,
                    opts=opts,
                )
            case "dataset":
                gcp.bigquery.DatasetIamMember(
                    name,
                    project=project,
                    dataset_id=self.target,
                    role=self.role,
                    member=member,
                    opts=opts,
                )
            case "secret":
                gcp.secretmanager.SecretIamMember(
                    name,
                    project=project,
                    secret_id=self.target,
                    role=self.role,
                    member=member,
                    opts=opts,
                )


@dataclass(frozen=True, slots=True)
class StorageTrigger:
    bucket: pulumi.Input[str]
    #: The bucket's region: an Eventarc trigger on a bucket must sit there.
    region: pulumi.Input[str]
    #: Calls the function for Eventarc (eventarc.eventReceiver + run.invoker on this one).
    invoker: gcp.serviceaccount.Account


@dataclass(frozen=True, slots=True)
class PushTrigger:
    topic: gcp.pubsub.Topic
    subscription: str
    dead_letter_topic: gcp.pubsub.Topic
    max_delivery_attempts: int
    #: Pub/Sub's service agent, which forwards undeliverable messages (it needs
    #: pubsub.subscriber on the subscription, and publisher on the dead-letter topic).
    pubsub_agent: pulumi.Input[str]
    #: Signs the pushes (OIDC) and gets run.invoker on this function.
    invoker: gcp.serviceaccount.Account


@dataclass(frozen=True, slots=True)
class HttpTrigger:
    #: IAM members allowed to call the function (never allUsers).
    invokers: Sequence[str] = ()


Trigger = StorageTrigger | PushTrigger | HttpTrigger


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    #: Deployed name, also the stem of its account (``analyze-skew``).
    name: str
    entry_point: str
    #: The bundle (an object in the sources bucket) holding the function's directory.
    bucket: pulumi.Input[str]
    object: pulumi.Input[str]
    settings: FunctionSettings
    trigger: Trigger
    grants: Sequence[Grant] = ()
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


# Pub/Sub waits this much beyond the function's timeout before it redelivers (its maximum
# acknowledgement deadline is 600 s).
_ACK_MARGIN_S: Final = 30
_MAX_ACK_DEADLINE_S: Final = 600


class PipelineFunction(pulumi.ComponentResource):
    """A gen2 Cloud Function with its service account, grants and trigger."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        project: str,
        region: str,
        account_id: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-copilot:infra:PipelineFunction", spec.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = gcp.serviceaccount.Account(
            f"{spec.name}-account",
            account_id=account_id,
            display_name=f"Spark Copilot function {spec.name}",
            project=project,
            opts=child,
        )
        member = self.account.email.apply(lambda email: f"serviceAccount:{email}")
        for grant in spec.grants:
            grant.bind(
                f"{spec.name}-{grant.label}-{_role_stem(grant.role)}", member, project, child
            )

        trigger = spec.trigger
        settings = spec.settings
        self.function = gcp.cloudfunctionsv2.Function(
            spec.name,
            name=spec.name,
            location=region,
            project=project,
            build_config={
                "runtime": RUNTIME,
                "entry_point": spec.entry_point,
                "source": {"storage_source": {"bucket": spec.bucket, "object": spec.object}},
            },
            service_config={
                "available_memory": settings.memory,
                "available_cpu": str(settings.cpu),
                "timeout_seconds": settings.timeout_s,
                "max_instance_request_concurrency": settings.concurrency,
                "max_instance_count": settings.max_instances,
                "service_account_email": self.account.email,
                "environment_variables": dict(spec.environment),
                # Pushes, Eventarc and API calls all arrive over HTTPS with an identity.
                "ingress_settings": "ALLOW_ALL",
                "all_traffic_on_latest_revision": True,
            },
            event_trigger=(
                {
                    "event_type": FINALIZED,
                    "trigger_region": trigger.region,
                    "event_filters": [{"attribute": "bucket", "value": trigger.bucket}],
                    "retry_policy": "RETRY_POLICY_RETRY",
                    "service_account_email": trigger.invoker.email,
                }
                if isinstance(trigger, StorageTrigger)
                else None
            ),
            opts=child,
        )
        self.url = self.function.url

        invokers: list[pulumi.Input[str]]
        if isinstance(trigger, HttpTrigger):
            invokers = list(trigger.invokers)
        else:
            invokers = [trigger.invoker.email.apply(lambda email: f"serviceAccount:{email}")]
        for index, invoker in enumerate(invokers):
            gcp.cloudrunv2.ServiceIamMember(
                f"{spec.name}-invoker-{index}",
                name=self.function.name,
                location=region,
                project=project,
                role=INVOKER,
                member=invoker,
                opts=child,
            )

        self.subscription: gcp.pubsub.Subscription | None = None
        if isinstance(trigger, PushTrigger):
            self.subscription = gcp.pubsub.Subscription(
                f"{spec.name}-subscription",
                name=trigger.subscription,
                topic=trigger.topic.id,
                project=project,
                ack_deadline_seconds=min(settings.timeout_s + _ACK_MARGIN_S, _MAX_ACK_DEADLINE_S),
                push_config={
                    "push_endpoint": self.function.url,
                    "oidc_token": {
                        "service_account_email": trigger.invoker.email,
                        "audience": self.function.url,
                    },
                },
                retry_policy={"minimum_backoff": "10s", "maximum_backoff": "600s"},
                dead_letter_policy={
                    "dead_letter_topic": trigger.dead_letter_topic.id,
                    "max_delivery_attempts": trigger.max_delivery_attempts,
                },
                # A week to catch up after an outage; the subscription itself never expires.
                message_retention_duration="604800s",
                expiration_policy={"ttl": ""},
                opts=child,
            )
            gcp.pubsub.SubscriptionIAMMember(
                f"{spec.name}-subscription-dead-letter",
                subscription=self.subscription.name,
                project=project,
                role="roles/pubsub.subscriber",
                member=trigger.pubsub_agent,
                opts=child,
            )
        self.register_outputs({"url": self.url, "account": self.account.email})


def _role_stem(role: str) -> str:
    """``roles/storage.objectViewer`` → ``storage-objectViewer`` (a resource-name part)."""
    return role.removeprefix("roles/").replace(".", "-")
