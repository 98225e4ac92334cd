"""The ``predict`` and ``train`` outputs (DESIGN.md §5): JSON objects and their text form."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ..errors import UsageError
from ..model import Application
from .features import FEATURES_VERSION, FeatureBuilder
from .registry import ModelRegistry
from .simulator import SimulationResult, WhatIf, simulate
from .training import TrainingResult

Method = Literal["simulator", "model"]

#: The per-task fixed costs learned from one log vary about this much between repeats
#: of the same run; the simulator's interval replays the what-if at both ends.
OVERHEAD_SPREAD = (0.5, 2.0)


def _simulator_interval(
    app: Application, what_if: WhatIf, sim: SimulationResult
) -> tuple[int, int]:
    walls = [sim.wall_ms] + [simulate(app, what_if, factor).wall_ms for factor in OVERHEAD_SPREAD]
    # Widened by how far the replay missed the recorded run itself.
    miss = abs(sim.self_check_error_pct) / 100
    low = max(sim.lower_bound_ms, round(min(walls) * (1 - miss)))
    return low, round(max(walls) * (1 + miss))


def prediction_report(
    app: Application,
    what_if: WhatIf,
    method: Method = "simulator",
    registry: ModelRegistry | None = None,
) -> dict[str, Any]:
    sim = simulate(app, what_if)
    predicted: dict[str, Any]
    if method == "model":
        model = registry.current() if registry is not None else None
        if model is None:
            raise UsageError("no trained model: run `spark-copilot train` first")
        if model.features_version != FEATURES_VERSION:
            raise UsageError(
                f"model {model.version} uses features version {model.features_version}, this "
                f"release computes {FEATURES_VERSION}: run `spark-copilot train` again"
            )
        wall, low, high = model.predict_interval([FeatureBuilder().build_from(app, sim)])[0]
        predicted = {
            "wall_ms": wall,
            "low_ms": low,
            "high_ms": high,
            "model_version": model.version,
        }
    else:
        low, high = _simulator_interval(app, what_if, sim)
        predicted = {"wall_ms": sim.wall_ms, "low_ms": low, "high_ms": high}
    predicted.update(
        lower_bound_ms=sim.lower_bound_ms,
        critical_path_stage_ids=list(sim.critical_path_stage_ids),
        method=method,
        task_overhead_ms=round(sim.task_overhead_ms, 1),
    )
    return {
        "schema": "spark-copilot/prediction/v1",
        "app_id": app.app.id,
        "recorded": {
            "wall_ms": sim.recorded_wall_ms,
            "executors": sim.recorded.executors,
            "cores_per_executor": sim.recorded.cores_per_executor,
            "shuffle_partitions": sim.recorded.shuffle_partitions,
        },
        "self_check": {
            "simulated_wall_ms": sim.replayed_wall_ms,
            "error_pct": round(sim.self_check_error_pct, 2),
        },
        "what_if": {
            "executors": sim.simulated.executors,
            "cores_per_executor": sim.simulated.cores_per_executor,
            "shuffle_partitions": sim.simulated.shuffle_partitions,
        },
        "predicted": predicted,
    }


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s"


def render_prediction_text(report: dict[str, Any]) -> str:
    rec, what, pred, check = (
        report["recorded"],
        report["what_if"],
        report["predicted"],
        report["self_check"],
    )

    def config(c: dict[str, Any]) -> str:
        return (
            f"{c['executors']} executor(s) x {c['cores_per_executor']} core(s), "
            f"{c['shuffle_partitions']} shuffle partitions"
        )

    path = " → ".join(str(s) for s in pred["critical_path_stage_ids"]) or "-"
    return "\n".join(
        [
            f"{report['app_id']}",
            f"recorded   {_seconds(rec['wall_ms'])} on {config(rec)}",
            f"replayed   {_seconds(check['simulated_wall_ms'])} "
            f"({check['error_pct']:+.1f}% self-check)",
            f"what-if    {config(what)}",
            f"predicted  {_seconds(pred['wall_ms'])} ({_seconds(pred['low_ms'])} – "
            f"{_seconds(pred['high_ms'])}), by the {pred['method']}",
            f"no faster than {_seconds(pred['lower_bound_ms'])}; critical path: stages {path}",
            "",
        ]
    )


def render_training_text(result: TrainingResult) -> str:
    lines = [f"{result.rows} run(s), features version {result.features_version}"]
    for name, errors in result.metrics.items():
        lines.append(
            f"{name:9s}  median error {errors['median_abs_pct_error']:.1f}% "
            f"over {int(errors['rows'])} held-out run(s)"
        )
    verdict = "published" if result.published else "not published (the current model is better)"
    lines.append(f"{result.kind} model {result.model_version}: {verdict}")
    return "\n".join(lines) + "\n"


def history_path(uri: str) -> Path:
    """A ``--history`` URI → the SQLite file it names (``sqlite:///path`` or a path)."""
    if uri.startswith("sqlite://"):
        return Path(uri.removeprefix("sqlite://"))
    if "://" in uri:
        scheme = uri.split("://", 1)[0]
        raise UsageError(f"--history {uri}: {scheme} history is not available; give a SQLite path")
    return Path(uri)
