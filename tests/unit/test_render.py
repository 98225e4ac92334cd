"""The text, markdown and HTML reports of real logs: what they show, what they escape,
and that they stay whole when the log or the report lacks something."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sparkcopilot.analysis import analyze
from sparkcopilot.analysis.report import analysis_report
from sparkcopilot.eventlog import read_application
from sparkcopilot.model import Application, TaskTable
from sparkcopilot.render import render_html, render_markdown, render_text
from tests.conftest import LOGS

SKEW = LOGS / "skew_join_v4.zstd"
EVIL = "<script>alert('x')</script>"
REFERENCE = {
    "title": "Spark SQL performance tuning: skew join",
    "url": "https://spark.apache.org/docs/latest/sql-performance-tuning.html#optimizing-skew-join",
    "kb_id": "aqe-skew-join",
}


def _analysed(log: Path) -> tuple[Application, dict[str, Any]]:
    app = read_application(log)
    return app, analysis_report(app, analyze(app))


@pytest.fixture(scope="module")
def skew() -> tuple[Application, dict[str, Any]]:
    return _analysed(SKEW)


def _with_reference(report: dict[str, Any], url: str = REFERENCE["url"]) -> dict[str, Any]:
    out = copy.deepcopy(report)
    out["findings"][0]["references"] = [{**REFERENCE, "url": url}]
    out["findings"][0]["explanation"] = "AQE splits a skewed partition into smaller ones."
    return out


def _rewritten(tmp_path: Path, source: str, old: bytes, new: bytes) -> Path:
    path = tmp_path / source
    path.write_bytes((LOGS / source).read_bytes().replace(old, new))
    return path


def test_text_has_the_findings_and_no_ansi_when_not_a_terminal(
    skew: tuple[Application, dict[str, Any]],
) -> None:
    app, report = skew
    text = render_text(app, _with_reference(report))
    finding = report["findings"][0]
    assert "\x1b" not in text
    assert f"{report['app']['name']}  {report['app']['id']}" in text
    assert f"{len(app.executors)} executors" in text and f"{len(app.tasks)} tasks" in text
    assert finding["title"] in text and "CRITICAL" in text
    assert "stages 4" in text and "confidence 95%" in text
    for key, value in finding["config"].items():
        assert f"--conf {key}={value}" in text
    assert "6.4 s (6,353 ms)" in text  # max_task_ms, in words and as logged
    assert REFERENCE["url"] in text
    for item in report["not_judged"]:
        assert f"{item['agent']}: {item['reason']}" in " ".join(text.split())


def test_text_for_a_terminal_is_coloured(skew: tuple[Application, dict[str, Any]]) -> None:
    app, report = skew
    coloured = render_text(app, report, color=True)
    assert "\x1b[" in coloured
    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert [line.rstrip() for line in plain.splitlines()] == render_text(app, report).splitlines()


def test_markdown_has_a_summary_table_evidence_config_and_links(
    skew: tuple[Application, dict[str, Any]],
) -> None:
    app, report = skew
    md = render_markdown(app, _with_reference(report))
    finding = report["findings"][0]
    assert md.startswith("# Spark Copilot analysis: orders\\_segment\\_revenue\n")
    assert "| # | severity | finding | scope | estimated savings | confidence |" in md
    assert "| `max_task_ms` | 6.4 s (6,353 ms) |" in md
    config = "\n".join(f"{k}={v}" for k, v in finding["config"].items())
    assert f"```properties\n{config}\n```" in md
    assert f"[{REFERENCE['title']}](<{REFERENCE['url']}>)" in md
    assert "## Not judged" in md


def test_html_has_three_charts_and_every_finding(
    skew: tuple[Application, dict[str, Any]],
) -> None:
    app, report = skew
    html = render_html(app, _with_reference(report))
    for chart in ("stage-timeline", "task-durations", "executor-utilisation"):
        figure = html[html.index(f'<figure id="{chart}"') :]
        assert figure[: figure.index("</figure>")].count("<svg") >= 1, chart
    assert "no data" not in html
    finding = report["findings"][0]
    assert 'id="finding-1"' in html and "critical" in html
    assert finding["title"] in html
    assert f'<a href="{REFERENCE["url"]}" rel="noreferrer noopener">' in html
    # The skewed stage is highlighted on the timeline and drawn as a histogram.
    assert '<g class="stage flagged"><title>stage 4: ' in html
    assert "stage 4: save at NativeMethodAccessorImpl.java:0 · 16 tasks" in html


def test_html_needs_nothing_from_the_network(skew: tuple[Application, dict[str, Any]]) -> None:
    app, report = skew
    report = _with_reference(report)
    html = render_html(app, report)
    docs = {r["url"] for f in report["findings"] for r in f["references"]}
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert "url(" not in html and "@import" not in html
    assert re.findall(r'\ssrc="', html) == []
    hrefs = re.findall(r'href="([^"]*)"', html)
    # Only in-page anchors and the findings' documentation links, as plain <a> links.
    assert all(h.startswith("#") or h in docs for h in hrefs), hrefs
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_reference_that_is_not_a_web_link_stays_text(
    skew: tuple[Application, dict[str, Any]],
) -> None:
    app, report = skew
    sneaky = _with_reference(report, url="javascript:alert(1)")
    assert "javascript:" not in render_html(app, sneaky)
    assert "javascript:" not in render_markdown(app, sneaky)


def test_strings_from_the_log_are_escaped(tmp_path: Path) -> None:
    log = _rewritten(
        tmp_path,
        "healthy_narrow_v35",
        b'"App Name":"big_orders_extract"',
        b'"App Name":"' + EVIL.encode() + b'"',
    )
    log.write_bytes(
        log.read_bytes().replace(
            b'"Stage Name":"save at', b'"Stage Name":"<img src=x onerror=alert(1)> save at'
        )
    )
    app, report = _analysed(log)
    assert app.app.name == EVIL
    html = render_html(app, report)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt; save at" in html
    md = render_markdown(app, report)
    assert "<script" not in md and "<img" not in md


def test_log_without_tasks_still_renders_and_says_no_data(tmp_path: Path) -> None:
    lines = (LOGS / "healthy_narrow_v35").read_bytes().split(b"\n")
    path = tmp_path / "no_tasks"
    path.write_bytes(b"\n".join(x for x in lines if b'"SparkListenerTask' not in x[:40]))
    app, report = _analysed(path)
    assert len(app.tasks) == 0
    html = render_html(app, report)
    for chart in ("task-durations", "executor-utilisation"):
        figure = html[html.index(f'<figure id="{chart}"') :]
        assert "no data: the log has no task events" in figure[: figure.index("</figure>")]
    assert "<svg" in html  # the timeline still has its stages
    assert "0 tasks" in render_text(app, report)
    # Only the bill: the cost agent prices the executors' lifetimes even without tasks.
    assert [f["kind"] for f in report["findings"]] == ["cost"]
    assert "the log has no task events" in render_markdown(app, report)


def test_log_without_executor_events_says_cores_are_unknown() -> None:
    app, report = _analysed(LOGS / "local-1426533911241")
    assert app.executors == ()
    html = render_html(app, report)
    figure = html[html.index('<figure id="executor-utilisation"') :]
    figure = figure[: figure.index("</figure>")]
    assert "<svg" in figure and "no data: available cores unknown" in figure


def test_report_keys_added_later_or_left_out_do_not_break_the_renderers(
    skew: tuple[Application, dict[str, Any]],
) -> None:
    app, report = skew
    report = copy.deepcopy(report)
    report["data_quality"] = {
        "complete": True,
        "event_loss": True,
        "problems": [{"kind": "missing_task_end", "count": 3, "stage_ids": [7]}],
    }
    report["cost_breakdown"] = {"executors_usd": 1.25}
    finding = report["findings"][0]
    for optional in ("config", "estimated_savings", "confidence", "references", "explanation"):
        del finding[optional]
    del report["agents"]
    for render, escaped in ((render_text, "_"), (render_markdown, r"\_"), (render_html, "_")):
        out = render(app, report)
        assert finding["title"] in out
        assert f"missing{escaped}task{escaped}end: 3 (stages 7)" in out
        assert f"cost{escaped}breakdown" in out


def _repeated(app: Application, times: int) -> Application:
    """The same application with every task attempt repeated ``times`` times."""
    columns = {
        name: np.repeat(getattr(app.tasks, name), times) for name in TaskTable.__dataclass_fields__
    }
    stages = tuple(
        replace(s, task_rows=(s.task_rows[0] * times, s.task_rows[1] * times)) for s in app.stages
    )
    return replace(app, tasks=TaskTable(**columns), stages=stages)


def test_html_does_not_grow_with_the_number_of_tasks(
    skew: tuple[Application, dict[str, Any]],
) -> None:
    app, report = skew
    small = render_html(app, report)
    big_app = _repeated(app, 10_000)
    assert len(big_app.tasks) == 380_000
    big = render_html(big_app, report)
    for element in ("<rect", "<path", "<text", "<title"):
        assert big.count(element) == small.count(element), element
    assert len(big) < len(small) * 1.05
