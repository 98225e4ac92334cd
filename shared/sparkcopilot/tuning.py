"""``spark-copilot tune``: one apply-ready configuration from all findings (DESIGN.md §8).

The analysis already made the findings' settings consistent with each other and with
the cluster (``analysis.consistency``); tuning gathers them into one configuration,
keeps the value of the finding that saves most where two still differ, and renders it
for where the job runs. The wall time after is the simulator's replay of the settings
it models (executors, cores, shuffle partitions) combined with the other findings'
estimated savings; the cost after scales the run's cost by core-hours.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .analysis import Analysis
from .analysis.cost import cost_partial
from .analysis.findings import Finding
from .analysis.thresholds import Thresholds
from .model import Application
from .prediction.simulator import WhatIf, recorded_config, simulate

Target = Literal["spark-submit", "dataproc", "dataproc-serverless", "databricks"]
Goal = Literal["time", "cost"]
TARGETS: tuple[Target, ...] = ("spark-submit", "dataproc", "dataproc-serverless", "databricks")

#: The settings the simulator replays; the others' effect is their finding's estimate.
_INSTANCES = "spark.executor.instances"
_CORES = "spark.executor.cores"
_PARTITIONS = "spark.sql.shuffle.partitions"
_SIMULATED = frozenset(
    {
        _INSTANCES,
        _CORES,
        _PARTITIONS,
        "spark.sql.adaptive.enabled",
        "spark.sql.adaptive.coalescePartitions.enabled",
    }
)
_DA = "spark.dynamicAllocation."
#: Dataproc Serverless runs executors of 4, 8 or 16 cores (its Spark properties page).
_SERVERLESS_CORES = (4, 8, 16)
#: Dataproc Serverless needs at least two executors (spark.executor.instances >= 2).
_SERVERLESS_MIN_EXECUTORS = 2
#: With goal "cost", fewer executors are taken only while the run stays this close in time.
_COST_SLOWDOWN = 1.10
#: A finding saves at most this share of the run (its stages still have to run).
_MAX_SHARE = 0.95


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TunedPrediction(_Contract):
    wall_ms_before: int
    wall_ms_after: int
    cost_usd_before: float
    cost_usd_after: float


class Tuning(_Contract):
    schema_: Literal["spark-copilot/tuning/v1"] = "spark-copilot/tuning/v1"
    target: Target
    goal: Goal
    config: dict[str, str]
    #: Setting → ids of the findings that ask for it (``"goal:cost"`` for the executor
    #: count the cost goal chose on the simulator).
    because: dict[str, list[str]]
    rendered: str
    predicted: TunedPrediction

    def to_json_dict(self) -> dict[str, object]:
        out = self.model_dump(mode="json")
        return {"schema": out.pop("schema_"), **out}


def _gathered(findings: Sequence[Finding]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Every problem's settings; findings come ranked, so the first value asked wins."""
    config: dict[str, str] = {}
    because: dict[str, list[str]] = {}
    for f in findings:
        if f.severity == "info":
            continue
        for key, value in f.config.items():
            config.setdefault(key, value)
            because.setdefault(key, []).append(f.id)
    return config, because


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _what_if(config: Mapping[str, str]) -> WhatIf:
    executors = _int(config.get(_INSTANCES))
    if executors is None and config.get(_DA + "enabled") == "true":
        # Dynamic allocation: the most executors it may hold set how fast it can go.
        executors = _int(config.get(_DA + "maxExecutors"))
    return WhatIf(executors, _int(config.get(_CORES)), _int(config.get(_PARTITIONS)))


def _combined_share(shares: Sequence[float]) -> float:
    """Savings of independent changes, each a share of what the others leave."""
    left = 1.0
    for share in shares:
        left *= 1.0 - min(max(share, 0.0), _MAX_SHARE)
    return 1.0 - left


def _cheapest_executors(app: Application, what_if: WhatIf, wall_ms: int) -> tuple[int, int] | None:
    """Fewer executors with the least core-hours whose replay stays within
    ``_COST_SLOWDOWN`` of ``wall_ms``: (executors, their replayed wall ms)."""
    recorded = recorded_config(app).executors
    now = what_if.executors or recorded
    best: tuple[float, int, int] | None = None
    n = now - 1
    while n >= 1:
        result = simulate(app, WhatIf(n, what_if.cores_per_executor, what_if.shuffle_partitions))
        if result.wall_ms > wall_ms * _COST_SLOWDOWN:
            break
        if best is None or n * result.wall_ms < best[0]:
            best = (n * result.wall_ms, n, result.wall_ms)
        n = n - 1 if n <= 8 else n * 3 // 4
    if best is None or best[0] >= now * wall_ms:
        return None
    return best[1], best[2]


def _for_target(config: dict[str, str], target: Target) -> dict[str, str]:
    """Settings the target accepts: Serverless' executor shapes, Databricks' autoscaling
    in place of dynamic allocation (its cluster JSON carries that)."""
    out = dict(config)
    if target == "dataproc-serverless":
        cores = _int(out.get(_CORES))
        if cores is not None:
            out[_CORES] = str(next((c for c in _SERVERLESS_CORES if c >= cores), 16))
        for key in (_INSTANCES, _DA + "minExecutors", _DA + "initialExecutors"):
            count = _int(out.get(key))
            if count is not None and count < _SERVERLESS_MIN_EXECUTORS:
                out[key] = str(_SERVERLESS_MIN_EXECUTORS)
        high = _int(out.get(_DA + "maxExecutors"))
        if high is not None and high < _SERVERLESS_MIN_EXECUTORS:
            out[_DA + "maxExecutors"] = str(_SERVERLESS_MIN_EXECUTORS)
    if target == "databricks":
        out = {k: v for k, v in out.items() if not k.startswith(_DA) and k != _INSTANCES}
    return out


def render_config(config: Mapping[str, str], target: Target, workers: int | tuple[int, int]) -> str:
    """The configuration as the target takes it, ready to paste; ``workers`` is the
    Databricks worker count, or its autoscaling range."""
    if target == "spark-submit":
        width = max((len(k) for k in config), default=0)
        lines = [f"{k:<{width}}  {v}" for k, v in sorted(config.items())]
        return "# spark-defaults.conf\n" + "\n".join(lines) + "\n"
    if target == "databricks":
        cluster: dict[str, object] = {"spark_conf": dict(sorted(config.items()))}
        if isinstance(workers, tuple):
            cluster["autoscale"] = {"min_workers": workers[0], "max_workers": workers[1]}
        else:
            cluster["num_workers"] = workers
        return json.dumps(cluster, indent=2) + "\n"
    pairs = [f"{k}={v}" for k, v in sorted(config.items())]
    # gcloud splits --properties on commas unless another delimiter is declared.
    joined = ",".join(pairs) if not any("," in p for p in pairs) else "^#^" + "#".join(pairs)
    command = (
        "gcloud dataproc jobs submit pyspark JOB.py --cluster=CLUSTER --region=REGION"
        if target == "dataproc"
        else "gcloud dataproc batches submit pyspark JOB.py --region=REGION"
    )
    return f"{command} \\\n  --properties={shlex.quote(joined)}\n"


def _databricks_workers(config: Mapping[str, str], fallback: int) -> int | tuple[int, int]:
    """Dynamic allocation becomes Databricks autoscaling; else a fixed worker count."""
    high = _int(config.get(_DA + "maxExecutors"))
    if config.get(_DA + "enabled") == "true" and high is not None:
        return (_int(config.get(_DA + "minExecutors")) or 1, high)
    return _int(config.get(_INSTANCES)) or fallback


def tune(
    app: Application,
    analysis: Analysis,
    target: Target = "spark-submit",
    goal: Goal = "time",
    thresholds: Thresholds | None = None,
) -> Tuning:
    """One configuration for ``target`` from the analysis' findings, with the wall time
    and cost predicted before and after."""
    limits = thresholds or Thresholds()
    config, because = _gathered(analysis.findings)
    findings = [f for f in analysis.findings if f.severity != "info" and f.config]
    recorded = recorded_config(app)
    what_if = _what_if(config)
    has_tasks = len(app.tasks) > 0
    simulation = simulate(app, what_if) if has_tasks else None
    wall_before = simulation.recorded_wall_ms if simulation else (app.app.duration_ms or 0)
    if simulation is not None and goal == "cost":
        cheaper = _cheapest_executors(app, what_if, simulation.wall_ms)
        if cheaper is not None:
            config[_INSTANCES] = str(cheaper[0])
            because.setdefault(_INSTANCES, []).append("goal:cost")
            what_if = _what_if(config)
            simulation = simulate(app, what_if)
    simulated_share = (
        1.0 - simulation.corrected_wall_ms / wall_before if simulation and wall_before else 0.0
    )
    estimated: list[float] = []
    for f in findings:
        share = f.estimated_savings.wall_ms / wall_before if wall_before else 0.0
        if set(f.config) & _SIMULATED:
            # The replay models this finding's main lever: count the larger of the two.
            simulated_share = max(simulated_share, share)
        else:
            estimated.append(share)
    wall_after = round(wall_before * (1.0 - _combined_share([simulated_share, *estimated])))
    cost_before = cost_partial(app, limits.cost, ()).cost_usd
    executors_after = what_if.executors or recorded.executors
    cores_after = what_if.cores_per_executor or recorded.cores_per_executor
    core_ratio = (executors_after * cores_after) / (
        recorded.executors * recorded.cores_per_executor
    )
    # Findings that free memory without saving time save cost the core count misses.
    freed = sum(
        f.estimated_savings.cost_usd
        for f in findings
        if f.estimated_savings.wall_ms == 0
        and not set(f.config) & _SIMULATED
        and not any(k.startswith(_DA) for k in f.config)
    )
    scaled = cost_before * (wall_after / wall_before if wall_before else 1.0) * core_ratio
    cost_after = max(0.0, scaled - freed)
    final = _for_target(config, target)
    return Tuning(
        target=target,
        goal=goal,
        config=dict(sorted(final.items())),
        because={k: because[k] for k in sorted(final) if k in because},
        rendered=render_config(final, target, _databricks_workers(config, recorded.executors)),
        predicted=TunedPrediction(
            wall_ms_before=wall_before,
            wall_ms_after=wall_after,
            cost_usd_before=round(cost_before, 4),
            cost_usd_after=round(cost_after, 4) if math.isfinite(cost_after) else cost_before,
        ),
    )


def render_tuning_text(tuning: Tuning, findings: Sequence[Finding]) -> str:
    titles = {f.id: f"{f.kind}: {f.title}" for f in findings}
    p = tuning.predicted
    lines = [
        f"Tuned for {tuning.target} (goal: {tuning.goal})",
        f"  wall time {p.wall_ms_before / 1000:.1f} s -> {p.wall_ms_after / 1000:.1f} s "
        f"(predicted)   cost ${p.cost_usd_before:.4f} -> ${p.cost_usd_after:.4f}",
        "",
    ]
    if not tuning.config:
        lines.append("No setting to change: no finding asks for one.")
        return "\n".join(lines) + "\n"
    for key, value in tuning.config.items():
        lines.append(f"  {key} = {value}")
        for finding_id in tuning.because.get(key, []):
            lines.append(f"      because {titles.get(finding_id, finding_id)}")
    return "\n".join([*lines, "", tuning.rendered])
