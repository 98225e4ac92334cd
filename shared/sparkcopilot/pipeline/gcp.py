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
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from functools import cache
from types import ModuleType
from typing import Any, BinaryIO, cast

from .. import resources
from ..config import ReaderSettings, Settings, load_settings
from ..errors import BadInputError, UsageError
from ..model import Application
from ..prediction.history import HistoryRow
from .api import Api
from .embedded import LocalKeyStore
from .keys import key_id_of, parse_key_file
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


class FirestoreAnalysisStore:
    """``analyses/{id}`` with ``partials/{agent}`` and ``markers/{name}`` under it, and
    ``contents/{hash}``. Partials are kept as one JSON string field: Firestore refuses
    arrays of arrays, and nobody queries inside a partial."""

    def __init__(self, project: str, client: Any = None) -> None:
        firestore = _module("google.cloud.firestore")
        self._exists = _module("google.api_core.exceptions").AlreadyExists
        self.client = client or firestore.Client(
            project=project, credentials=_anonymous_on("FIRESTORE_EMULATOR_HOST")
        )

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

    def claim(self, analysis_id: str, marker: str, owner: str) -> str:
        if self._create(self._marker_ref(analysis_id, marker), {"owner": owner}):
            return owner
        return self.marker(analysis_id, marker) or owner

    def claim_content(self, content_hash: str, analysis_id: str) -> str:
        ref = self.client.collection(resources.COLLECTION_CONTENT).document(content_hash)
        if self._create(ref, {"analysis_id": analysis_id}):
            return analysis_id
        return str(ref.get().to_dict()["analysis_id"])


#: The applications table: one row per analysed run, the runtime model's training data.
APPLICATIONS_SCHEMA: Sequence[tuple[str, str, str]] = (
    ("app_id", "STRING", "REQUIRED"),
    ("features_version", "STRING", "REQUIRED"),
    ("app_name", "STRING", "NULLABLE"),
    ("started_ms", "INT64", "NULLABLE"),
    ("wall_ms", "INT64", "REQUIRED"),
    ("features", "STRING", "REQUIRED"),
)


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
    """The dataset and the applications table, when absent (Pulumi does this in the cloud;
    the emulator and tests need it too)."""
    bigquery = _module("google.cloud.bigquery")
    client.create_dataset(dataset, exists_ok=True)
    schema = [bigquery.SchemaField(n, t, mode=m) for n, t, m in APPLICATIONS_SCHEMA]
    table = bigquery.Table(f"{client.project}.{dataset}.{resources.TABLE_APPLICATIONS}", schema)
    client.create_table(table, exists_ok=True)


class BigQueryHistoryStore:
    """History in BigQuery's applications table. Rows are appended (streaming inserts
    cannot replace); reading keeps the newest row of each app id, as the port promises."""

    def __init__(self, client: Any, dataset: str = resources.DATASET_HISTORY) -> None:
        self.client = client
        self.table = f"{client.project}.{dataset}.{resources.TABLE_APPLICATIONS}"

    def append(self, rows: Sequence[HistoryRow]) -> None:
        if not rows:
            return
        payload = [
            {
                "app_id": r.app_id,
                "features_version": r.features_version,
                "app_name": r.app_name,
                "started_ms": r.started_ms,
                "wall_ms": r.wall_ms,
                "features": json.dumps(dict(r.features), sort_keys=True),
            }
            for r in rows
        ]
        errors = self.client.insert_rows_json(self.table, payload)
        if errors:
            raise RuntimeError(f"{self.table}: rows refused: {errors}")

    def rows(self, features_version: str | None = None) -> list[HistoryRow]:
        # A query rather than list_rows: bqemulator leaves a list_rows read open on its
        # DuckDB connection, and every later insert then fails.
        found = self.client.query(f"SELECT * FROM `{self.table}`").result()
        latest: dict[tuple[str, str], HistoryRow] = {}
        for r in found:
            if features_version is not None and r["features_version"] != features_version:
                continue
            latest[(r["app_id"], r["features_version"])] = HistoryRow(
                app_id=r["app_id"],
                app_name=r["app_name"] or "",
                started_ms=int(r["started_ms"] or 0),
                features_version=r["features_version"],
                features=json.loads(r["features"]),
                wall_ms=int(r["wall_ms"]),
            )
        return sorted(latest.values(), key=lambda row: (row.started_ms, row.app_id))


class SecretManagerKeyStore:
    """API-key hashes in a Secret Manager secret (the local key file's JSON), read once."""

    def __init__(self, project: str, secret: str = resources.SECRET_API_KEYS) -> None:
        client = _module("google.cloud.secretmanager").SecretManagerServiceClient()
        name = f"projects/{project}/secrets/{secret}/versions/latest"
        payload = client.access_secret_version(name=name).payload.data.decode()
        self._hashes = parse_key_file(payload)

    def key_id(self, presented: str) -> str | None:
        return key_id_of(self._hashes, presented)


def gcp_pipeline(settings: Settings) -> Pipeline:
    project = settings.pipeline.project
    return Pipeline(
        blobs=GcsBlobStore(project=project),
        bus=PubSubBus(project),
        store=FirestoreAnalysisStore(project),
        history=BigQueryHistoryStore(bigquery_client(project)),
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
    Secret Manager; one set of rate buckets per instance."""
    pipeline = deployed_pipeline()
    config = pipeline.settings.pipeline
    keys: KeyStore = (
        LocalKeyStore(config.api_keys_file)
        if config.api_keys_file is not None
        else SecretManagerKeyStore(config.project)
    )
    return Api.from_settings(pipeline, keys)
