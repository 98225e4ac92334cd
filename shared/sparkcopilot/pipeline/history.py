"""What recommend appends to history for one analysis: its application row (the runtime
model's training data, when the run finished), one row per stage attempt and one per
finding, typed by :mod:`sparkcopilot.history_schema`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from .. import resources
from ..analysis import Analysis
from ..analysis.cost import CostPartial
from ..history_schema import ApplicationRow, FindingRow, HistoryKeys, StageRow
from ..model import Application, StageAttempt
from ..prediction.history import HistoryRow, history_rows


@dataclass(frozen=True, slots=True)
class AnalysisRecords:
    """One analysis' history rows."""

    analysis_id: str
    application: ApplicationRow | None
    stages: tuple[StageRow, ...]
    findings: tuple[FindingRow, ...]

    def by_table(self) -> dict[str, tuple[HistoryKeys, ...]]:
        return {
            resources.TABLE_APPLICATIONS: (self.application,) if self.application else (),
            resources.TABLE_STAGES: self.stages,
            resources.TABLE_FINDINGS: self.findings,
        }


def _ms(value: float) -> int:
    return round(float(value))


def _stage_row(app: Application, stage: StageAttempt, keys: dict[str, object]) -> StageRow:
    tasks = app.stage_tasks(stage)
    durations = tasks.duration_ms
    p50, p90, p99 = (
        (_ms(v) for v in np.percentile(durations, (50, 90, 99)))
        if len(durations)
        else (None, None, None)
    )
    return StageRow.model_validate(
        {
            **keys,
            "stage_id": stage.stage_id,
            "attempt": stage.attempt,
            "name": stage.name,
            "status": stage.status,
            "num_tasks": stage.num_tasks,
            "tasks_ended": len(tasks),
            "duration_ms": stage.duration_ms,
            "executor_run_time_ms": int(tasks.run_ms.sum()),
            "input_bytes": int(tasks.input_bytes.sum()),
            "shuffle_read_bytes": int(tasks.shuffle_read_bytes.sum()),
            "shuffle_write_bytes": int(tasks.shuffle_write_bytes.sum()),
            "memory_spilled_bytes": int(tasks.memory_spilled.sum()),
            "disk_spilled_bytes": int(tasks.disk_spilled.sum()),
            "task_ms_p50": p50,
            "task_ms_p90": p90,
            "task_ms_p99": p99,
            "task_ms_max": int(durations.max()) if len(durations) else None,
            "sql_id": stage.sql_id,
            "job_ids": list(stage.job_ids),
        }
    )


def _application_row(
    row: HistoryRow, keys: dict[str, object], spark_version: str | None, cost_usd: float | None
) -> ApplicationRow:
    return ApplicationRow.model_validate(
        {
            **keys,
            "app_name": row.app_name or None,
            "spark_version": spark_version,
            "wall_ms": row.wall_ms,
            "features_version": row.features_version,
            "features": dict(row.features),
            "cost_usd": cost_usd,
        }
    )


def history_row(row: ApplicationRow) -> HistoryRow:
    """What the runtime model trains on, from an applications row."""
    return HistoryRow(
        app_id=row.app_id,
        app_name=row.app_name or "",
        started_ms=round(row.started_at.timestamp() * 1000),
        features_version=row.features_version,
        features=row.features,
        wall_ms=row.wall_ms,
    )


def analysis_records(
    analysis_id: str, app: Application, analysis: Analysis, recorded_at: datetime
) -> AnalysisRecords:
    """The rows of this analysis; every row is partitioned by the application's start
    (when it was recorded, for a log that does not say)."""
    started = (
        datetime.fromtimestamp(app.app.start_ms / 1000, UTC)
        if app.app.start_ms is not None
        else recorded_at
    )
    keys: dict[str, object] = {
        "started_at": started,
        "app_id": app.app.id or app.source.path,
        "analysis_id": analysis_id,
        "recorded_at": recorded_at,
    }
    cost = analysis.agents.get("cost")
    cost_usd = cost.partial.cost_usd if cost and isinstance(cost.partial, CostPartial) else None
    runs = history_rows(app)
    findings = tuple(
        FindingRow.model_validate(
            {
                **keys,
                "finding_id": f.id,
                "kind": f.kind,
                "agent": f.agent,
                "severity": f.severity,
                "title": f.title,
                "stage_ids": list(f.scope.stage_ids),
                "sql_ids": list(f.scope.sql_ids),
                "confidence": f.confidence,
                "saved_wall_ms": f.estimated_savings.wall_ms,
                "saved_cost_usd": f.estimated_savings.cost_usd,
                "config_keys": sorted(f.config),
            }
        )
        for f in analysis.findings
    )
    return AnalysisRecords(
        analysis_id=analysis_id,
        application=(
            _application_row(runs[0], keys, app.app.spark_version, cost_usd) if runs else None
        ),
        stages=tuple(_stage_row(app, s, keys) for s in app.stages),
        findings=findings,
    )
