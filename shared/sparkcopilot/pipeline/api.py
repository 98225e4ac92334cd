"""The HTTPS API (DESIGN.md §6), independent of the web framework that carries it:
``POST /analyses`` (a log as the body, or a ``gs://`` URI) answers the analysis;
``GET /analyses/{id}`` the stored one; ``GET /openapi.json`` describes them.

Every call but the description needs an API key (``X-API-Key``, or ``Authorization:
Bearer``), checked against stored hashes in constant time; each key has its own token
bucket (429 with ``Retry-After``), and bodies over the limit are refused (413) before they
are read.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..analysis import analyze
from ..analysis.report import analysis_report
from ..errors import SparkCopilotError
from ..eventlog import read_application
from .keys import TokenBuckets, retry_after_header
from .ports import KeyStore
from .reading import read_uri
from .steps import Pipeline

_ANALYSES = "/analyses"

OPENAPI: Mapping[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Spark Copilot", "version": "1"},
    "components": {
        "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
            "Analysis": {
                "type": "object",
                "description": "spark-copilot/analysis/v1 (DESIGN.md §4) and its id",
                "properties": {
                    "analysis_id": {"type": "string"},
                    "schema": {"type": "string"},
                    "app": {"type": "object"},
                    "findings": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
    "security": [{"apiKey": []}],
    "paths": {
        _ANALYSES: {
            "post": {
                "summary": "Analyze a log sent as the body, or named by a gs:// URI",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"uri": {"type": "string", "example": "gs://b/o"}},
                            }
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": "the analysis",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Analysis"}
                            }
                        },
                    },
                    "400": {"description": "not a readable Spark event log"},
                    "401": {"description": "missing or unknown API key"},
                    "413": {"description": "body over the size limit"},
                    "429": {"description": "over the key's rate; see Retry-After"},
                },
            }
        },
        _ANALYSES + "/{id}": {
            "get": {
                "summary": "A stored analysis (status, findings when done, error when failed)",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "the analysis document"},
                    "401": {"description": "missing or unknown API key"},
                    "404": {"description": "no such analysis"},
                    "429": {"description": "over the key's rate; see Retry-After"},
                },
            }
        },
    },
}


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> str:
        return json.dumps(self.body, default=str)


def _error(status: int, message: str, **headers: str) -> Response:
    return Response(status, {"error": message}, headers)


@dataclass
class Api:
    pipeline: Pipeline
    keys: KeyStore
    buckets: TokenBuckets

    @classmethod
    def from_settings(cls, pipeline: Pipeline, keys: KeyStore) -> Api:
        config = pipeline.settings.pipeline
        return cls(pipeline, keys, TokenBuckets(config.api_rate_per_s, config.api_burst))

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        read_body: Callable[[int], bytes],
    ) -> Response:
        """One request; ``headers`` with lower-case names; ``read_body(n)`` reads at most n
        bytes of the body."""
        path = "/" + path.strip("/")
        if method == "GET" and path == "/openapi.json":
            return Response(200, OPENAPI)
        presented = headers.get("x-api-key") or headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        key_id = self.keys.key_id(presented) if presented else None
        if key_id is None:
            return _error(401, "missing or unknown API key")
        wait = self.buckets.take(key_id)
        if wait > 0:
            return _error(429, "too many requests", **{"Retry-After": retry_after_header(wait)})
        if method == "POST" and path == _ANALYSES:
            return self._post(headers, read_body)
        if method == "GET" and path.startswith(_ANALYSES + "/"):
            return self._get(path.removeprefix(_ANALYSES + "/"))
        return _error(404, f"no route {method} {path}")

    def _get(self, analysis_id: str) -> Response:
        doc = self.pipeline.store.get(analysis_id)
        if doc is None:
            return _error(404, f"no analysis {analysis_id}")
        return Response(200, {"analysis_id": analysis_id, **doc})

    def _post(self, headers: Mapping[str, str], read_body: Callable[[int], bytes]) -> Response:
        limit = self.pipeline.settings.pipeline.api_max_body_bytes
        declared = headers.get("content-length")
        too_big = _error(413, f"body over {limit} bytes: upload the log to the bucket instead")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return too_big
        body = read_body(limit + 1)
        if len(body) > limit:
            return too_big
        uri = _uri_of(headers, body)
        settings = self.pipeline.settings
        try:
            if uri is not None:
                app = read_uri(self.pipeline.blobs, uri, settings.reader)
            else:
                app = read_application(io.BytesIO(body), settings.reader, name="<request body>")
        except SparkCopilotError as exc:
            return _error(400, str(exc))
        analysis = analyze(app, settings.analysis, knowledge=settings.knowledge)
        report = analysis_report(app, analysis)
        analysis_id = "api-" + hashlib.sha256(body).hexdigest()[:28]
        fields = {k: report[k] for k in ("app", "findings", "not_judged")}
        self.pipeline.store.create(
            analysis_id,
            {
                **fields,
                "status": "done",
                "object": uri or "<request body>",
                "app_id": app.app.id,
                "completed_at": datetime.now(UTC),
            },
        )
        return Response(200, {"analysis_id": analysis_id, **report})


def _uri_of(headers: Mapping[str, str], body: bytes) -> str | None:
    if headers.get("content-type", "").startswith("application/json"):
        try:
            uri = json.loads(body).get("uri")
        except (ValueError, AttributeError):
            return None
        return uri if isinstance(uri, str) else None
    text = body[:2048].strip()
    if text.startswith(b"gs://") and b"\n" not in text:
        return text.decode()
    return None
