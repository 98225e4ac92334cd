"""The embedded adapters: a local directory, an in-process bus, a SQLite file and a
local key file. ``spark-copilot`` uses them with no cloud; the pipeline's unit tests run
the whole fan-out on them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO

from .. import resources
from ..config import Settings
from ..prediction.history import SqliteHistoryStore
from .history import AnalysisRecords, history_row
from .keys import key_id_of, parse_key_file
from .ports import Document, StoredObject
from .steps import Pipeline, analysis_id_from_message, analyze_message, recommend


class LocalBlobStore:
    """Buckets as directories under ``root``; a generation is the file's mtime in ns."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, bucket: str, name: str) -> Path:
        path = (self.root / bucket / name).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"{bucket}/{name}: outside the store")
        return path

    def open(self, bucket: str, name: str) -> AbstractContextManager[BinaryIO]:
        return self._path(bucket, name).open("rb")

    def read(self, bucket: str, name: str) -> bytes:
        return self._path(bucket, name).read_bytes()

    def write(self, bucket: str, name: str, data: bytes) -> None:
        target = self._path(bucket, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)

    def stat(self, bucket: str, name: str) -> StoredObject | None:
        path = self._path(bucket, name)
        if not path.is_file():
            return None
        md5 = base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()
        info = path.stat()
        return StoredObject(bucket, name, str(info.st_mtime_ns), info.st_size, md5)

    def list(self, bucket: str, prefix: str) -> list[StoredObject]:
        base = self.root / bucket
        names = sorted(
            p.relative_to(base).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        found = (self.stat(bucket, n) for n in names if n.startswith(prefix))
        return [o for o in found if o is not None]


#: A subscriber: raises to have the message delivered again.
Handler = Callable[[bytes, Mapping[str, str]], None]


@dataclass
class InProcessBus:
    """Pub/Sub in one process: messages queue up and :meth:`run` delivers them to every
    subscription of their topic, again when a handler raises, and to the dead-letter
    topic after ``max_attempts``."""

    max_attempts: int = 5
    _subscriptions: dict[str, list[tuple[str, Handler]]] = field(default_factory=dict)
    _queue: deque[tuple[str, Handler, bytes, dict[str, str], int]] = field(default_factory=deque)
    #: Every message published, by topic (what users' subscriptions would see).
    published: dict[str, list[tuple[bytes, dict[str, str]]]] = field(default_factory=dict)

    def subscribe(self, topic: str, name: str, handler: Handler) -> None:
        self._subscriptions.setdefault(topic, []).append((name, handler))

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        self.published.setdefault(topic, []).append((data, dict(attributes)))
        for _, handler in self._subscriptions.get(topic, []):
            self._queue.append((topic, handler, data, dict(attributes), 1))

    def run(self) -> None:
        """Deliver until no message is left."""
        while self._queue:
            topic, handler, data, attributes, attempt = self._queue.popleft()
            try:
                handler(data, attributes)
            except Exception:  # any failure means: deliver again, as Pub/Sub does
                if attempt < self.max_attempts:
                    self._queue.append((topic, handler, data, attributes, attempt + 1))
                else:
                    self.publish(
                        resources.TOPIC_DEAD_LETTER, data, {**attributes, "source_topic": topic}
                    )


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS analyses (id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS partials (id TEXT, agent TEXT, doc TEXT NOT NULL,"
    " PRIMARY KEY (id, agent))",
    "CREATE TABLE IF NOT EXISTS markers (id TEXT, marker TEXT, owner TEXT NOT NULL,"
    " PRIMARY KEY (id, marker))",
    "CREATE TABLE IF NOT EXISTS contents (hash TEXT PRIMARY KEY, id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS leases (id TEXT, marker TEXT, owner TEXT NOT NULL,"
    " expires_at REAL NOT NULL, PRIMARY KEY (id, marker))",
)


class SqliteAnalysisStore:
    """Analyses in a SQLite file (datetimes are stored as ISO strings); leases expire by
    ``clock`` (seconds since the epoch)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            with connection:
                for statement in _SCHEMA:
                    connection.execute(statement)
                yield connection
        finally:
            connection.close()

    def create(self, analysis_id: str, fields: Document) -> bool:
        doc = json.dumps(fields, default=_json_default)
        with self._db() as db:
            cursor = db.execute("INSERT OR IGNORE INTO analyses VALUES (?, ?)", (analysis_id, doc))
            return cursor.rowcount == 1

    def get(self, analysis_id: str) -> Document | None:
        with self._db() as db:
            row = db.execute("SELECT doc FROM analyses WHERE id = ?", (analysis_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def update(self, analysis_id: str, fields: Document) -> None:
        with self._db() as db:
            row = db.execute("SELECT doc FROM analyses WHERE id = ?", (analysis_id,)).fetchone()
            if row is None:
                raise KeyError(analysis_id)
            doc = {**json.loads(row[0]), **fields}
            db.execute(
                "UPDATE analyses SET doc = ? WHERE id = ?",
                (json.dumps(doc, default=_json_default), analysis_id),
            )

    def put_partial(self, analysis_id: str, agent: str, partial: Document) -> None:
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO partials VALUES (?, ?, ?)",
                (analysis_id, agent, json.dumps(partial, default=_json_default)),
            )

    def partials(self, analysis_id: str) -> dict[str, Document]:
        with self._db() as db:
            rows = db.execute(
                "SELECT agent, doc FROM partials WHERE id = ?", (analysis_id,)
            ).fetchall()
        return {agent: dict(json.loads(doc)) for agent, doc in rows}

    def claim(self, analysis_id: str, marker: str, owner: str) -> str:
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO markers VALUES (?, ?, ?)", (analysis_id, marker, owner)
            )
        return self.marker(analysis_id, marker) or owner

    def lease(self, analysis_id: str, marker: str, owner: str, seconds: float) -> str:
        now = self.clock()
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO leases VALUES (?, ?, ?, ?)",
                (analysis_id, marker, owner, now + seconds),
            )
            db.execute(
                "UPDATE leases SET owner = ?, expires_at = ?"
                " WHERE id = ? AND marker = ? AND (owner = ? OR expires_at <= ?)",
                (owner, now + seconds, analysis_id, marker, owner, now),
            )
            row = db.execute(
                "SELECT owner FROM leases WHERE id = ? AND marker = ?", (analysis_id, marker)
            ).fetchone()
        return str(row[0])

    def marker(self, analysis_id: str, marker: str) -> str | None:
        with self._db() as db:
            row = db.execute(
                "SELECT owner FROM markers WHERE id = ? AND marker = ?", (analysis_id, marker)
            ).fetchone()
        return None if row is None else str(row[0])

    def claim_content(self, content_hash: str, analysis_id: str) -> str:
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO contents VALUES (?, ?)", (content_hash, analysis_id))
            row = db.execute("SELECT id FROM contents WHERE hash = ?", (content_hash,)).fetchone()
        return str(row[0])


_HISTORY_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS stage_rows (id TEXT PRIMARY KEY, analysis_id TEXT NOT NULL,"
    " doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS finding_rows (id TEXT PRIMARY KEY, analysis_id TEXT NOT NULL,"
    " doc TEXT NOT NULL)",
)
_HISTORY_TABLES = {resources.TABLE_STAGES: "stage_rows", resources.TABLE_FINDINGS: "finding_rows"}


class SqliteAnalysisHistory(SqliteHistoryStore):
    """History in a SQLite file: the runtime model's rows as :class:`SqliteHistoryStore`
    keeps them, and each analysis' stage and finding rows as JSON by their dedupe key."""

    def record(self, records: AnalysisRecords) -> None:
        if records.application is not None:
            self.append([history_row(records.application)])
        with self._connect() as db:
            for statement in _HISTORY_SCHEMA:
                db.execute(statement)
            for table, sqlite_table in _HISTORY_TABLES.items():
                db.executemany(
                    f"INSERT OR IGNORE INTO {sqlite_table} VALUES (?, ?, ?)",
                    [
                        (row.insert_id(), row.analysis_id, row.model_dump_json())
                        for row in records.by_table()[table]
                    ],
                )

    def recorded(self, table: str, analysis_id: str) -> list[Document]:
        """The rows of one analysis in the stages or findings table."""
        with self._connect() as db:
            for statement in _HISTORY_SCHEMA:
                db.execute(statement)
            found = db.execute(
                f"SELECT doc FROM {_HISTORY_TABLES[table]} WHERE analysis_id = ? ORDER BY id",
                (analysis_id,),
            ).fetchall()
        return [dict(json.loads(doc)) for (doc,) in found]


class LocalKeyStore:
    """API keys in a local JSON file of SHA-256 hashes (``{"keys": {"<id>": "<hash>"}}``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def key_id(self, presented: str) -> str | None:
        return key_id_of(parse_key_file(self.path.read_text()), presented)


def embedded_pipeline(root: Path, settings: Settings) -> tuple[Pipeline, InProcessBus]:
    """The whole topology in this process, kept under ``root``: every agent subscribed to
    the parsed topic, recommend to the dispatch topic. Drive it with ``bus.run()``."""
    bus = InProcessBus()
    pipeline = Pipeline(
        blobs=LocalBlobStore(root / "buckets"),
        bus=bus,
        store=SqliteAnalysisStore(root / "analyses.sqlite"),
        history=SqliteAnalysisHistory(root / "history.sqlite"),
        settings=settings,
    )
    for agent in resources.AGENTS:
        bus.subscribe(
            pipeline.topic(resources.TOPIC_PARSED),
            resources.agent_subscription(agent),
            partial(analyze_message, pipeline, agent),
        )

    def dispatch(data: bytes, attributes: Mapping[str, str]) -> None:
        analysis_id = analysis_id_from_message(data, attributes)
        if analysis_id is not None:
            recommend(pipeline, analysis_id)

    bus.subscribe(
        pipeline.topic(resources.TOPIC_DISPATCH), resources.SUBSCRIPTION_DISPATCH, dispatch
    )
    return pipeline, bus
