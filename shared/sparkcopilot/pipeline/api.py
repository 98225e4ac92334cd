"""The HTTPS API (DESIGN.md §6), independent of the web framework that carries it:
``POST /analyses`` (a log as the body, or a ``gs://`` URI) answers the analysis;
``GET /analyses/{id}`` the stored one; ``POST /comparisons`` (two ``gs://`` logs) answers
why the new run differs from the baseline (DESIGN.md §8); ``GET /openapi.json`` describes
them.

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
from ..comparison import compare
from ..errors import SparkCopilotError
from ..eventlog import read_application
from .keys import retry_after_header
from .ports import KeyStore, RateLimiter
from .reading import read_uri
from .steps import Pipeline

_ANALYSES = "/analyses"
_COMPARISONS = "/comparisons"
_COMPARISON_BODY = 'JSON {"baseline": "gs://bucket/log", "new": "gs://bucket/log"}'
_ERRORS: Mapping[str, Any] = {
    "400": {"description": "not readable Spark event log(s), or a malformed request"},
    "401": {"description": "missing or unknown API key"},
    "413": {"description": "body over the size limit"},
    "429": {"description": "over the key's rate; see Retry-After"},
}

OPENAPI: Mapping[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Spark Copilot", "version": "1"},
    "components": {
        "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
            "ComparisonRequest": {
                "type": "object",
                "required": ["baseline", "new"],
                "properties": {
                    "baseline": {"type": "string", "example": "gs://logs/run-1.zstd"},
                    "new": {"type": "string", "example": "gs://logs/run-2.zstd"},
                },
            },
            "Comparison": {
                "type": "object",
                "description": "spark-copilot/comparison/v1 (DESIGN.md §8)",
                "properties": {
                    "schema": {"type": "string"},
                    "baseline": {"type": "object"},
                    "new": {"type": "object"},
                    "wall_ms_delta": {"type": "integer"},
                    "attribution": {"type": "array", "items": {"type": "object"}},
                    "config_diff": {"type": "object"},
                    "likely_cause": {"type": "string"},
                },
            },
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
                    **_ERRORS,
                },
            }
        },
        _COMPARISONS: {
            "post": {
                "summary": "Why the new run was slower or faster than the baseline, stage by stage",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ComparisonRequest"}
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "the comparison",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Comparison"}
                            }
                        },
                    },
                    **_ERRORS,
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
    limiter: RateLimiter

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
        wait = self.limiter.take(key_id)
        if wait > 0:
            return _error(429, "too many requests", **{"Retry-After": retry_after_header(wait)})
        return self._route(method, path, headers, read_body)

    def _route(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        read_body: Callable[[int], bytes],
    ) -> Response:
        if method == "POST" and path == _ANALYSES:
            return self._post(headers, read_body)
        if method == "POST" and path == _COMPARISONS:
            return self._compare(headers, read_body)
        if method == "GET" and path.startswith(_ANALYSES + "/"):
            return self._get(path.removeprefix(_ANALYSES + "/"))
        return _error(404, f"no route {method} {path}")

    def _get(self, analysis_id: str) -> Response:
        doc = self.pipeline.store.get(analysis_id)
        if doc is None:
            return _error(404, f"no analysis {analysis_id}")
        return Response(200, {"analysis_id": analysis_id, **doc})

    def _body(
        self, headers: Mapping[str, str], read_body: Callable[[int], bytes]
    ) -> bytes | Response:
        """The body, or the 413 answer when it is over the limit (refused unread when its
        declared length says so)."""
        limit = self.pipeline.settings.pipeline.api_max_body_bytes
        declared = headers.get("content-length")
        too_big = _error(413, f"body over {limit} bytes: upload the log to the bucket instead")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return too_big
        body = read_body(limit + 1)
        return too_big if len(body) > limit else body

    def _compare(self, headers: Mapping[str, str], read_body: Callable[[int], bytes]) -> Response:
        body = self._body(headers, read_body)
        if isinstance(body, Response):
            return body
        try:
            request = json.loads(body)
            uris = [request["baseline"], request["new"]]
        except (ValueError, TypeError, KeyError):
            return _error(400, f"the body must be {_COMPARISON_BODY}")
        if not all(isinstance(u, str) and u.startswith("gs://") for u in uris):
            return _error(400, f"the body must be {_COMPARISON_BODY}")
        reader = self.pipeline.settings.reader
        try:
            baseline, new = (read_uri(self.pipeline.blobs, u, reader) for u in uris)
        except SparkCopilotError as exc:
            return _error(400, str(exc))
        return Response(200, compare(baseline, new).to_json_dict())

    def _post(self, headers: Mapping[str, str], read_body: Callable[[int], bytes]) -> Response:
        body = self._body(headers, read_body)
        if isinstance(body, Response):
            return body
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
