"""The analysis as one self-contained HTML page: charts beside the findings.

Nothing is fetched: the CSS is inline, the charts are SVG drawn here, there is no script,
and a Content-Security-Policy forbids the page any request, so it opens the same
offline, from a mail attachment or from a bucket. Every string from the log (names, SQL
descriptions, paths) is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .. import __version__
from ..model import Application
from . import _format as fmt
from ._svg import esc, no_data, stage_timeline_svg, task_durations_svg, utilisation_svg
from .chartdata import (
    executor_utilisation,
    stage_timeline,
    task_duration_distribution,
    worst_stage_ids,
)

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#fff; --panel:#f6f8fa;
  --critical:#c62828; --warning:#b26a00; --info:#1565c0; --bar:#4a7fc1; --flag:#e8710a; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--fg); background:var(--bg); }
header { padding:16px 24px; border-bottom:1px solid var(--line); background:var(--panel); }
h1 { margin:0 0 4px; font-size:22px; word-break:break-word; }
h2 { font-size:17px; margin:20px 0 8px; }
h3 { font-size:15px; margin:0 0 6px; }
.facts, .meta, .note, figcaption small { color:var(--muted); }
.facts span + span::before { content:" · "; }
.quality { margin:8px 0 0; padding:6px 10px; border-left:4px solid var(--warning);
  background:#fff8e1; }
main { display:grid; grid-template-columns:minmax(0,3fr) minmax(0,2fr); gap:24px;
  padding:16px 24px; }
@media (max-width:1100px) { main { grid-template-columns:minmax(0,1fr); } }
figure { margin:0 0 20px; }
figcaption { font-weight:600; margin-bottom:4px; }
.legend { font-size:12px; color:var(--muted); margin:2px 0 0; }
.legend i { display:inline-block; width:10px; height:10px; margin:0 4px 0 10px;
  vertical-align:-1px; border-radius:2px; }
.no-data { padding:16px; background:var(--panel); color:var(--muted); border-radius:4px; }
svg { display:block; font-size:12px; }
svg .grid { stroke:#eaeef2; }
svg .tick, svg .note, svg .axis-label { fill:var(--muted); font-size:11px; }
svg .job-label { fill:var(--muted); font-weight:600; }
svg .stage-label { fill:var(--fg); }
svg .stage.flagged .stage-label { fill:var(--flag); font-weight:700; }
svg .band { fill:var(--panel); }
svg .bar { fill:var(--bar); }
svg .bar.failed { fill:var(--critical); }
svg .bar.running { fill:#9aa4ae; stroke:#59636e; stroke-dasharray:3 2; }
svg .bar.flagged { fill:var(--flag); stroke:#7a3d00; stroke-width:1; }
svg .bar.failed.flagged { fill:var(--critical); stroke:var(--flag); stroke-width:2; }
svg .fail-mark { fill:var(--critical); font-weight:700; }
svg .hist { fill:var(--bar); }
svg .median line { stroke:var(--fg); stroke-dasharray:4 3; }
svg .max line { stroke:var(--critical); stroke-dasharray:4 3; }
svg .median text, svg .max text { font-size:11px; }
svg .max text { fill:var(--critical); }
svg .running { fill:rgba(74,127,193,.45); stroke:var(--bar); }
svg .cores { fill:none; stroke:var(--fg); stroke-width:1.5; }
svg .exec-added { fill:#2e7d32; } svg .exec-removed { fill:var(--critical); }
svg .exec-both { fill:#59636e; }
.dist h4 { margin:8px 0 0; font-size:13px; font-weight:600; }
.dist h4.flagged { color:var(--flag); }
table { border-collapse:collapse; width:100%; margin:6px 0; font-size:13px; }
th, td { text-align:left; padding:3px 8px; border-bottom:1px solid var(--line);
  vertical-align:top; word-break:break-word; }
td.num { text-align:right; }
.evidence th { white-space:nowrap; font-weight:600; }
.finding { border:1px solid var(--line); border-left:5px solid var(--info); border-radius:6px;
  padding:10px 14px; margin:0 0 14px; }
.finding.critical { border-left-color:var(--critical); }
.finding.warning { border-left-color:var(--warning); }
.badge { display:inline-block; white-space:nowrap; padding:0 7px; border-radius:10px; color:#fff;
  font-size:11px;
  font-weight:700; text-transform:uppercase; vertical-align:2px; background:var(--info); }
.badge.critical { background:var(--critical); } .badge.warning { background:var(--warning); }
pre { background:var(--panel); padding:8px 10px; border-radius:4px; overflow-x:auto;
  font-size:12px; }
footer { padding:8px 24px 24px; color:var(--muted); font-size:12px; }
"""


def render_html(app: Application, report: Mapping[str, Any]) -> str:
    items = fmt.findings(report)
    title = fmt.app_title(report, app)
    quality = "".join(
        f"<p class=quality>{esc(line)}</p>" for line in fmt.data_quality_lines(report)
    )
    facts = "".join(f"<span>{esc(f)}</span>" for f in fmt.app_facts(report, app))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · Spark Copilot</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p class=facts>{facts}</p>{quality}</header>"
        f'<main><section class="charts">{_charts(app, report)}</section>'
        f'<section class="findings"><h2 id="findings">{esc(fmt.severity_tally(items))}</h2>'
        f"{_summary_table(items)}"
        + "".join(_finding(rank, f) for rank, f in enumerate(items, 1))
        + _not_judged(report)
        + _agents(report)
        + _extra(report)
        + "</section></main>"
        f"<footer>Spark Copilot {esc(__version__)} · {esc(app.source.path)}</footer>"
        "</body></html>\n"
    )


def _charts(app: Application, report: Mapping[str, Any]) -> str:
    flagged = fmt.flagged_stage_ids(report)
    timeline = stage_timeline(app, set(flagged))
    return (
        '<figure id="stage-timeline" class="chart"><figcaption>Stage timeline '
        "<small>stage attempts from submission to completion, by job</small></figcaption>"
        f"{stage_timeline_svg(timeline)}"
        '<p class="legend"><i style="background:#4a7fc1"></i>completed'
        '<i style="background:#e8710a"></i>named in a finding'
        '<i style="background:#c62828"></i>failed ✕<i style="background:#9aa4ae"></i>'
        "still running</p></figure>"
        '<figure id="task-durations" class="chart"><figcaption>Task durations '
        f"<small>{'stages the findings name' if flagged else 'the longest stages'}"
        "</small></figcaption>"
        f"{_distributions(app, flagged)}</figure>"
        '<figure id="executor-utilisation" class="chart"><figcaption>Executor utilisation '
        "<small>running tasks against the cores of the executors alive</small></figcaption>"
        f"{_utilisation(app)}</figure>"
    )


def _distributions(app: Application, flagged: list[int]) -> str:
    if not len(app.tasks):
        return no_data("the log has no task events")
    out = []
    for stage_id in worst_stage_ids(app, flagged):
        dist = task_duration_distribution(app, stage_id, flagged=stage_id in flagged)
        if dist is None:
            continue
        heading = (
            f"stage {dist.stage_id}: {dist.name} · {fmt.plural(dist.tasks, 'task')} · median "
            f"{fmt.duration_text(dist.median_ms)} · p95 {fmt.duration_text(dist.p95_ms)} · max "
            f"{fmt.duration_text(dist.max_ms)}"
        )
        cls = ' class="flagged"' if dist.flagged else ""
        out.append(
            f'<div class="dist"><h4{cls}>{esc(heading)}</h4>{task_durations_svg(dist)}</div>'
        )
    return "".join(out) or no_data("no stage ran tasks")


def _utilisation(app: Application) -> str:
    if not len(app.tasks):
        return no_data("the log has no task events")
    utilisation = executor_utilisation(app)
    if utilisation.core_ms is None:
        note = no_data("available cores unknown: the log has no executor events with core counts")
    else:
        share = utilisation.used_share
        note = (
            f'<p class="note">tasks used {share:.0%} of the core time the executors offered</p>'
            if share is not None
            else ""
        )
    legend = '<i style="background:rgba(74,127,193,.45)"></i>running tasks'
    if utilisation.core_ms is not None:
        legend += (
            '<i style="background:#1f2328;height:2px"></i>available cores'
            '<i style="background:#2e7d32"></i>executor added'
            '<i style="background:#c62828"></i>executor removed'
        )
    return f'{utilisation_svg(utilisation)}<p class="legend">{legend}</p>{note}'


def _summary_table(items: list[Mapping[str, Any]]) -> str:
    if not items:
        return ""
    rows = "".join(
        f"<tr><td><span class='badge {fmt.severity(f)}'>{esc(fmt.severity(f))}</span></td>"
        f'<td><a href="#finding-{rank}">{esc(f.get("title") or f.get("kind"))}</a></td>'
        f"<td>{esc(fmt.scope_text(f))}</td><td>{esc(fmt.savings_text(f) or '—')}</td></tr>"
        for rank, f in enumerate(items, 1)
    )
    return (
        "<table class=summary><thead><tr><th>severity</th><th>finding</th><th>scope</th>"
        f"<th>estimated savings</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _finding(rank: int, finding: Mapping[str, Any]) -> str:
    severity = fmt.severity(finding)
    meta = [str(finding.get("kind") or "?")]
    if finding.get("agent"):
        meta.append(f"{finding['agent']} agent")
    meta.append(fmt.scope_text(finding))
    if (confidence := fmt.confidence_text(finding)) is not None:
        meta.append(f"confidence {confidence}")
    parts = [
        f'<article class="finding {severity}" id="finding-{rank}">'
        f"<h3><span class='badge {severity}'>{severity}</span> "
        f"{esc(finding.get('title') or finding.get('kind') or 'finding')}</h3>"
        f"<p class=meta>{esc(' · '.join(meta))}</p>"
    ]
    evidence = fmt.evidence_rows(finding)
    if evidence:
        rows = "".join(
            f"<tr><th>{esc(key)}</th><td class=num>{esc(value)}</td></tr>"
            for key, value in evidence
        )
        parts.append(f"<table class=evidence><tbody>{rows}</tbody></table>")
    if recommendation := finding.get("recommendation"):
        parts.append(f"<p><strong>Recommendation.</strong> {esc(recommendation)}</p>")
    config = fmt.config_lines(finding)
    if config:
        lines = "\n".join(f"{key}={value}" for key, value in config)
        parts.append(f"<pre class=config><code>{esc(lines)}</code></pre>")
    if (savings := fmt.savings_text(finding)) is not None:
        parts.append(f"<p><strong>Estimated savings:</strong> {esc(savings)}</p>")
    refs = fmt.references(finding)
    if refs:
        links = " · ".join(_link(title, url) for title, url in refs)
        parts.append(f"<p class=refs><strong>References:</strong> {links}</p>")
    if explanation := finding.get("explanation"):
        parts.append(f"<details><summary>Why</summary><p>{esc(explanation)}</p></details>")
    parts.append("</article>")
    return "".join(parts)


def _link(title: str, url: str) -> str:
    """A plain link to documentation; anything but http(s) stays text (no javascript:)."""
    if not url.startswith(("https://", "http://")):
        return esc(title)
    return f'<a href="{esc(url)}" rel="noreferrer noopener">{esc(title)}</a>'


def _not_judged(report: Mapping[str, Any]) -> str:
    items = fmt.not_judged(report)
    if not items:
        return ""
    rows = "".join(
        f"<li><strong>{esc(agent)}</strong>: {esc(reason)}</li>" for agent, reason in items
    )
    return f'<h2 id="not-judged">Not judged</h2><ul class="not-judged">{rows}</ul>'


def _agents(report: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{esc(name)}</th><td>{esc(what or '—')}</td></tr>"
        for name, what in fmt.agent_rows(report)
    )
    return f"<h2>Agents</h2><table class=agents><tbody>{rows}</tbody></table>" if rows else ""


def _extra(report: Mapping[str, Any]) -> str:
    return "".join(
        f"<details><summary>{esc(key)}</summary><pre>"
        f"{esc(json.dumps(report[key], indent=2, default=str))}</pre></details>"
        for key in fmt.extra_keys(report)
    )
