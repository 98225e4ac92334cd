"""The BigQuery history schemas the infrastructure creates and the adapter writes."""

from __future__ import annotations

import dataclasses

from sparkcopilot import resources
from sparkcopilot.history_schema import (
    CLUSTER_COLUMN,
    HISTORY_TABLES,
    PARTITION_COLUMN,
    FindingRow,
    StageRow,
    TableSchema,
    table_schema,
)
from sparkcopilot.prediction.history import HistoryRow


def _columns(table: TableSchema) -> dict[str, tuple[str, str]]:
    return {c.name: (c.type, c.mode) for c in table.columns}


def test_every_history_table_is_day_partitioned_and_clustered_by_app() -> None:
    assert set(HISTORY_TABLES) == set(resources.TABLES)
    for table in HISTORY_TABLES.values():
        names = [c.name for c in table.columns]
        assert len(names) == len(set(names)), table.name
        assert _columns(table)[PARTITION_COLUMN] == ("TIMESTAMP", "REQUIRED")
        assert _columns(table)[CLUSTER_COLUMN] == ("STRING", "REQUIRED")


def test_a_history_row_fits_the_applications_table() -> None:
    """What the runtime model trains on (prediction.history.HistoryRow) has a column each;
    ``started_ms`` becomes the partition timestamp."""
    columns = _columns(HISTORY_TABLES[resources.TABLE_APPLICATIONS])
    fields = {f.name for f in dataclasses.fields(HistoryRow)} - {"started_ms"}
    assert fields <= set(columns)
    assert columns["features"] == ("JSON", "REQUIRED")


def test_bigquery_json_carries_name_type_and_mode() -> None:
    findings = HISTORY_TABLES[resources.TABLE_FINDINGS].as_bigquery_json()
    stage_ids = next(field for field in findings if field["name"] == "stage_ids")
    assert (stage_ids["type"], stage_ids["mode"]) == ("INT64", "REPEATED")


def test_columns_follow_the_row_models_fields() -> None:
    stages = _columns(table_schema("stages", StageRow))
    assert stages["duration_ms"] == ("INT64", "NULLABLE")
    assert stages["job_ids"] == ("INT64", "REPEATED")
    assert stages["name"] == ("STRING", "REQUIRED")
    assert stages["recorded_at"] == ("TIMESTAMP", "REQUIRED")
    findings = _columns(table_schema("findings", FindingRow))
    assert findings["config_keys"] == ("STRING", "REPEATED")
    assert findings["confidence"] == ("FLOAT64", "REQUIRED")
