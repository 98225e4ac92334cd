"""Shared paths and helpers for the test suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
LOGS = DATA / "logs"
CORPUS = TESTS.parent.parent / "shared" / "eventlogs"


def bundled_labels() -> dict[str, dict[str, Any]]:
    """Labels of the logs copied into ``tests/data``, keyed by path relative to ``LOGS``."""
    labels: dict[str, dict[str, Any]] = json.loads((LOGS / "labels.json").read_text())
    return labels


def corpus_labels() -> dict[str, dict[str, Any]]:
    """Labels of every log in ``../shared/eventlogs`` (empty when the corpus is absent)."""
    if not CORPUS.is_dir():
        return {}
    labels: dict[str, dict[str, Any]] = json.loads((CORPUS / "labels.json").read_text())
    labels.update(json.loads((CORPUS / "public" / "labels_public.json").read_text()))
    return labels


@pytest.fixture(scope="session")
def logs() -> Path:
    return LOGS


@pytest.fixture(autouse=True)
def _history_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """analyze records runs in a history file: never the user's, in any test (the
    variable reaches the CLI's subprocesses too)."""
    home = tmp_path_factory.mktemp("history")
    monkeypatch.setenv("SPARK_COPILOT_HISTORY__PATH", str(home / "history.sqlite"))
    monkeypatch.setenv("SPARK_COPILOT_HISTORY__MODELS_DIR", str(home / "models"))
    return home
