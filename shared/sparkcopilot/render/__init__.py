"""The analysis report for people: a terminal report, markdown, and one HTML page.

Each renderer is a pure function of the application model and the report dict that
:func:`sparkcopilot.analysis.report.analysis_report` returns (DESIGN.md §4).
"""

from __future__ import annotations

from .html import render_html
from .markdown import render_markdown
from .text import render_text

__all__ = ["render_html", "render_markdown", "render_text"]
