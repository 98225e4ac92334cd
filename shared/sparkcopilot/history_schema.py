"""Schemas of the BigQuery history tables (DESIGN.md §6), shared by the Pulumi program that
creates them and the BigQuery adapter that appends to them, so the two cannot drift.

Every table is partitioned by day on ``started_at`` (when the application started: queries
over a period read only its partitions) and clustered by ``app_id`` (one application's rows
sit together). The names are those of :mod:`sparkcopilot.resources`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from .resources import TABLE_APPLICATIONS, TABLE_FINDINGS, TABLE_STAGES

ColumnType = Literal["STRING", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "JSON"]
ColumnMode = Literal["REQUIRED", "NULLABLE", "REPEATED"]

#: The day-partitioning column every history table has.
PARTITION_COLUMN: Final = "started_at"
#: The clustering column every history table has.
CLUSTER_COLUMN: Final = "app_id"


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


# Every table starts with these: the day partition, the cluster key, and the analysis the
# row came from (a re-analysis of the same log replaces rows of the same analysis id).
_KEYS = (
    Column(PARTITION_COLUMN, "TIMESTAMP", "REQUIRED", "when the application started"),
    Column(CLUSTER_COLUMN, "STRING", "REQUIRED", "Spark application id"),
    Column("analysis_id", "STRING", "REQUIRED", "the pipeline's analysis id"),
)

APPLICATIONS = TableSchema(
    TABLE_APPLICATIONS,
    (
        *_KEYS,
        Column("app_name", "STRING"),
        Column("spark_version", "STRING"),
        Column("wall_ms", "INT64", "REQUIRED", "recorded wall time"),
        Column("features_version", "STRING", "REQUIRED", "prediction.features version"),
        Column("features", "JSON", "REQUIRED", "the runtime model's features of this run"),
        Column("cost_usd", "FLOAT64", description="the cost agent's estimate"),
        Column("recorded_at", "TIMESTAMP", "REQUIRED", "when the row was appended"),
    ),
)

STAGES = TableSchema(
    TABLE_STAGES,
    (
        *_KEYS,
        Column("stage_id", "INT64", "REQUIRED"),
        Column("attempt", "INT64", "REQUIRED"),
        Column("name", "STRING"),
        Column("tasks", "INT64", "REQUIRED"),
        Column("duration_ms", "INT64"),
        Column("executor_run_time_ms", "INT64"),
        Column("input_bytes", "INT64"),
        Column("shuffle_read_bytes", "INT64"),
        Column("shuffle_write_bytes", "INT64"),
        Column("spilled_bytes", "INT64", description="memory + disk spill"),
    ),
)

FINDINGS = TableSchema(
    TABLE_FINDINGS,
    (
        *_KEYS,
        Column("finding_id", "STRING", "REQUIRED"),
        Column("kind", "STRING", "REQUIRED"),
        Column("agent", "STRING", "REQUIRED"),
        Column("severity", "STRING", "REQUIRED"),
        Column("title", "STRING", "REQUIRED"),
        Column("stage_ids", "INT64", "REPEATED"),
        Column("saved_wall_ms", "INT64"),
        Column("saved_cost_usd", "FLOAT64"),
        Column("confidence", "FLOAT64"),
    ),
)

#: Every history table, by name.
HISTORY_TABLES: Final[Mapping[str, TableSchema]] = {
    table.name: table for table in (APPLICATIONS, STAGES, FINDINGS)
}
