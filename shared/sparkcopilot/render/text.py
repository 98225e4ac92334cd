"""The analysis as a terminal report (rich): colours for a terminal, plain text otherwise."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..model import Application
from . import _format as fmt

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "warning": "bold black on yellow",
    "info": "bold white on blue",
}


def render_text(
    app: Application, report: Mapping[str, Any], *, color: bool = False, width: int = 100
) -> str:
    """The report for a terminal. ``color`` adds ANSI styles (only for a terminal: piped
    or written to a file, the text has none)."""
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        markup=False,
    )
    items = fmt.findings(report)
    header = Text(fmt.app_title(report, app), style="bold")
    header.append("  " + " · ".join(fmt.app_facts(report, app)), style="dim")
    console.print(header)
    for line in fmt.data_quality_lines(report):
        console.print(Text(f"data quality: {line}", style="yellow"))
    console.print(Text(fmt.severity_tally(items), style="bold"))
    for rank, finding in enumerate(items, 1):
        console.print()
        _finding(console, rank, finding)
    skipped = fmt.not_judged(report)
    if skipped:
        console.print()
        console.print(Text("Not judged", style="bold"))
        for agent, reason in skipped:
            console.print(Text(f"  {agent}: ", style="dim").append(reason, style=""))
    extra = fmt.extra_keys(report)
    if extra:
        console.print()
        console.print(Text(f"Also in the report (--format json): {', '.join(extra)}", style="dim"))
    # Tables pad their cells to the column width: no trailing blanks in a pasted report.
    return "".join(line.rstrip() + "\n" for line in out.getvalue().splitlines())


def _finding(console: Console, rank: int, finding: Mapping[str, Any]) -> None:
    severity = fmt.severity(finding)
    title = Text(f"{rank}. ")
    title.append(f" {severity.upper()} ", style=SEVERITY_STYLE[severity])
    title.append(" " + str(finding.get("title") or finding.get("kind") or "finding"), style="bold")
    console.print(title)
    about = [str(finding.get("kind") or "?")]
    if finding.get("agent"):
        about[0] += f" ({finding['agent']} agent)"
    about.append(fmt.scope_text(finding))
    if (confidence := fmt.confidence_text(finding)) is not None:
        about.append(f"confidence {confidence}")
    body: list[Text | Table] = [Text(" · ".join(about), style="dim")]
    rows = fmt.evidence_rows(finding)
    if rows:
        evidence = Table.grid(padding=(0, 2))
        evidence.add_column(style="cyan")
        evidence.add_column()
        for key, value in rows:
            evidence.add_row(key, value)
        body.append(evidence)
    if recommendation := finding.get("recommendation"):
        body.append(Text("→ ", style="green bold").append(str(recommendation)))
    for key, value in fmt.config_lines(finding):
        body.append(Text(f"  --conf {key}={value}", style="green"))
    if (savings := fmt.savings_text(finding)) is not None:
        body.append(Text("saves ~", style="dim").append(savings))
    for title_, url in fmt.references(finding):
        body.append(
            Text("see ", style="dim")
            .append(title_)
            .append(f"  {url}" if url else "", style="underline")
        )
    for part in body:
        console.print(Padding(part, (0, 0, 0, 3), expand=False))
