"""Run the rules over one application; deduplicate and rank what they find."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Application
from .findings import SEVERITY_RANK, Finding
from .rules import RULES
from .thresholds import Thresholds


@dataclass(frozen=True, slots=True)
class Analysis:
    findings: tuple[Finding, ...]
    #: (agent, why) for what this analysis could not judge.
    not_judged: tuple[tuple[str, str], ...] = ()


def _rank(finding: Finding) -> tuple[float, int]:
    return (-finding.estimated_savings.wall_ms, -SEVERITY_RANK[finding.severity])


def analyze(app: Application, thresholds: Thresholds | None = None) -> Analysis:
    limits = thresholds or Thresholds()
    unique: dict[str, Finding] = {}
    for rule in RULES:
        for finding in rule(app, limits):
            kept = unique.get(finding.id)
            if kept is None or SEVERITY_RANK[finding.severity] > SEVERITY_RANK[kept.severity]:
                unique[finding.id] = finding
    not_judged = []
    if not len(app.tasks):
        not_judged.append(("skew", "the log has no task events"))
    return Analysis(
        findings=tuple(sorted(unique.values(), key=_rank)), not_judged=tuple(not_judged)
    )
