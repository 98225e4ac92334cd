"""The stack's configuration, typed and validated before anything is declared.

``pulumi config set spark-copilot:<key> <value>`` (``Pulumi.<stack>.yaml``) sets the
fields below; ``gcp:project`` and ``gcp:region`` are Pulumi's usual provider settings.
A wrong value stops ``pulumi preview`` with one line naming the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Final, Literal

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sparkcopilot.errors import UsageError

NAMESPACE: Final = "spark-copilot"

FunctionName = Literal["ingest", "analyze", "recommend", "api", "train"]
_MEMBER = re.compile(r"^(user|group|serviceAccount|domain):\S+$")


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Memory = Annotated[str, Field(pattern=r"^[1-9][0-9]*(Mi|Gi)$")]
Cpu = Annotated[float, Field(gt=0, le=8)]
TimeoutS = Annotated[int, Field(ge=1, le=3600)]
Concurrency = Annotated[int, Field(ge=1, le=1000)]
Instances = Annotated[int, Field(ge=1, le=1000)]


class FunctionSettings(_Config):
    """What one function runs with (gen2: a Cloud Run service underneath)."""

    memory: Memory
    cpu: Cpu
    timeout_s: TimeoutS
    #: Requests one instance serves at once (above 1 needs a whole CPU: Cloud Run's rule).
    concurrency: Concurrency = 1
    max_instances: Instances = 10

    @model_validator(mode="after")
    def _whole_cpu_for_concurrency(self) -> FunctionSettings:
        if self.concurrency > 1 and self.cpu < 1:
            raise ValueError("concurrency above 1 needs cpu >= 1")
        return self


class FunctionOverrides(_Config):
    memory: Memory | None = None
    cpu: Cpu | None = None
    timeout_s: TimeoutS | None = None
    concurrency: Concurrency | None = None
    max_instances: Instances | None = None

    def applied_to(self, settings: FunctionSettings) -> FunctionSettings:
        changed = self.model_dump(exclude_none=True)
        return FunctionSettings.model_validate({**settings.model_dump(), **changed})


#: Defaults per function; ``spark-copilot:functions`` overrides them per stack.
DEFAULT_SETTINGS: Final[Mapping[FunctionName, FunctionSettings]] = {
    # Reads and parses whole logs: memory-bound, one at a time.
    "ingest": FunctionSettings(memory="4Gi", cpu=2, timeout_s=540, max_instances=20),
    # One agent over one parsed application.
    "analyze": FunctionSettings(memory="2Gi", cpu=1, timeout_s=300, max_instances=20),
    # Merge, retrieve references, write Firestore and BigQuery: mostly waiting on I/O.
    "recommend": FunctionSettings(memory="1Gi", cpu=1, timeout_s=300, concurrency=4),
    "api": FunctionSettings(memory="1Gi", cpu=1, timeout_s=60, concurrency=20),
    "train": FunctionSettings(memory="4Gi", cpu=2, timeout_s=540, max_instances=1),
}


#: The longest a function may run: an Eventarc-triggered one 540 s (Cloud Functions' limit);
#: a pushed one stays under Pub/Sub's 600 s acknowledgement deadline, or it is redelivered
#: while still running.
MAX_TIMEOUT_S: Final[Mapping[FunctionName, int]] = {
    "ingest": 540,
    "analyze": 570,
    "recommend": 570,
    "train": 570,
    "api": 3600,
}


class StackConfig(_Config):
    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
    region: str = "us-central1"
    #: Prefixes every name (topics, functions, accounts): several deployments per project.
    prefix: Annotated[str, Field(pattern=r"^([a-z][a-z0-9]{0,7})?$")] = ""
    #: An existing bucket that receives the logs; empty: the stack creates one.
    logs_bucket: str = ""
    #: Only objects under this prefix of the logs bucket are logs ("" = every object).
    log_prefix: str = ""
    #: Days a log stays in the bucket the stack creates (0 = kept).
    log_retention_days: Annotated[int, Field(ge=0)] = 90
    #: Days a parsed application stays in the artifacts bucket (re-parsed when needed).
    parsed_retention_days: Annotated[int, Field(ge=1)] = 30
    #: Deliveries of a message before it goes to the dead-letter topic (Pub/Sub: 5-100).
    max_delivery_attempts: Annotated[int, Field(ge=5, le=100)] = 5
    #: When train runs (cron, in train_time_zone).
    train_schedule: str = "0 3 * * 1"
    train_time_zone: str = "Etc/UTC"
    #: Who may call the HTTPS API (IAM members; the API checks its own keys as well).
    api_invokers: tuple[str, ...] = ()
    #: Deploy the knowledge base's Vector Search index (an endpoint bills while deployed).
    vector_search: bool = True
    #: Dimensions of the embedding model (text-embedding-005: 768).
    vector_dimensions: Annotated[int, Field(ge=1)] = 768
    functions: dict[FunctionName, FunctionOverrides] = Field(default_factory=dict)

    @field_validator("api_invokers")
    @classmethod
    def _no_public_access(cls, members: tuple[str, ...]) -> tuple[str, ...]:
        for member in members:
            if not _MEMBER.match(member):
                raise ValueError(
                    f"{member!r} is not a user:, group:, serviceAccount: or domain: member "
                    "(allUsers and allAuthenticatedUsers are refused)"
                )
        return members

    @model_validator(mode="after")
    def _overrides_apply(self) -> StackConfig:
        for function in self.functions:
            try:
                timeout_s = self.settings(function).timeout_s
            except ValidationError as exc:
                raise ValueError(f"functions.{function}: {exc.errors()[0]['msg']}") from None
            if timeout_s > MAX_TIMEOUT_S[function]:
                limit = MAX_TIMEOUT_S[function]
                raise ValueError(f"functions.{function}: timeout_s above {limit} s")
        return self

    def settings(self, function: FunctionName) -> FunctionSettings:
        """The function's defaults with this stack's overrides."""
        default = DEFAULT_SETTINGS[function]
        overrides = self.functions.get(function)
        return overrides.applied_to(default) if overrides else default


def from_pulumi() -> StackConfig:
    """The stack's configuration: ``gcp:project``, ``gcp:region`` and ``spark-copilot:*``."""
    provider = pulumi.Config("gcp")
    project = provider.get("project")
    if not project:
        raise UsageError("gcp:project is not set: pulumi config set gcp:project MY_PROJECT")
    values: dict[str, object] = {"project": project}
    if region := provider.get("region"):
        values["region"] = region
    # pulumi.Config cannot list its keys, and a misspelt key must be refused, not ignored.
    every = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    for key, raw in every.items():
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE:
            continue
        field = StackConfig.model_fields.get(name)
        # Structured values (lists, maps, booleans, numbers) arrive as JSON text.
        values[name] = raw if field is not None and field.annotation is str else _parsed(raw)
    return load(values)


def _parsed(raw: str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def load(values: dict[str, object]) -> StackConfig:
    """A validated configuration, or a UsageError naming the first wrong key."""
    try:
        return StackConfig.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UsageError(f"{NAMESPACE}:{where}: {first['msg']}") from exc
