"""Run the agents over one application; merge their partial results into one ranked,
deduplicated, self-consistent list of findings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..knowledge import explain
from ..knowledge.settings import KnowledgeSettings
from ..model import Application
from ..quality import data_quality, qualified
from .agents import AgentResult, run_local
from .consistency import reconcile
from .cost import CostPartial
from .findings import SEVERITY_RANK, AgentName, Finding, Savings, finding_id
from .thresholds import Thresholds

#: This many findings of one kind, with one fix, on stages of one name (a loop in the
#: code, one query run per partition) are one problem, reported once.
_REPEATED = 3


@dataclass(frozen=True, slots=True)
class Analysis:
    findings: tuple[Finding, ...]
    #: (agent, why) for what this analysis could not judge.
    not_judged: tuple[tuple[str, str], ...] = ()
    agents: Mapping[AgentName, AgentResult] = field(default_factory=dict)


def _rank(finding: Finding) -> tuple[float, int]:
    return (-finding.estimated_savings.wall_ms, -SEVERITY_RANK[finding.severity])


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    kept: dict[str, Finding] = {}
    for finding in findings:
        seen = kept.get(finding.id)
        if seen is None or SEVERITY_RANK[finding.severity] > SEVERITY_RANK[seen.severity]:
            kept[finding.id] = finding
    return list(kept.values())


def merge_repeated(app: Application, findings: list[Finding]) -> list[Finding]:
    names = {s.stage_id: s.name for s in app.stages}
    groups: dict[tuple[object, ...], list[Finding]] = defaultdict(list)
    for f in findings:
        stage_names = tuple(sorted({names.get(i, "") for i in f.scope.stage_ids}))
        key = (f.kind, stage_names, tuple(sorted(f.config.items())))
        groups[key if f.scope.stage_ids else ("single", f.id)].append(f)
    out = []
    for group in groups.values():
        if len(group) < _REPEATED:
            out.extend(group)
            continue
        worst = max(group, key=lambda f: (SEVERITY_RANK[f.severity], f.estimated_savings.wall_ms))
        scope = worst.scope.model_copy(
            update={
                part: tuple(sorted({i for f in group for i in getattr(f.scope, part)}))
                for part in ("job_ids", "stage_ids", "sql_ids")
            }
        )
        savings = Savings(
            wall_ms=sum(f.estimated_savings.wall_ms for f in group),
            core_hours=round(sum(f.estimated_savings.core_hours for f in group), 4),
            memory_gib_hours=round(sum(f.estimated_savings.memory_gib_hours for f in group), 4),
            cost_usd=round(sum(f.estimated_savings.cost_usd for f in group), 4),
        )
        out.append(
            worst.model_copy(
                update={
                    "id": finding_id(worst.kind, scope),
                    "scope": scope,
                    "title": f"{worst.title} (and {len(group) - 1} more stages like it)",
                    "evidence": {**worst.evidence, "repeated_in_stages": len(group)},
                    "estimated_savings": savings,
                }
            )
        )
    return out


def _priced(findings: list[Finding], results: Mapping[AgentName, AgentResult]) -> list[Finding]:
    cost = results.get("cost")
    if cost is None or not isinstance(cost.partial, CostPartial):
        return findings
    prices = cost.partial.savings
    return [
        f.model_copy(update={"estimated_savings": prices[f.id]}) if f.id in prices else f
        for f in findings
    ]


def merge(
    app: Application,
    results: Mapping[AgentName, AgentResult],
    thresholds: Thresholds | None = None,
    *,
    knowledge: KnowledgeSettings | None = None,
    explained: bool = True,
) -> Analysis:
    """The agents' partial results as one analysis: findings deduplicated, priced by the
    cost agent, repeated stages grouped, one consistent configuration, less confident
    where they rest on events the log lost (``quality.qualified``), ranked, and
    explained from the knowledge base (unless ``explained`` is False). The local runner
    and the pipeline's recommend step both end here."""
    limits = thresholds or Thresholds()
    findings = _priced(_unique([f for r in results.values() for f in r.findings]), results)
    findings = merge_repeated(app, findings)
    ranked = sorted(qualified(reconcile(app, findings, limits), data_quality(app)), key=_rank)
    return Analysis(
        findings=explain(ranked, knowledge) if explained else tuple(ranked),
        not_judged=tuple((r.agent, why) for r in results.values() for why in r.not_judged),
        agents=results,
    )


def analyze(
    app: Application,
    thresholds: Thresholds | None = None,
    *,
    knowledge: KnowledgeSettings | None = None,
    explained: bool = True,
) -> Analysis:
    """Every agent over the application in this process, merged (see :func:`merge`)."""
    limits = thresholds or Thresholds()
    results = run_local(app, limits)
    return merge(app, results, limits, knowledge=knowledge, explained=explained)
