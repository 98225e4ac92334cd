"""A comparison of two runs as one self-contained HTML page, styled as the analysis page."""

from __future__ import annotations

from .. import __version__
from ..comparison import Comparison
from ..summary import bytes_text
from . import _format as fmt
from ._svg import esc
from .html import _CSP, _CSS


def _attribution_rows(c: Comparison) -> str:
    widest = max((abs(a.delta_ms) for a in c.attribution), default=0) or 1
    rows = []
    for a in c.attribution:
        width = 100 * abs(a.delta_ms) / widest
        colour = "var(--critical)" if a.delta_ms > 0 else "var(--bar)"
        bar = f'<div style="width:{width:.0f}%;height:.8em;background:{colour}"></div>'
        rows.append(
            f"<tr><td>{esc(a.label)}</td><td class=num>{a.delta_ms / 1000:+.1f} s</td>"
            f'<td style="width:30%">{bar}</td><td>{esc(a.why)}</td></tr>'
        )
    return (
        "<table><thead><tr><th>where</th><th>new − baseline</th><th></th><th>why</th></tr>"
        "</thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _stage_rows(c: Comparison) -> str:
    rows = []
    for s in c.stages:
        ids = f"{', '.join(map(str, s.baseline_stage_ids)) or '–'} → "
        ids += ", ".join(map(str, s.new_stage_ids)) or "–"
        cells = [
            ids,
            s.label,
            f"{s.tasks[0]:,} → {s.tasks[1]:,}",
            *(
                f"{bytes_text(pair[0])} → {bytes_text(pair[1])}"
                for pair in (s.input_bytes, s.shuffle_read_bytes, s.disk_spilled_bytes)
            ),
            f"{s.skew[0]:g}× → {s.skew[1]:g}×",
            f"{fmt.duration_text(s.wall_share_ms[0])} → {fmt.duration_text(s.wall_share_ms[1])}",
        ]
        rows.append("<tr>" + "".join(f"<td>{esc(x)}</td>" for x in cells) + "</tr>")
    head = ("stages", "what", "tasks", "input", "shuffle read", "disk spill", "skew", "wall share")
    return (
        "<table><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def render_comparison_html(c: Comparison) -> str:
    direction = "slower" if c.wall_ms_delta > 0 else "faster"
    title = f"{c.new.name or c.new.id}: {abs(c.wall_ms_delta) / 1000:.1f} s {direction}"
    config = "".join(
        f"<tr><td><code>{esc(k)}</code></td><td>{esc(str(b))}</td><td>{esc(str(n))}</td></tr>"
        for k, (b, n) in c.config_diff.items()
    )
    executors = "".join(
        f"<tr><td>{esc(k)}</td><td>{b}</td><td>{n}</td></tr>" for k, (b, n) in c.executors.items()
    )
    runs = (
        f"<span>baseline {esc(c.baseline.id or '?')} · "
        f"{fmt.duration_text(c.baseline.duration_ms or 0)}</span>"
        f"<span>new {esc(c.new.id or '?')} · {fmt.duration_text(c.new.duration_ms or 0)}</span>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>{esc(title)} · Spark Copilot</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p class=facts>{runs}</p></header><main><section>"
        f"<h2>Likely cause</h2><p>{esc(c.likely_cause)}</p>"
        f"<h2>Where the time went</h2>{_attribution_rows(c)}"
        "<h2>Configuration</h2><table><thead><tr><th>setting</th><th>baseline</th>"
        f"<th>new</th></tr></thead><tbody>{config}</tbody></table>"
        "<h2>Executors</h2><table><thead><tr><th></th><th>baseline</th><th>new</th></tr>"
        f"</thead><tbody>{executors}</tbody></table>"
        f"<h2>Stages</h2>{_stage_rows(c)}</section></main>"
        f"<footer>Spark Copilot {esc(__version__)}</footer></body></html>\n"
    )
