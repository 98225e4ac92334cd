"""Learned wall-time models over feature rows (scikit-learn).

- The **baseline** is the product's named one: ordinary least squares on the raw features.
- The **candidates** learn log(wall time) from log(1 + features), which turns the
  multiplicative physics of a Spark run (time ∝ bytes ÷ slots) into sums a linear model
  or shallow trees can fit: a ridge regression and gradient-boosted trees. The one with
  the lower grouped cross-validated median error is kept.
- **Intervals** come from the cross-validated errors of the kept model: its 10th and
  90th percentile ratio of actual to predicted, applied to each prediction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.base import RegressorMixin
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.model_selection import GroupKFold, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from .features import FEATURE_NAMES, FEATURES_VERSION, as_matrix

ModelKind = Literal["linear", "ridge_log", "gbr_log"]
Matrix = npt.NDArray[np.float64]

#: Interval percentiles of actual ÷ predicted over cross-validated predictions.
INTERVAL_PERCENTILES = (10.0, 90.0)
MAX_FOLDS = 5


def _log1p_features() -> FunctionTransformer:
    return FunctionTransformer(np.log1p)


def _estimator(kind: ModelKind) -> Any:
    if kind == "linear":
        return LinearRegression()
    if kind == "ridge_log":
        return make_pipeline(
            _log1p_features(), StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))
        )
    return make_pipeline(
        _log1p_features(),
        GradientBoostingRegressor(
            n_estimators=300, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=0
        ),
    )


def _log_target(kind: ModelKind) -> bool:
    return kind != "linear"


def _fit(kind: ModelKind, x: Matrix, y: Matrix) -> Any:
    model = _estimator(kind)
    model.fit(x, np.log(y) if _log_target(kind) else y)
    return model


def _predict(kind: ModelKind, model: RegressorMixin, x: Matrix) -> Matrix:
    raw = np.asarray(model.predict(x), dtype=np.float64)
    # The wall time of a run is at least a millisecond; a linear model may say less.
    return np.exp(np.clip(raw, 0, 40)) if _log_target(kind) else np.clip(raw, 1.0, None)


def abs_pct_errors(predicted: Matrix, actual: Matrix) -> Matrix:
    return np.asarray(100.0 * np.abs(predicted - actual) / actual, dtype=np.float64)


def error_metrics(predicted: Matrix, actual: Matrix) -> dict[str, float]:
    errors = abs_pct_errors(predicted, actual)
    return {
        "median_abs_pct_error": round(float(np.median(errors)), 2) if len(errors) else math.nan,
        "mean_abs_pct_error": round(float(np.mean(errors)), 2) if len(errors) else math.nan,
        "rows": float(len(errors)),
    }


def cross_val_predict(
    kind: ModelKind, x: Matrix, y: Matrix, groups: Sequence[str] | None = None
) -> Matrix:
    """Out-of-fold predictions: by group when groups are given (each group left out
    whole, so the score says how the model does on workloads or sizes it never saw)."""
    out = np.zeros(len(y))
    if groups is not None and len(set(groups)) >= 2:
        folds = GroupKFold(n_splits=min(MAX_FOLDS, len(set(groups)))).split(x, y, groups)
    else:
        folds = KFold(n_splits=min(MAX_FOLDS, len(y)), shuffle=True, random_state=0).split(x)
    for train, test in folds:
        out[test] = _predict(kind, _fit(kind, x[train], y[train]), x[test])
    return out


@dataclass(frozen=True)
class RuntimeModel:
    """A trained model with what it needs to be used and judged later."""

    kind: ModelKind
    estimator: Any
    feature_names: tuple[str, ...]
    features_version: str
    #: Ratios actual ÷ predicted bounding the interval (10th and 90th percentile).
    interval: tuple[float, float]
    metrics: dict[str, float] = field(default_factory=dict)
    version: str = ""

    def predict(self, rows: Sequence[Mapping[str, float]]) -> Matrix:
        return _predict(self.kind, self.estimator, as_matrix(list(rows), self.feature_names))

    def predict_interval(self, rows: Sequence[Mapping[str, float]]) -> list[tuple[int, int, int]]:
        """(wall_ms, low_ms, high_ms) per row."""
        low, high = self.interval
        return [(round(p), round(p * low), round(p * high)) for p in self.predict(rows)]


def fit_model(
    kind: ModelKind,
    rows: Sequence[Mapping[str, float]],
    wall_ms: Sequence[float],
    groups: Sequence[str] | None = None,
) -> RuntimeModel:
    x = as_matrix(list(rows))
    y = np.asarray(wall_ms, dtype=np.float64)
    held_out = cross_val_predict(kind, x, y, groups) if len(y) >= 3 else y
    ratios = y / held_out
    low, high = np.percentile(ratios, INTERVAL_PERCENTILES)
    return RuntimeModel(
        kind=kind,
        estimator=_fit(kind, x, y),
        feature_names=FEATURE_NAMES,
        features_version=FEATURES_VERSION,
        interval=(float(min(low, 1.0)), float(max(high, 1.0))),
        metrics={f"cv_{k}": v for k, v in error_metrics(held_out, y).items()},
    )


CANDIDATES: tuple[ModelKind, ...] = ("ridge_log", "gbr_log")


def fit_best(
    rows: Sequence[Mapping[str, float]],
    wall_ms: Sequence[float],
    groups: Sequence[str] | None = None,
    kinds: Sequence[ModelKind] = CANDIDATES,
) -> RuntimeModel:
    """The candidate with the lowest grouped cross-validated median error."""
    fitted = [fit_model(kind, rows, wall_ms, groups) for kind in kinds]
    score: Callable[[RuntimeModel], float] = lambda m: m.metrics["cv_median_abs_pct_error"]  # noqa: E731
    return min(fitted, key=score)
