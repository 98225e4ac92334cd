"""Runtime prediction on a runtime series: median absolute % error, side by side.

A runtime series is one workload run at several data scales x shuffle-partition counts x
repeats; its labels file maps each log to ``runtime_series`` (``group``, ``data_scale``,
``shuffle_partitions``, ``repeat``, ``wall_ms``). Rows of the table:

- simulator at the recorded configuration (the self-check);
- simulator what-if to the series' other partition count, against the run at that
  count with the same scale and repeat, and against the median of its repeats;
- the linear baseline and the learned model (the candidate chosen by cross-validation
  inside each training fold), leave-one-group-out, where a group is a data scale (the
  model never saw that size) or a (scale, partitions) cell.

    python bench/prediction_eval.py                        # the corpus' generated/runtime
    python bench/prediction_eval.py --labels DIR/labels.json   # another series
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sparkcopilot.eventlog import read_application
from sparkcopilot.prediction.features import FeatureBuilder
from sparkcopilot.prediction.predictor import RuntimeModel, abs_pct_errors, fit_best, fit_model
from sparkcopilot.prediction.simulator import WhatIf, simulate

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "eventlogs"

Run = dict[str, Any]


def _runs(labels_path: Path) -> list[Run]:
    labels = json.loads(labels_path.read_text())
    runs = []
    for name, label in sorted(labels.items()):
        series = label.get("runtime_series")
        if series:
            runs.append({**series, "path": labels_path.parent / name})
    return runs


def _logo(
    fit: Callable[[list[dict[str, float]], list[float], list[str]], RuntimeModel],
    rows: list[dict[str, float]],
    wall: list[float],
    groups: list[str],
) -> list[float]:
    predicted = [0.0] * len(rows)
    for held in sorted(set(groups)):
        train = [i for i, g in enumerate(groups) if g != held]
        model = fit([rows[i] for i in train], [wall[i] for i in train], [groups[i] for i in train])
        test = [i for i, g in enumerate(groups) if g == held]
        for i, p in zip(test, model.predict([rows[i] for i in test]), strict=True):
            predicted[i] = float(p)
    return predicted


def _median_error(predicted: Sequence[float], actual: Sequence[float]) -> float:
    return float(np.median(abs_pct_errors(np.asarray(predicted), np.asarray(actual))))


def evaluate(labels_path: Path) -> list[tuple[str, float, int]]:
    runs = _runs(labels_path)
    if not runs:
        raise SystemExit(f"{labels_path}: no runtime_series labels")
    by_cell = {(r["data_scale"], r["shuffle_partitions"], r["repeat"]): r for r in runs}
    counts = sorted({r["shuffle_partitions"] for r in runs})
    rows, wall, replayed = [], [], []
    what_if_pred, what_if_same, what_if_median = [], [], []
    for run in runs:
        app = read_application(run["path"])
        result = simulate(app)
        rows.append(FeatureBuilder().build_from(app, result))
        wall.append(float(run["wall_ms"]))
        replayed.append(float(result.replayed_wall_ms))
        for other in counts:
            if other == run["shuffle_partitions"]:
                continue
            twin = by_cell.get((run["data_scale"], other, run["repeat"]))
            repeats = [
                r["wall_ms"]
                for r in runs
                if r["data_scale"] == run["data_scale"] and r["shuffle_partitions"] == other
            ]
            if twin is None:
                continue
            what_if_pred.append(float(simulate(app, WhatIf(shuffle_partitions=other)).wall_ms))
            what_if_same.append(float(twin["wall_ms"]))
            what_if_median.append(float(statistics.median(repeats)))

    def baseline(r: list[dict[str, float]], y: list[float], g: list[str]) -> RuntimeModel:
        return fit_model("linear", r, y, g)

    def learned(r: list[dict[str, float]], y: list[float], g: list[str]) -> RuntimeModel:
        return fit_best(r, y, g)

    scale = [str(r["data_scale"]) for r in runs]
    cell = [f"{r['data_scale']}/{r['shuffle_partitions']}" for r in runs]
    n, m = len(runs), len(what_if_pred)
    other = "simulator what-if → other partitions"
    return [
        ("simulator, recorded configuration", _median_error(replayed, wall), n),
        (f"{other} (same repeat)", _median_error(what_if_pred, what_if_same), m),
        (f"{other} (median of repeats)", _median_error(what_if_pred, what_if_median), m),
        *(
            (
                f"{name}, leave one {group_name} out",
                _median_error(_logo(fit, rows, wall, g), wall),
                n,
            )
            for group_name, g in (("scale", scale), ("(scale, partitions)", cell))
            for name, fit in (("linear baseline", baseline), ("learned model", learned))
        ),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=CORPUS / "labels.json")
    args = parser.parse_args(argv)
    print(f"{'median abs % error':58s} {'error':>7s} {'runs':>5s}")
    for name, error, count in evaluate(args.labels):
        print(f"{name:58s} {error:6.1f}% {count:5d}")


if __name__ == "__main__":
    main()
