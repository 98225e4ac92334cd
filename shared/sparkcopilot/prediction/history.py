"""History: one row per analysed application, the training data of the runtime model.

:class:`HistoryStore` is the port; :class:`SqliteHistoryStore` the embedded adapter (a
local SQLite file). The BigQuery adapter comes with the serverless pipeline.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..model import Application
from .features import FeatureBuilder
from .simulator import recorded_wall_ms, simulate


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One recorded run: its features at the recorded configuration and its wall time."""

    app_id: str
    app_name: str
    #: When the run started (ms since the epoch); 0 when the log does not say.
    started_ms: int
    features_version: str
    features: Mapping[str, float]
    wall_ms: int


class HistoryReader(Protocol):
    """What training reads."""

    def rows(self, features_version: str | None = None) -> list[HistoryRow]:
        """Every row (the newest of each app id), or those of one features version,
        oldest first."""


class HistoryStore(HistoryReader, Protocol):
    def append(self, rows: Sequence[HistoryRow]) -> None:
        """Add rows; a row for an app id already stored replaces it (re-analysis)."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    app_id TEXT NOT NULL,
    features_version TEXT NOT NULL,
    app_name TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    wall_ms INTEGER NOT NULL,
    features TEXT NOT NULL,
    PRIMARY KEY (app_id, features_version)
)
"""


class SqliteHistoryStore:
    """History in a SQLite file, created on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path)
        try:
            with connection:  # one transaction: committed, or rolled back on error
                connection.execute(_SCHEMA)
                yield connection
        finally:
            connection.close()

    def append(self, rows: Sequence[HistoryRow]) -> None:
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.app_id,
                        r.features_version,
                        r.app_name,
                        r.started_ms,
                        r.wall_ms,
                        json.dumps(dict(r.features), sort_keys=True),
                    )
                    for r in rows
                ],
            )

    def rows(self, features_version: str | None = None) -> list[HistoryRow]:
        query = "SELECT app_id, app_name, started_ms, features_version, features, wall_ms"
        query += " FROM history"
        params: tuple[str, ...] = ()
        if features_version is not None:
            query += " WHERE features_version = ?"
            params = (features_version,)
        with self._connect() as db:
            found = db.execute(query + " ORDER BY started_ms, app_id", params).fetchall()
        return [
            HistoryRow(
                app_id=app_id,
                app_name=name,
                started_ms=started,
                features_version=version,
                features=json.loads(features),
                wall_ms=wall,
            )
            for app_id, name, started, version, features, wall in found
        ]


def history_rows(app: Application) -> list[HistoryRow]:
    """The application's row; none for a log without tasks or an unfinished run (its
    wall time is not known)."""
    if not len(app.tasks) or not app.complete or app.app.duration_ms is None:
        return []
    builder = FeatureBuilder()
    return [
        HistoryRow(
            app_id=app.app.id or app.source.path,
            app_name=app.app.name or "",
            started_ms=app.app.start_ms or 0,
            features_version=builder.version,
            features=builder.build_from(app, simulate(app)),
            wall_ms=recorded_wall_ms(app),
        )
    ]


def record_history(app: Application, store: HistoryStore) -> int:
    """Append the application's history rows; returns how many."""
    rows = history_rows(app)
    if rows:
        store.append(rows)
    return len(rows)
