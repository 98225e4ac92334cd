"""The Google Cloud adapters: Cloud Storage, Pub/Sub, Firestore, BigQuery, Secret Manager.

Their client libraries are the optional ``gcp`` extra, imported on first use; the clients
are typed ``Any`` here so the core type-checks without them. Pointed at the emulators by
the usual ``*_EMULATOR_HOST`` variables (``BIGQUERY_EMULATOR_HOST`` is a full URL), where
they authenticate anonymously.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import cache
from types import ModuleType
from typing import Any, BinaryIO, cast

from .. import resources
from ..config import ReaderSettings, Settings, load_settings
from ..errors import BadInputError, UsageError
from ..history_schema import HISTORY_TABLES, ApplicationRow, HistoryKeys
from ..model import Application
from ..prediction.history import HistoryRow
from .api import Api
from .embedded import LocalKeyStore
from .history import AnalysisRecords, history_row
from .keys import gcra, key_id_of, parse_key_file
from .logs import configure_logging
from .ports import Document, KeyStore, StoredObject
from .reading import read_uri
from .steps import Pipeline

_EXTRA = "pip install 'spark-copilot[gcp]'"


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise UsageError(f"Google Cloud needs the gcp extra ({_EXTRA}): {exc}") from exc


def _anonymous_on(variable: str) -> Any:
    """Anonymous credentials when an emulator stands in (there is no ADC offline)."""
    if not os.environ.get(variable):
        return None
    return _module("google.auth.credentials").AnonymousCredentials()


class GcsBlobStore:
    """Cloud Storage; objects are read as streams (``blob.open('rb')``)."""

    def __init__(self, client: Any = None, project: str | None = None) -> None:
        storage = _module("google.cloud.storage")
        no_credentials = _module("google.auth.exceptions").DefaultCredentialsError
        try:
            self.client = client or storage.Client(
                project=project, credentials=_anonymous_on("STORAGE_EMULATOR_HOST")
            )
        except no_credentials as exc:
            raise UsageError(f"Cloud Storage: no credentials ({exc})".splitlines()[0]) from exc

    def _blob(self, bucket: str, name: str) -> Any:
        return self.client.bucket(bucket).blob(name)

    def open(self, bucket: str, name: str) -> AbstractContextManager[BinaryIO]:
        return cast(AbstractContextManager[BinaryIO], self._blob(bucket, name).open("rb"))

    def read(self, bucket: str, name: str) -> bytes:
        return bytes(self._blob(bucket, name).download_as_bytes())

    def write(self, bucket: str, name: str, data: bytes) -> None:
        self._blob(bucket, name).upload_from_string(data)

    def stat(self, bucket: str, name: str) -> StoredObject | None:
        blob = self.client.bucket(bucket).get_blob(name)
        return None if blob is None else _stored(bucket, blob)

    def list(self, bucket: str, prefix: str) -> list[StoredObject]:
        return [_stored(bucket, b) for b in self.client.list_blobs(bucket, prefix=prefix)]


def _stored(bucket: str, blob: Any) -> StoredObject:
    return StoredObject(bucket, blob.name, str(blob.generation), int(blob.size or 0), blob.md5_hash)


def read_gs(uri: str, settings: ReaderSettings) -> Application:
    """A ``gs://`` log (object or rolling folder), streamed; Cloud Storage's refusals
    (no such bucket, no permission) become one-line bad-input errors."""
    api_error = _module("google.api_core.exceptions").GoogleAPICallError
    try:
        return read_uri(GcsBlobStore(), uri, settings)
    except api_error as exc:
        raise BadInputError(uri, str(exc.message or exc).splitlines()[0]) from exc


class PubSubBus:
    def __init__(self, project: str, client: Any = None) -> None:
        pubsub = _module("google.cloud.pubsub_v1")
        self.project = project
        self.client = client or pubsub.PublisherClient()

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> None:
        path = self.client.topic_path(self.project, topic)
        self.client.publish(path, data, **attributes).result(timeout=60)


def firestore_client(project: str) -> Any:
    return _module("google.cloud.firestore").Client(
        project=project, credentials=_anonymous_on("FIRESTORE_EMULATOR_HOST")
    )


def _conflict_errors() -> tuple[type[Exception], ...]:
    """What a write whose precondition (create-if-absent, unchanged since read) no longer
    holds raises: another writer came first."""
    exceptions = _module("google.api_core.exceptions")
    return (exceptions.AlreadyExists, exceptions.FailedPrecondition, exceptions.Aborted)


def _compare_and_set(client: Any, ref: Any, snapshot: Any, fields: Document) -> bool:
    """Write ``fields`` to the document ``snapshot`` was read from, if nobody wrote it
    since (created if it was absent); False when another writer came first."""
    try:
        if snapshot.exists:
            unchanged = client.write_option(last_update_time=snapshot.update_time)
            ref.update(fields, option=unchanged)
        else:
            ref.create(fields)
    except _conflict_errors():
        return False
    return True


class FirestoreAnalysisStore:
    """``analyses/{id}`` with ``partials/{agent}`` and ``markers/{name}`` under it, and
    ``contents/{hash}``. Partials are kept as one JSON string field: Firestore refuses
    arrays of arrays, and nobody queries inside a partial."""

    def __init__(self, project: str, client: Any = None) -> None:
        self.client = client or firestore_client(project)
        self._exists = _module("google.api_core.exceptions").AlreadyExists

    def _doc(self, analysis_id: str) -> Any:
        return self.client.collection(resources.COLLECTION_ANALYSES).document(analysis_id)

    def _create(self, ref: Any, fields: Document) -> bool:
        try:
            ref.create(fields)
        except self._exists:
            return False
        return True

    def create(self, analysis_id: str, fields: Document) -> bool:
        return self._create(self._doc(analysis_id), fields)

    def get(self, analysis_id: str) -> Document | None:
        snapshot = self._doc(analysis_id).get()
        return cast(Document, snapshot.to_dict()) if snapshot.exists else None

    def update(self, analysis_id: str, fields: Document) -> None:
        self._doc(analysis_id).set(fields, merge=True)

    def put_partial(self, analysis_id: str, agent: str, partial: Document) -> None:
        ref = self._doc(analysis_id).collection(resources.SUBCOLLECTION_PARTIALS).document(agent)
        ref.set({"agent": agent, "json": json.dumps(partial)})

    def partials(self, analysis_id: str) -> dict[str, Document]:
        partials = self._doc(analysis_id).collection(resources.SUBCOLLECTION_PARTIALS)
        found = (s.to_dict() for s in partials.stream())
        return {doc["agent"]: json.loads(doc["json"]) for doc in found}

    def _marker_ref(self, analysis_id: str, marker: str) -> Any:
        markers = self._doc(analysis_id).collection(resources.SUBCOLLECTION_MARKERS)
        return markers.document(marker.replace("/", "_"))

    def marker(self, analysis_id: str, marker: str) -> str | None:
        snapshot = self._marker_ref(analysis_id, marker).get()
        return str(snapshot.to_dict()["owner"]) if snapshot.exists else None

    def lease(self, analysis_id: str, marker: str, owner: str, seconds: float) -> str:
        # Expiry by each instance's wall clock: they agree far closer than a lease is long.
        ref = self._marker_ref(analysis_id, marker)
        now = time.time()
        held = {"owner": owner, "expires_at": now + seconds}
        if self._create(ref, held):
            return owner
        snapshot = ref.get()
        found = snapshot.to_dict()
        if found["owner"] != owner and found["expires_at"] > now:
            return str(found["owner"])
        if _compare_and_set(self.client, ref, snapshot, held):
            return owner
        return self.marker(analysis_id, marker) or owner  # another taker came first

    def claim(self, analysis_id: str, marker: str, owner: str) -> str:
        if self._create(self._marker_ref(analysis_id, marker), {"owner": owner}):
            return owner
        return self.marker(analysis_id, marker) or owner

    def claim_content(self, content_hash: str, analysis_id: str) -> str:
        ref = self.client.collection(resources.COLLECTION_CONTENT).document(content_hash)
        if self._create(ref, {"analysis_id": analysis_id}):
            return analysis_id
        return str(ref.get().to_dict()["analysis_id"])


def bigquery_client(project: str) -> Any:
    bigquery = _module("google.cloud.bigquery")
    endpoint = os.environ.get("BIGQUERY_EMULATOR_HOST")
    if not endpoint:
        return bigquery.Client(project=project)
    options = _module("google.api_core.client_options").ClientOptions(api_endpoint=endpoint)
    return bigquery.Client(
        project=project,
        credentials=_anonymous_on("BIGQUERY_EMULATOR_HOST"),
        client_options=options,
    )


def create_history_tables(client: Any, dataset: str = resources.DATASET_HISTORY) -> None:
    """The dataset and its tables, when absent (Pulumi does this in the cloud; the
    emulator and tests need it too)."""
    bigquery = _module("google.cloud.bigquery")
    client.create_dataset(dataset, exists_ok=True)
    for table in HISTORY_TABLES.values():
        schema = [
            bigquery.SchemaField(c.name, c.type, mode=c.mode, description=c.description or None)
            for c in table.columns
        ]
        client.create_table(
            bigquery.Table(f"{client.project}.{dataset}.{table.name}", schema), exists_ok=True
        )


def _json_columns(table: str) -> frozenset[str]:
    return frozenset(c.name for c in HISTORY_TABLES[table].columns if c.type == "JSON")


class BigQueryHistoryStore:
    """History in BigQuery's tables. Streaming inserts append (they cannot replace): each
    row carries its dedupe key as ``insertId`` (BigQuery drops a retried insert's copies,
    best effort) and the pipeline appends an analysis once (steps.py); reading the
    applications keeps the newest row of each app id, as the port promises."""

    def __init__(self, client: Any, dataset: str = resources.DATASET_HISTORY) -> None:
        self.client = client
        self.dataset = f"{client.project}.{dataset}"

    def record(self, records: AnalysisRecords) -> None:
        for table, rows in records.by_table().items():
            self._insert(table, rows)

    def _insert(self, table: str, rows: Sequence[HistoryKeys]) -> None:
        if not rows:
            return
        as_json = _json_columns(table)
        payload = [
            {k: json.dumps(v) if k in as_json else v for k, v in r.model_dump(mode="json").items()}
            for r in rows
        ]
        where = f"{self.dataset}.{table}"
        errors = self.client.insert_rows_json(where, payload, row_ids=[r.insert_id() for r in rows])
        if errors:
            raise RuntimeError(f"{where}: rows refused: {errors}")

    def recorded(self, table: str, analysis_id: str) -> list[Document]:
        """The rows of one analysis in one table (as the client reads them)."""
        return self._query(table, analysis_id)

    def _query(self, table: str, analysis_id: str | None = None) -> list[Document]:
        # A query rather than list_rows: bqemulator leaves a list_rows read open on its
        # DuckDB connection, and every later insert then fails.
        bigquery = _module("google.cloud.bigquery")
        sql = f"SELECT * FROM `{self.dataset}.{table}`"
        params = []
        if analysis_id is not None:
            sql += " WHERE analysis_id = @analysis_id"
            params.append(bigquery.ScalarQueryParameter("analysis_id", "STRING", analysis_id))
        config = bigquery.QueryJobConfig(query_parameters=params)
        as_json = _json_columns(table)
        return [
            {k: json.loads(v) if k in as_json and isinstance(v, str) else v for k, v in row.items()}
            for row in self.client.query(sql, job_config=config).result()
        ]

    def rows(self, features_version: str | None = None) -> list[HistoryRow]:
        found = [
            ApplicationRow.model_validate(r)
            for r in self._query(resources.TABLE_APPLICATIONS)
            if features_version is None or r["features_version"] == features_version
        ]
        latest = {(r.app_id, r.features_version): r for r in sorted(found, key=_recorded)}
        runs = [history_row(r) for r in latest.values()]
        return sorted(runs, key=lambda row: (row.started_ms, row.app_id))


def _recorded(row: ApplicationRow) -> tuple[object, str]:
    return (row.recorded_at, row.analysis_id)


class SecretManagerKeyStore:
    """API-key hashes in a Secret Manager secret (the local key file's JSON): its latest
    version, read again once the copy kept is ``ttl_s`` old, so a rotated key takes
    effect within that time without a read per request."""

    def __init__(
        self,
        project: str,
        secret: str = resources.SECRET_API_KEYS,
        *,
        client: Any = None,
        ttl_s: float = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client or _module("google.cloud.secretmanager").SecretManagerServiceClient()
        self.name = f"projects/{project}/secrets/{secret}/versions/latest"
        self.ttl_s, self.clock = ttl_s, clock
        self._kept: tuple[float, dict[str, str]] | None = None
        self._lock = threading.Lock()

    def _hashes(self) -> dict[str, str]:
        with self._lock:
            now = self.clock()
            if self._kept is None or now - self._kept[0] >= self.ttl_s:
                response = self.client.access_secret_version(name=self.name)
                self._kept = (now, parse_key_file(response.payload.data.decode()))
            return self._kept[1]

    def key_id(self, presented: str) -> str | None:
        return key_id_of(self._hashes(), presented)


class FirestoreRateLimiter:
    """Each key's token bucket shared by every API instance, as GCRA: one document a key
    holding its theoretical arrival time, moved on by compare-and-set (created if absent,
    else updated only if unchanged since read) and retried when another instance wrote
    first. No transaction: the emulator stalls on contended ones."""

    def __init__(
        self,
        project: str,
        rate: float,
        burst: float,
        *,
        client: Any = None,
        clock: Callable[[], float] = time.time,
        attempts: int = 50,
    ) -> None:
        self.client = client or firestore_client(project)
        self.rate, self.burst, self.clock, self.attempts = rate, burst, clock, attempts

    def take(self, key_id: str) -> float:
        ref = self.client.collection(resources.COLLECTION_RATE_LIMITS).document(key_id)
        for _ in range(self.attempts):
            snapshot = ref.get()
            held = snapshot.to_dict()["tat"] if snapshot.exists else None
            tat, wait = gcra(held, self.clock(), self.rate, self.burst)
            if wait > 0:
                return wait
            if _compare_and_set(self.client, ref, snapshot, {"tat": tat}):
                return 0.0
        raise RuntimeError(f"rate limit of {key_id}: {self.attempts} conflicting writers in a row")


def gcp_pipeline(settings: Settings) -> Pipeline:
    project, prefix = settings.pipeline.project, settings.pipeline.prefix
    return Pipeline(
        blobs=GcsBlobStore(project=project),
        bus=PubSubBus(project),
        store=FirestoreAnalysisStore(project),
        history=BigQueryHistoryStore(bigquery_client(project), resources.history_dataset(prefix)),
        settings=settings,
    )


@cache
def deployed_pipeline() -> Pipeline:
    """The pipeline of a deployed function, from its environment (one per instance)."""
    configure_logging()
    return gcp_pipeline(load_settings())


@cache
def deployed_api() -> Api:
    """The HTTPS API of a deployed function: keys from the configured file, else from
    Secret Manager; rate buckets in Firestore, shared by every instance."""
    pipeline = deployed_pipeline()
    config = pipeline.settings.pipeline
    keys: KeyStore = (
        LocalKeyStore(config.api_keys_file)
        if config.api_keys_file is not None
        else SecretManagerKeyStore(
            config.project, resources.qualified(resources.SECRET_API_KEYS, config.prefix)
        )
    )
    limiter = FirestoreRateLimiter(config.project, config.api_rate_per_s, config.api_burst)
    return Api(pipeline, keys, limiter)
