"""Structured logs as Cloud Logging reads them: one JSON object a line on stdout, with
``severity``, ``message`` and the analysis id (also as a label, to filter on)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

LOGGER = logging.getLogger("sparkcopilot.pipeline")


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        analysis_id = getattr(record, "analysis_id", None)
        if analysis_id:
            entry["analysis_id"] = analysis_id
            entry["logging.googleapis.com/labels"] = {"analysis_id": analysis_id}
        for name in ("agent", "object", "reason"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Send the pipeline's logs to stdout as JSON lines (once, however often called)."""
    if any(isinstance(h.formatter, CloudLoggingFormatter) for h in LOGGER.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
    LOGGER.propagate = False
