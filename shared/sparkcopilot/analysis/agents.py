"""The six agents as data: which rules each runs and whose results it needs.

The same declaration drives the local runner here (agents of one wave run concurrently)
and, later, the cloud fan-out (one function per agent, dispatched when its needs are in).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType

from ..model import Application
from .findings import AgentName, Finding
from .rules import (
    Rule,
    broadcast_join_missed,
    cartesian_join,
    data_skew,
    disk_spill,
    driver_bottleneck,
    gc_pressure,
    idle_executors,
    partition_counts,
    python_udf,
    small_files,
    task_failures,
)
from .thresholds import Thresholds


@dataclass(frozen=True, slots=True)
class Agent:
    name: AgentName
    rules: tuple[Rule, ...]
    #: Agents whose results this one reads (and so runs after).
    needs: tuple[AgentName, ...] = ()
    #: Why the agent cannot judge anything yet, while it has no rules.
    pending: str | None = None


@dataclass(frozen=True, slots=True)
class AgentResult:
    agent: AgentName
    findings: tuple[Finding, ...]
    #: What this agent could not judge, and why.
    not_judged: tuple[str, ...] = ()


AGENTS: tuple[Agent, ...] = (
    Agent("metadata", (python_udf, broadcast_join_missed, cartesian_join, small_files)),
    Agent("partition", (disk_spill, partition_counts)),
    Agent("runtime", (task_failures, gc_pressure, idle_executors, driver_bottleneck)),
    Agent("skew", (data_skew,)),
    Agent("delta", (), needs=("metadata",), pending="Delta/Parquet layout rules are not built yet"),
    Agent(
        "cost",
        (),
        needs=("metadata", "partition", "runtime", "skew", "delta"),
        pending="pricing core-hours is not built yet",
    ),
)


def waves(agents: tuple[Agent, ...] = AGENTS) -> list[tuple[Agent, ...]]:
    """Agents in dependency order: each wave needs only agents of earlier waves."""
    done: set[str] = set()
    left = list(agents)
    out: list[tuple[Agent, ...]] = []
    while left:
        ready = tuple(a for a in left if set(a.needs) <= done)
        if not ready:
            raise ValueError(f"agents wait on each other: {[a.name for a in left]}")
        out.append(ready)
        done.update(a.name for a in ready)
        left = [a for a in left if a not in ready]
    return out


def run_agent(
    agent: Agent,
    app: Application,
    thresholds: Thresholds,
    earlier: Mapping[AgentName, AgentResult],
) -> AgentResult:
    """One agent over the immutable model and its needs' results (read, never changed)."""
    missing = [n for n in agent.needs if n not in earlier]
    if missing:
        raise ValueError(f"agent {agent.name} needs {missing} first")
    not_judged = [agent.pending] if agent.pending else []
    if agent.rules and not len(app.tasks):
        not_judged.append("the log has no task events")
    findings = tuple(f for rule in agent.rules for f in rule(app, thresholds))
    return AgentResult(agent.name, findings, tuple(not_judged))


def run_local(app: Application, thresholds: Thresholds) -> dict[AgentName, AgentResult]:
    """Every agent, wave by wave; the agents of a wave run concurrently."""
    results: dict[AgentName, AgentResult] = {}
    with ThreadPoolExecutor(max_workers=len(AGENTS), thread_name_prefix="agent") as pool:
        for wave in waves():
            earlier = MappingProxyType(dict(results))
            futures = [pool.submit(run_agent, a, app, thresholds, earlier) for a in wave]
            results.update((r.agent, r) for r in (f.result() for f in futures))
    return results
