"""Training pipeline: history → baseline and candidate models → held-out evaluation →
publish the candidate only if it beats the current model on the same held-out rows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..errors import BadInputError
from .features import FEATURE_NAMES, FEATURES_VERSION
from .history import HistoryReader, HistoryRow
from .predictor import RuntimeModel, error_metrics, fit_best, fit_model
from .registry import ModelRegistry

#: Fewer rows than this cannot both train a model and judge it.
MIN_ROWS = 8
#: One row in this many is held out for evaluation.
HELD_OUT_EVERY = 4


@dataclass(frozen=True, slots=True)
class TrainingResult:
    model_version: str
    rows: int
    features_version: str
    #: ``baseline``, ``candidate`` and, when there was one, ``current``: errors on the
    #: held-out rows.
    metrics: dict[str, dict[str, float]]
    published: bool
    kind: str

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "schema": "spark-copilot/training/v1",
            "model_version": self.model_version,
            "rows": self.rows,
            "features_version": self.features_version,
            "model_kind": self.kind,
            "metrics": self.metrics,
            "published": self.published,
        }


def _held_out(row: HistoryRow) -> bool:
    """A stable split by app id: a row stays on its side as history grows."""
    digest = hashlib.sha256(row.app_id.encode()).digest()
    return digest[0] % HELD_OUT_EVERY == 0


def _errors(model: RuntimeModel, rows: list[HistoryRow]) -> dict[str, float]:
    actual = np.array([r.wall_ms for r in rows], dtype=np.float64)
    return error_metrics(model.predict([r.features for r in rows]), actual)


def train(
    store: HistoryReader, registry: ModelRegistry, now: datetime | None = None
) -> TrainingResult:
    rows = [r for r in store.rows(FEATURES_VERSION) if r.wall_ms > 0]
    if len(rows) < MIN_ROWS:
        raise BadInputError(
            "history",
            f"{len(rows)} run(s) with features version {FEATURES_VERSION}; training needs "
            f"at least {MIN_ROWS} (analyze more logs first)",
        )
    test = [r for r in rows if _held_out(r)] or rows[-1:]
    fit = [r for r in rows if r not in test]
    features = [r.features for r in fit]
    wall = [float(r.wall_ms) for r in fit]
    groups = [r.app_name for r in fit]
    baseline = fit_model("linear", features, wall, groups)
    candidate = fit_best(features, wall, groups)
    metrics = {"baseline": _errors(baseline, test), "candidate": _errors(candidate, test)}
    current = registry.current()
    comparable = (
        current is not None
        and current.features_version == FEATURES_VERSION
        and current.feature_names == FEATURE_NAMES
    )
    if current is not None and comparable:
        metrics["current"] = _errors(current, test)
    score = metrics["candidate"]["median_abs_pct_error"]
    published = "current" not in metrics or score < metrics["current"]["median_abs_pct_error"]
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    version = f"{FEATURES_VERSION}.{stamp}.{candidate.kind}"
    if published:
        tested = {f"test_{k}": v for k, v in metrics["candidate"].items()}
        registry.publish(
            replace(candidate, metrics={**candidate.metrics, **tested}, version=version)
        )
    return TrainingResult(
        model_version=version if published else (current.version if current else ""),
        rows=len(rows),
        features_version=FEATURES_VERSION,
        metrics=metrics,
        published=published,
        kind=candidate.kind,
    )
