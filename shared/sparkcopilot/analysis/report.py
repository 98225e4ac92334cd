"""The analysis result as DESIGN.md §4's JSON object (``sparkcopilot.render`` words it)."""

from __future__ import annotations

from typing import Any

from ..model import Application
from ..quality import data_quality
from ..summary import app_summary
from . import Analysis

ANALYSIS_SCHEMA = "spark-copilot/analysis/v1"


def analysis_report(app: Application, analysis: Analysis) -> dict[str, Any]:
    findings = [f.model_dump(mode="json") for f in analysis.findings]
    return {
        "schema": ANALYSIS_SCHEMA,
        "app": app_summary(app).model_dump(mode="json"),
        "findings": findings,
        "agents": {
            name: {
                "findings": len(result.findings),
                "not_judged": list(result.not_judged),
                **(result.partial.model_dump(mode="json") if result.partial else {}),
            }
            for name, result in analysis.agents.items()
        },
        "not_judged": [{"agent": a, "reason": r} for a, r in analysis.not_judged],
        "data_quality": data_quality(app).model_dump(mode="json"),
    }
