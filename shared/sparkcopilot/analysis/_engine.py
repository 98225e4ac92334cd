"""Run the rules over one application; deduplicate and rank what they find."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..model import Application
from .agents import AgentResult, run_local
from .findings import SEVERITY_RANK, AgentName, Finding
from .thresholds import Thresholds


@dataclass(frozen=True, slots=True)
class Analysis:
    findings: tuple[Finding, ...]
    #: (agent, why) for what this analysis could not judge.
    not_judged: tuple[tuple[str, str], ...] = ()
    agents: Mapping[AgentName, AgentResult] = field(default_factory=dict)


def _rank(finding: Finding) -> tuple[float, int]:
    return (-finding.estimated_savings.wall_ms, -SEVERITY_RANK[finding.severity])


def analyze(app: Application, thresholds: Thresholds | None = None) -> Analysis:
    results = run_local(app, thresholds or Thresholds())
    unique: dict[str, Finding] = {}
    for result in results.values():
        for finding in result.findings:
            kept = unique.get(finding.id)
            if kept is None or SEVERITY_RANK[finding.severity] > SEVERITY_RANK[kept.severity]:
                unique[finding.id] = finding
    return Analysis(
        findings=tuple(sorted(unique.values(), key=_rank)),
        not_judged=tuple((r.agent, why) for r in results.values() for why in r.not_judged),
        agents=results,
    )
