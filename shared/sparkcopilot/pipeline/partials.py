"""An agent's result as a document and back: the partial each analyze function writes
and recommend (or a later agent) rebuilds :class:`AgentResult` from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from ..analysis.agents import AgentResult
from ..analysis.cost import CostPartial
from ..analysis.delta import DeltaPartial
from ..analysis.findings import AgentName, Finding
from ..analysis.profiles import MetadataPartial, PartitionPartial, RuntimePartial, SkewPartial

#: Each agent's typed partial result.
PARTIAL_TYPES: Mapping[AgentName, type[BaseModel]] = {
    "metadata": MetadataPartial,
    "partition": PartitionPartial,
    "runtime": RuntimePartial,
    "skew": SkewPartial,
    "delta": DeltaPartial,
    "cost": CostPartial,
}


def result_document(result: AgentResult) -> dict[str, Any]:
    return {
        "agent": result.agent,
        "findings": [f.model_dump(mode="json") for f in result.findings],
        "not_judged": list(result.not_judged),
        "partial": None if result.partial is None else result.partial.model_dump(mode="json"),
    }


def result_from_document(doc: Mapping[str, Any]) -> AgentResult:
    agent: AgentName = doc["agent"]
    partial = doc.get("partial")
    return AgentResult(
        agent=agent,
        findings=tuple(Finding.model_validate(f) for f in doc["findings"]),
        not_judged=tuple(doc["not_judged"]),
        partial=None if partial is None else PARTIAL_TYPES[agent].model_validate(partial),
    )
