"""The analysis result as DESIGN.md §4's JSON object, and as text for a terminal."""

from __future__ import annotations

from typing import Any

from ..model import Application
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
    }


def render_analysis_text(report: dict[str, Any]) -> str:
    app = report["app"]
    lines = [
        f"{app['name'] or '?'}  ({app['id'] or 'no app id'})  Spark {app['spark_version'] or '?'}"
    ]
    if not report["findings"]:
        lines.append("  no findings")
    for finding in report["findings"]:
        lines.append(f"  [{finding['severity'].upper()}] {finding['title']}")
        lines.append(f"      {finding['recommendation']}")
        for key, value in finding["config"].items():
            lines.append(f"      --conf {key}={value}")
    for item in report["not_judged"]:
        lines.append(f"  not judged ({item['agent']}): {item['reason']}")
    return "\n".join(lines) + "\n"
