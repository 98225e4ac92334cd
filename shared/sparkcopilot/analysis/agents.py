"""The six agents as data: which rules each runs and whose results it needs.

The same declaration drives the local runner here (agents of one wave run concurrently)
and, later, the cloud fan-out (one function per agent, dispatched when its needs are in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType

from pydantic import BaseModel

from ..model import Application
from .cost import cost_finding, cost_partial
from .delta import delta_findings, delta_partial
from .findings import AgentName, Finding
from .profiles import metadata_partial, partition_partial, runtime_partial, skew_partial
from .rules import (
    Rule,
    aqe_disabled,
    broadcast_join_missed,
    cartesian_join,
    data_skew,
    disk_spill,
    driver_bottleneck,
    executor_memory_waste,
    full_scan,
    gc_pressure,
    idle_executors,
    partition_counts,
    python_udf,
    small_files,
    task_failures,
)
from .thresholds import Thresholds

Earlier = Mapping[AgentName, "AgentResult"]


@dataclass(frozen=True, slots=True)
class Judgement:
    """What an agent concludes beyond its rules: its partial result, findings drawn from
    earlier agents' results, and what it could not judge."""

    partial: BaseModel
    findings: tuple[Finding, ...] = ()
    not_judged: tuple[str, ...] = ()


Judge = Callable[[Application, Thresholds, Earlier], Judgement]


@dataclass(frozen=True, slots=True)
class Agent:
    name: AgentName
    #: Pure rules over the model.
    rules: tuple[Rule, ...]
    #: The agent's partial result, and findings that need earlier agents' results.
    judge: Judge | None = None
    #: Agents whose results this one reads (and so runs after).
    needs: tuple[AgentName, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentResult:
    agent: AgentName
    findings: tuple[Finding, ...]
    #: What this agent could not judge, and why.
    not_judged: tuple[str, ...] = ()
    partial: BaseModel | None = None


def _metadata(app: Application, limits: Thresholds, _: Earlier) -> Judgement:
    missing: tuple[str, ...] = ()
    if not app.sql_executions:
        missing = ("query plans: the log has no SQL events (RDD code, or the events were lost)",)
    return Judgement(metadata_partial(app, limits), not_judged=missing)


def _partition(app: Application, limits: Thresholds, _: Earlier) -> Judgement:
    partial = partition_partial(app, limits)
    missing: tuple[str, ...] = ()
    if app.executors and not partial.executors_with_heap_metrics:
        missing = (
            "executor memory use: the log has no executor heap metrics "
            "(spark.eventLog.logStageExecutorMetrics=true records them)",
        )
    return Judgement(partial, not_judged=missing)


def _runtime(app: Application, limits: Thresholds, _: Earlier) -> Judgement:
    added = any(e.added_ms is not None for e in app.executors)
    missing = () if added else ("idle executors: the log has no executor events",)
    return Judgement(runtime_partial(app, limits), not_judged=missing)


def _skew(app: Application, limits: Thresholds, _: Earlier) -> Judgement:
    return Judgement(skew_partial(app, limits))


def _delta(app: Application, _: Thresholds, earlier: Earlier) -> Judgement:
    partial = delta_partial(app)
    if not partial.applicable:
        return Judgement(partial)
    return Judgement(partial, tuple(delta_findings(app, earlier["metadata"].findings)))


def _cost(app: Application, limits: Thresholds, earlier: Earlier) -> Judgement:
    findings = [f for result in earlier.values() for f in result.findings]
    partial = cost_partial(app, limits.cost, findings)
    if not app.executors and not len(app.tasks):
        return Judgement(partial, not_judged=("cost: the log has no executor or task events",))
    return Judgement(partial, (cost_finding(app, partial),))


AGENTS: tuple[Agent, ...] = (
    Agent(
        "metadata",
        (python_udf, broadcast_join_missed, cartesian_join, small_files, full_scan),
        _metadata,
    ),
    Agent(
        "partition",
        (disk_spill, partition_counts, aqe_disabled, executor_memory_waste),
        _partition,
    ),
    Agent("runtime", (task_failures, gc_pressure, idle_executors, driver_bottleneck), _runtime),
    Agent("skew", (data_skew,), _skew),
    Agent("delta", (), _delta, needs=("metadata",)),
    Agent("cost", (), _cost, needs=("metadata", "partition", "runtime", "skew", "delta")),
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
    not_judged: list[str] = []
    if agent.rules and not len(app.tasks):
        not_judged.append("the log has no task events")
    findings = [f for rule in agent.rules for f in rule(app, thresholds)]
    partial = None
    if agent.judge is not None:
        judgement = agent.judge(app, thresholds, earlier)
        findings.extend(judgement.findings)
        not_judged.extend(judgement.not_judged)
        partial = judgement.partial
    return AgentResult(agent.name, tuple(findings), tuple(not_judged), partial)


def run_local(app: Application, thresholds: Thresholds) -> dict[AgentName, AgentResult]:
    """Every agent, wave by wave; the agents of a wave run concurrently."""
    results: dict[AgentName, AgentResult] = {}
    with ThreadPoolExecutor(max_workers=len(AGENTS), thread_name_prefix="agent") as pool:
        for wave in waves():
            earlier = MappingProxyType(dict(results))
            futures = [pool.submit(run_agent, a, app, thresholds, earlier) for a in wave]
            results.update((r.agent, r) for r in (f.result() for f in futures))
    return results
