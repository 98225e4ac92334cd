"""The finding contract (DESIGN.md §4): what every rule and agent produces."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["info", "warning", "critical"]

Kind = Literal[
    "data_skew",
    "disk_spill",
    "too_many_partitions",
    "too_few_partitions",
    "small_files",
    "python_udf",
    "broadcast_join_missed",
    "cartesian_join",
    "task_failures",
    "idle_executors",
    "gc_pressure",
    "driver_bottleneck",
    "executor_memory_waste",
    "aqe_disabled",
    "full_scan",
    "delta_layout",
    "cost",
]

AgentName = Literal["metadata", "partition", "runtime", "skew", "delta", "cost"]

SEVERITY_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "critical": 2}


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Scope(_Contract):
    job_ids: tuple[int, ...] = ()
    stage_ids: tuple[int, ...] = ()
    sql_ids: tuple[int, ...] = ()


class Savings(_Contract):
    wall_ms: int = 0
    core_hours: float = 0.0
    #: Executor memory no longer reserved (executor_memory_waste), priced by the cost agent.
    memory_gib_hours: float = 0.0
    cost_usd: float = 0.0


class Reference(_Contract):
    title: str
    url: str
    kb_id: str


class Finding(_Contract):
    id: str
    kind: Kind
    agent: AgentName
    severity: Severity
    title: str
    scope: Scope
    #: The numbers that prove it, named so a Spark engineer can check them in the UI.
    evidence: dict[str, int | float | str]
    recommendation: str
    #: Concrete Spark settings that fix it, as strings the way spark-defaults takes them.
    config: dict[str, str] = Field(default_factory=dict)
    estimated_savings: Savings = Savings()
    confidence: float = Field(ge=0.0, le=1.0)
    references: tuple[Reference, ...] = ()
    explanation: str = ""


def finding_id(kind: Kind, scope: Scope) -> str:
    """Stable across runs and machines: the same problem on the same stages gets one id."""
    key = f"{kind}|{scope.job_ids}|{scope.stage_ids}|{scope.sql_ids}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]
