"""The Secret Manager key store at the request level: the real client (REST transport,
anonymous credentials) against a local HTTP server that answers accessSecretVersion as
Secret Manager does (it has no emulator)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sparkcopilot import resources
from sparkcopilot.pipeline.keys import hash_key, key_file

secretmanager = pytest.importorskip(
    "google.cloud.secretmanager", reason="the gcp extra is not installed"
)
from google.api_core.client_options import ClientOptions  # noqa: E402
from google.auth.credentials import AnonymousCredentials  # noqa: E402

from sparkcopilot.pipeline.gcp import SecretManagerKeyStore  # noqa: E402

PROJECT = "p"


class SecretServer(ThreadingHTTPServer):
    """Answers the latest version of one secret; counts the reads."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.payload = b""
        self.paths: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: SecretServer

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        name = f"projects/{PROJECT}/secrets/{resources.SECRET_API_KEYS}/versions/latest"
        if self.path.split("?")[0] != f"/v1/{name}:access":
            self.send_error(404)
            return
        body = json.dumps(
            {
                "name": f"projects/{PROJECT}/secrets/{resources.SECRET_API_KEYS}/versions/3",
                "payload": {"data": base64.b64encode(self.server.payload).decode()},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[SecretServer]:
    found = SecretServer()
    thread = threading.Thread(target=found.serve_forever, daemon=True)
    thread.start()
    yield found
    found.shutdown()
    found.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_keys_are_read_from_the_latest_version_and_kept_for_the_ttl(
    server: SecretServer,
) -> None:
    server.payload = key_file({"ci": hash_key("sc_one")}).encode()
    client = secretmanager.SecretManagerServiceClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options=ClientOptions(api_endpoint=f"http://127.0.0.1:{server.server_port}"),
    )
    clock = Clock()
    keys = SecretManagerKeyStore(PROJECT, client=client, ttl_s=60, clock=clock)
    assert keys.key_id("sc_one") == "ci"
    assert keys.key_id("sc_two") is None
    assert len(server.paths) == 1  # kept: one read for both requests
    server.payload = key_file({"ci": hash_key("sc_two")}).encode()  # the key rotated
    clock.now += 59
    assert keys.key_id("sc_two") is None
    clock.now += 1
    assert keys.key_id("sc_two") == "ci" and keys.key_id("sc_one") is None
    assert len(server.paths) == 2
