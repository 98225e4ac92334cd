"""The BigQuery history tables (DESIGN.md §6): one typed row model per table, and each
table's schema derived from its model, so the Pulumi program that creates the tables and
the adapter that appends rows to them cannot drift.

Every table is partitioned by day on ``started_at`` (when the application started: queries
over a period read only its partitions) and clustered by ``app_id`` (one application's rows
sit together). The names are those of :mod:`sparkcopilot.resources`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from .resources import TABLE_APPLICATIONS, TABLE_FINDINGS, TABLE_STAGES

ColumnType = Literal["STRING", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "JSON"]
ColumnMode = Literal["REQUIRED", "NULLABLE", "REPEATED"]

#: The day-partitioning column every history table has.
PARTITION_COLUMN: Final = "started_at"
#: The clustering column every history table has.
CLUSTER_COLUMN: Final = "app_id"


class HistoryKeys(BaseModel):
    """What every history row starts with: the day partition, the cluster key, the
    analysis the row came from, and when it was appended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    started_at: datetime = Field(description="when the application started")
    app_id: str = Field(description="Spark application id")
    analysis_id: str = Field(description="the pipeline's analysis id")
    recorded_at: datetime = Field(description="when the row was appended")

    def insert_id(self) -> str:
        """The row's dedupe key within its table (BigQuery's ``insertId``)."""
        return self.analysis_id


class ApplicationRow(HistoryKeys):
    """One analysed run: the runtime model's training data."""

    app_name: str | None = None
    spark_version: str | None = None
    wall_ms: int = Field(description="recorded wall time")
    features_version: str = Field(description="prediction.features version")
    features: dict[str, float] = Field(description="the runtime model's features of this run")
    cost_usd: float | None = Field(default=None, description="the cost agent's estimate")


class StageRow(HistoryKeys):
    """One stage attempt of an analysed run."""

    stage_id: int
    attempt: int
    name: str
    status: str = Field(description="complete, failed, or running when it never ended")
    num_tasks: int = Field(description="tasks the stage was submitted with")
    tasks_ended: int = Field(description="task attempts the log holds an end of")
    duration_ms: int | None = Field(default=None, description="submitted → completed")
    executor_run_time_ms: int
    input_bytes: int
    shuffle_read_bytes: int
    shuffle_write_bytes: int
    memory_spilled_bytes: int
    disk_spilled_bytes: int
    task_ms_p50: int | None = Field(default=None, description="median task attempt duration")
    task_ms_p90: int | None = None
    task_ms_p99: int | None = None
    task_ms_max: int | None = None
    sql_id: int | None = None
    job_ids: list[int] = Field(default_factory=list)

    def insert_id(self) -> str:
        return f"{self.analysis_id}/{self.stage_id}/{self.attempt}"


class FindingRow(HistoryKeys):
    """One finding of an analysis."""

    finding_id: str
    kind: str
    agent: str
    severity: str
    title: str
    stage_ids: list[int] = Field(default_factory=list)
    sql_ids: list[int] = Field(default_factory=list)
    confidence: float
    saved_wall_ms: int
    saved_cost_usd: float
    config_keys: list[str] = Field(
        default_factory=list, description="the Spark settings the finding recommends"
    )

    def insert_id(self) -> str:
        return f"{self.analysis_id}/{self.finding_id}"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    mode: ColumnMode = "NULLABLE"
    description: str = ""


@dataclass(frozen=True, slots=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]

    def as_bigquery_json(self) -> list[dict[str, str]]:
        """The ``fields`` list BigQuery's API (and pulumi-gcp's ``schema``) takes."""
        return [
            {"name": c.name, "type": c.type, "mode": c.mode, "description": c.description}
            for c in self.columns
        ]


_SCALARS: Final[Mapping[type, ColumnType]] = {
    str: "STRING",
    int: "INT64",
    float: "FLOAT64",
    bool: "BOOL",
    datetime: "TIMESTAMP",
}


def _column_type(annotation: Any) -> tuple[ColumnType, ColumnMode]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [a for a in args if a is not type(None)]
        found, _ = _column_type(inner)
        return found, "NULLABLE"
    if origin is list:
        return _column_type(args[0])[0], "REPEATED"
    if origin is dict:
        return "JSON", "REQUIRED"
    if annotation in _SCALARS:
        return _SCALARS[annotation], "REQUIRED"
    raise TypeError(f"{annotation!r}: no BigQuery column type")


def table_schema(name: str, row: type[HistoryKeys]) -> TableSchema:
    """The table of these rows: a column per field, in declaration order."""
    columns = []
    for field_name, info in row.model_fields.items():
        column_type, mode = _column_type(info.annotation)
        columns.append(Column(field_name, column_type, mode, info.description or ""))
    return TableSchema(name, tuple(columns))


#: Each history table's row model, by table name.
ROW_MODELS: Final[Mapping[str, type[HistoryKeys]]] = {
    TABLE_APPLICATIONS: ApplicationRow,
    TABLE_STAGES: StageRow,
    TABLE_FINDINGS: FindingRow,
}

#: Every history table, by name.
HISTORY_TABLES: Final[Mapping[str, TableSchema]] = {
    name: table_schema(name, row) for name, row in ROW_MODELS.items()
}
