"""Reading the analysis report dict and wording its values, for every output format.

The report is DESIGN.md §4's JSON object; keys may be added to it (per-agent sections,
``data_quality``), so everything here reads it leniently: an absent optional key is
simply not shown, and never an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..analysis.cost import format_usd
from ..model import Application
from ..summary import bytes_text

SEVERITIES = ("critical", "warning", "info")
#: Top-level report keys the renderers show in their own way; any other key is listed
#: as extra data.
KNOWN_KEYS = frozenset({"schema", "app", "findings", "agents", "not_judged", "data_quality"})


def findings(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [f for f in report.get("findings") or () if isinstance(f, Mapping)]


def not_judged(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(item.get("agent", "?")), str(item.get("reason", "")))
        for item in report.get("not_judged") or ()
        if isinstance(item, Mapping)
    ]


def extra_keys(report: Mapping[str, Any]) -> list[str]:
    return [key for key in report if key not in KNOWN_KEYS]


def flagged_stage_ids(report: Mapping[str, Any]) -> list[int]:
    """Stage ids the findings name, in finding order, each once."""
    ids: dict[int, None] = {}
    for finding in findings(report):
        for stage_id in (finding.get("scope") or {}).get("stage_ids") or ():
            if isinstance(stage_id, int):
                ids.setdefault(stage_id, None)
    return list(ids)


def app_title(report: Mapping[str, Any], app: Application) -> str:
    return str((report.get("app") or {}).get("name") or app.app.name or "unnamed application")


def app_facts(report: Mapping[str, Any], app: Application) -> list[str]:
    """The header line's facts: id, Spark version, duration, executors, tasks, state."""
    info = report.get("app") or {}
    duration = info.get("duration_ms", app.app.duration_ms)
    version = info.get("spark_version") or app.app.spark_version
    return [
        str(info.get("id") or app.app.id or "no app id"),
        f"Spark {version or '?'}",
        duration_text(duration) if isinstance(duration, int) else "duration unknown (no end)",
        plural(len(app.executors), "executor"),
        plural(len(app.tasks), "task"),
        "complete" if app.complete else "INCOMPLETE log (in progress or cut off)",
    ]


def severity_tally(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return "no findings"
    counts = [
        f"{n} {severity}"
        for severity in SEVERITIES
        if (n := sum(1 for f in items if f.get("severity") == severity))
    ]
    return f"{plural(len(items), 'finding')}" + (f": {', '.join(counts)}" if counts else "")


def severity(finding: Mapping[str, Any]) -> str:
    value = str(finding.get("severity") or "info")
    return value if value in SEVERITIES else "info"


def scope_text(finding: Mapping[str, Any]) -> str:
    scope = finding.get("scope") or {}
    parts = [
        f"{label} {', '.join(str(i) for i in ids)}"
        for key, label in (("stage_ids", "stages"), ("job_ids", "jobs"), ("sql_ids", "SQL"))
        if (ids := scope.get(key))
    ]
    return " · ".join(parts) or "whole application"


def evidence_rows(finding: Mapping[str, Any]) -> list[tuple[str, str]]:
    evidence = finding.get("evidence") or {}
    return [(str(key), value_text(str(key), value)) for key, value in evidence.items()]


def value_text(key: str, value: object) -> str:
    """An evidence value for people: durations and sizes in units, the raw number kept."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key.endswith("_ms"):
        return duration_text(value) + (f" ({value:,} ms)" if value >= 1000 else "")
    if key.endswith("_bytes"):
        return bytes_text(value) + (f" ({value:,} B)" if value >= 1024 else "")
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return f"{value:,}"


def savings_text(finding: Mapping[str, Any]) -> str | None:
    savings = finding.get("estimated_savings") or {}
    parts = []
    if wall := savings.get("wall_ms"):
        parts.append(f"{duration_text(wall)} of wall time")
    if core_hours := savings.get("core_hours"):
        parts.append(f"{core_hours:.3g} core-hours")
    if memory := savings.get("memory_gib_hours"):
        parts.append(f"{memory:.3g} GiB-hours of executor memory")
    if cost := savings.get("cost_usd"):
        parts.append(format_usd(cost))
    return ", ".join(parts) or None


def confidence_text(finding: Mapping[str, Any]) -> str | None:
    confidence = finding.get("confidence")
    if not isinstance(confidence, int | float):
        return None
    return f"{confidence:.0%}"


def config_lines(finding: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in (finding.get("config") or {}).items()]


def references(finding: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(title, url) of each reference; url may be empty."""
    return [
        (
            str(r.get("title") or r.get("url") or r.get("kb_id") or "reference"),
            str(r.get("url") or ""),
        )
        for r in finding.get("references") or ()
        if isinstance(r, Mapping)
    ]


def data_quality_lines(report: Mapping[str, Any]) -> list[str]:
    """DESIGN.md §8's data_quality, as sentences (empty when absent or clean)."""
    quality = report.get("data_quality")
    if not isinstance(quality, Mapping):
        return []
    lines = []
    if quality.get("complete") is False:
        lines.append("the log is incomplete (in progress or cut off)")
    if quality.get("event_loss"):
        lines.append("the listener dropped events: some numbers are low")
    for problem in quality.get("problems") or ():
        if isinstance(problem, Mapping):
            stages = problem.get("stage_ids") or ()
            where = f" (stages {', '.join(str(s) for s in stages)})" if stages else ""
            lines.append(f"{problem.get('kind', 'problem')}: {problem.get('count', '?')}{where}")
    return lines


def agent_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(agent, what it did) for each agent the report lists."""
    rows = []
    for name, result in (report.get("agents") or {}).items():
        if isinstance(result, Mapping):
            count = result.get("findings")
            found = plural(count, "finding") if isinstance(count, int) else ""
            skipped = "; ".join(str(r) for r in result.get("not_judged") or ())
            rows.append((str(name), " · ".join(p for p in (found, skipped) if p)))
        else:
            rows.append((str(name), str(result)))
    return rows


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def duration_text(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    return f"{int(seconds // 3600)} h {seconds % 3600 / 60:.0f} min"
