"""The analysis as GitHub-flavoured markdown: a summary table, then each finding with its
evidence table, its settings as a ``properties`` block and its references as links."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..model import Application
from . import _format as fmt

# Characters that would start markdown inside text from the log or the rules; <, > and &
# become entities, so no HTML gets through either.
_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")
_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def md_text(value: object) -> str:
    """Plain text for a markdown line or table cell: one line, nothing interpreted."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()).translate(_ENTITIES))


def _code(value: object) -> str:
    text = " ".join(str(value).split())
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _link(title: str, url: str) -> str:
    if not url.startswith(("https://", "http://")):
        return md_text(title)
    return f"[{md_text(title)}](<{url.replace('>', '%3E').replace(' ', '%20')}>)"


def render_markdown(app: Application, report: Mapping[str, Any]) -> str:
    items = fmt.findings(report)
    out = [
        f"# Spark Copilot analysis: {md_text(fmt.app_title(report, app))}",
        "",
        " · ".join(md_text(fact) for fact in fmt.app_facts(report, app)),
        "",
    ]
    quality = fmt.data_quality_lines(report)
    if quality:
        out += ["> **Data quality**", *(f"> - {md_text(line)}" for line in quality), ""]
    out += ["## Summary", "", md_text(fmt.severity_tally(items)), ""]
    if items:
        out += [
            "| # | severity | finding | scope | estimated savings | confidence |",
            "|---:|---|---|---|---|---:|",
        ]
        for rank, finding in enumerate(items, 1):
            cells = [
                str(rank),
                f"**{fmt.severity(finding)}**",
                f"[{md_text(finding.get('title') or finding.get('kind'))}](#finding-{rank})",
                md_text(fmt.scope_text(finding)),
                md_text(fmt.savings_text(finding) or "—"),
                fmt.confidence_text(finding) or "—",
            ]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    for rank, finding in enumerate(items, 1):
        out += _finding(rank, finding)
    skipped = fmt.not_judged(report)
    if skipped:
        out += ["## Not judged", ""]
        out += [f"- **{md_text(agent)}**: {md_text(reason)}" for agent, reason in skipped]
        out.append("")
    agents = fmt.agent_rows(report)
    if agents:
        out += ["## Agents", "", "| agent | result |", "|---|---|"]
        out += [f"| {md_text(name)} | {md_text(what) or '—'} |" for name, what in agents]
        out.append("")
    extra = fmt.extra_keys(report)
    if extra:
        out += ["## More in the report", ""]
        for key in extra:
            body = json.dumps(report[key], indent=2, default=str)
            out += [
                f"### {md_text(key)}",
                "",
                "```json",
                body.replace("```", "`\u200b``"),
                "```",
                "",
            ]
    return "\n".join(out).rstrip("\n") + "\n"


def _finding(rank: int, finding: Mapping[str, Any]) -> list[str]:
    severity = fmt.severity(finding)
    title = md_text(finding.get("title") or finding.get("kind") or "finding")
    about = [_code(finding.get("kind") or "?"), md_text(fmt.scope_text(finding))]
    if (confidence := fmt.confidence_text(finding)) is not None:
        about.append(f"confidence {confidence}")
    out = [
        f'<a id="finding-{rank}"></a>',
        f"### {rank}. {severity.upper()}: {title}",
        "",
        " · ".join(about),
        "",
    ]
    rows = fmt.evidence_rows(finding)
    if rows:
        out += ["| evidence | value |", "|---|---:|"]
        out += [f"| {_code(key)} | {md_text(value)} |" for key, value in rows]
        out.append("")
    if recommendation := finding.get("recommendation"):
        out += [f"**Recommendation.** {md_text(recommendation)}", ""]
    config = fmt.config_lines(finding)
    if config:
        lines = (" ".join(f"{k}={v}".split()) for k, v in config)
        out += ["```properties", *lines, "```", ""]
    if (savings := fmt.savings_text(finding)) is not None:
        out += [f"**Estimated savings:** {md_text(savings)}", ""]
    refs = fmt.references(finding)
    if refs:
        out += ["**References:** " + " · ".join(_link(t, u) for t, u in refs), ""]
    if explanation := finding.get("explanation"):
        out += [
            "<details><summary>Why</summary>",
            "",
            md_text(explanation),
            "",
            "</details>",
            "",
        ]
    return out
