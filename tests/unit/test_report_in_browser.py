"""The HTML report opened by a real browser (headless Chromium), offline.

Chromium lays the page out and hands back its DOM: the findings and the three charts must
be in it, and nothing in it may point at the network except plain links to documentation.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sparkcopilot.analysis import analyze
from sparkcopilot.analysis.report import analysis_report
from sparkcopilot.eventlog import read_application
from sparkcopilot.render import render_html
from tests.conftest import LOGS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DOC_URL = "https://spark.apache.org/docs/latest/sql-performance-tuning.html"
# Attributes through which a page loads something.
LOADING = {"src", "srcset", "href", "xlink:href", "data", "poster", "action", "formaction"}

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install -y --no-install-recommends chromium)",
)


class _Dom(HTMLParser):
    """Elements of the rendered DOM: (tag, attributes, the ids of the figures around it)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None], tuple[str, ...]]] = []
        self.text: list[str] = []
        self._figures: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "figure":
            self._figures.append(attributes.get("id") or "")
        self.elements.append((tag, attributes, tuple(self._figures)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figures.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _browse(page: Path, profile: Path) -> str:
    out = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout


def test_report_renders_in_a_browser_with_its_findings_and_charts(tmp_path: Path) -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    report = analysis_report(app, analyze(app))
    report["findings"][0]["references"] = [
        {"title": "Optimizing skew join", "url": DOC_URL, "kb_id": "aqe-skew-join"}
    ]
    page = tmp_path / "report.html"
    page.write_text(render_html(app, report), encoding="utf-8")

    dom = _Dom()
    dom.feed(_browse(page, tmp_path / "profile"))
    text = " ".join(" ".join(dom.text).split())

    assert report["findings"], "the log is chosen for its findings"
    docs = {r["url"] for f in report["findings"] for r in f["references"]}
    for finding in report["findings"]:
        assert finding["title"] in text
    for chart in ("stage-timeline", "task-durations", "executor-utilisation"):
        marks = [tag for tag, _, figures in dom.elements if chart in figures]
        assert "svg" in marks and ("rect" in marks or "path" in marks), chart
    assert "Optimizing skew join" in text

    loads = [
        (tag, name, value)
        for tag, attributes, _ in dom.elements
        for name, value in attributes.items()
        if name in LOADING
    ]
    assert loads, "the page has its documentation link and in-page anchors"
    for tag, name, value in loads:
        assert tag == "a" and name == "href", (tag, name, value)
        assert value is not None and (value.startswith("#") or value in docs), value
    assert not [tag for tag, _, _ in dom.elements if tag in {"script", "link", "iframe", "img"}]
