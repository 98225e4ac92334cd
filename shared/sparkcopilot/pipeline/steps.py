"""The pipeline's steps over its ports (DESIGN.md §6): ingest a finalized log, run one
agent, recommend. Each step is idempotent, because Pub/Sub delivers at least once:

- ingest: the analysis id derives from ``bucket/object#generation`` and is created only
  if absent; an identical log (same content hash) reuses a finished analysis.
- analyze: an agent whose partial is stored does not run again; an agent whose needs are
  not all in waits, and the agent whose partial completes them triggers it (a message on
  the parsed topic naming it). Partials are counted after the agent's own write, so the
  last of concurrent writers always sees the whole set; a create-if-absent marker makes
  one of them dispatch recommend. No transaction anywhere.
- recommend: skipped once the analysis is done.

Every message (and the history append) is an effect done once, however many deliveries
race: a delivery first leases the ``sending:<effect>`` marker with its own token; the one
holding it acts and then creates ``sent:<effect>``. A delivery that finds another's
unexpired lease raises (Pub/Sub delivers it again later, when ``sent`` is there or the
lease has run out); one that finds an expired lease without ``sent`` (its holder crashed
between the lease and the mark) takes the lease over (compare-and-set: one taker wins) and
acts. The lease outlasts any publish, so a slow holder is not taken over while it acts;
what remains is a holder crashing after acting and before marking, which repeats the
effect once (the append then adds nothing: its rows carry dedupe keys).

The analysis document is written before the message that announces it, so a subscriber
of the results topic that reads the document finds it done (or failed); a delivery that
finds the analysis finished sends whatever announcement is still missing.
Bad input is poison: the analysis is marked failed with its reason and the message goes
to the dead-letter topic; anything else raises, so the message is delivered again.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .. import resources
from ..analysis import merge
from ..analysis.agents import AGENTS, Agent, run_agent
from ..analysis.findings import SEVERITY_RANK, AgentName
from ..analysis.report import analysis_report
from ..config import Settings
from ..errors import BadInputError
from ..model import Application
from ..model_codec import decode_application, encode_application
from .history import analysis_records
from .logs import LOGGER
from .partials import result_document, result_from_document
from .ports import AnalysisHistory, AnalysisStore, BlobStore, Document, MessageBus, StoredObject
from .reading import read_stored

AGENT_BY_NAME: Mapping[AgentName, Agent] = {a.name: a for a in AGENTS}
_ROLLING_MARKER = "appstatus_"
_ROLLING_PART = "events_"
_DISPATCH = "dispatch"


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The ports and settings every step runs with."""

    blobs: BlobStore
    bus: MessageBus
    store: AnalysisStore
    history: AnalysisHistory
    settings: Settings

    def topic(self, name: str) -> str:
        return resources.qualified(name, self.settings.pipeline.prefix)


def analysis_id_of(obj: StoredObject) -> str:
    """The analysis of one generation of one object: a redelivered event maps to it again."""
    key = f"{obj.bucket}/{obj.name}#{obj.generation}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def artifact_name(analysis_id: str) -> str:
    return f"{resources.PREFIX_PARSED}{analysis_id}.scapp"


def _now() -> datetime:
    return datetime.now(UTC)


def _message(analysis_id: str, **attributes: str) -> tuple[bytes, dict[str, str]]:
    return json.dumps({"analysis_id": analysis_id}).encode(), {
        "analysis_id": analysis_id,
        **attributes,
    }


def analysis_id_from_message(data: bytes, attributes: Mapping[str, str]) -> str | None:
    """The analysis a parsed or dispatch message is about (None for a foreign message)."""
    if "analysis_id" in attributes:
        return attributes["analysis_id"]
    try:
        found = json.loads(data).get("analysis_id")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


class EffectInProgressError(RuntimeError):
    """Another delivery holds the lease on this effect: deliver this one again later."""


def _once(p: Pipeline, analysis_id: str, effect: str, act: Callable[[], None]) -> None:
    """``act`` once for the analysis, however many deliveries race (module docstring)."""
    sent = f"sent:{effect}"
    if p.store.marker(analysis_id, sent) is not None:
        return
    token = uuid.uuid4().hex
    lease_s = p.settings.pipeline.claim_lease_s
    if p.store.lease(analysis_id, f"sending:{effect}", token, lease_s) != token:
        raise EffectInProgressError(f"analysis {analysis_id}: another delivery is sending {effect}")
    if p.store.marker(analysis_id, sent) is not None:  # marked by the lease's last holder
        return
    act()
    p.store.claim(analysis_id, sent, token)


def _publish_once(
    p: Pipeline, analysis_id: str, topic: str, data: bytes, attributes: Mapping[str, str]
) -> None:
    _once(p, analysis_id, topic, lambda: p.bus.publish(p.topic(topic), data, attributes))


# -- ingest ---------------------------------------------------------------------------


def log_parts(p: Pipeline, obj: StoredObject) -> tuple[str, list[StoredObject]] | None:
    """The log a finalized object completes, as (display name, its objects), or None when
    the object is no log or not the last of one (a rolling log's parts wait for the
    ``appstatus_`` marker that Spark writes, renamed from ``.inprogress``, at the end)."""
    config = p.settings.pipeline
    name = obj.name
    base = posixpath.basename(name)
    if not name.startswith(config.log_prefix) or name.startswith(resources.PREFIX_PARSED):
        return None
    if not base or any(name.endswith(s) for s in config.skip_suffixes):
        return None
    folder = posixpath.dirname(name)
    if base.startswith(_ROLLING_MARKER):
        listed = p.blobs.list(obj.bucket, folder + "/" if folder else "")
        parts = [o for o in listed if posixpath.dirname(o.name) == folder]
        return f"gs://{obj.bucket}/{folder}", parts
    if base.startswith(_ROLLING_PART) and posixpath.basename(folder).startswith("eventlog_v2_"):
        return None
    return f"gs://{obj.bucket}/{name}", [obj]


def _content_hash(parts: Sequence[StoredObject]) -> str | None:
    if any(o.md5 is None for o in parts):
        return None
    joined = "\n".join(f"{posixpath.basename(o.name)}:{o.md5}" for o in parts)
    if len(parts) == 1:
        joined = parts[0].md5 or ""
    return hashlib.sha256(joined.encode()).hexdigest()


def ingest(p: Pipeline, obj: StoredObject) -> str | None:
    """Parse the log a finalized object completes and fan it out to the agents; returns
    the analysis id (None when the object is not a log to analyze)."""
    found = log_parts(p, obj)
    if found is None:
        LOGGER.info("not a finished log: ignored", extra={"object": obj.name})
        return None
    display, parts = found
    analysis_id = analysis_id_of(obj)
    log = {"analysis_id": analysis_id, "object": obj.name}
    fields = {"status": "parsing", "object": obj.name, "bucket": obj.bucket, "created_at": _now()}
    if not p.store.create(analysis_id, fields):
        doc = p.store.get(analysis_id) or {}
        if doc.get("status") != "parsing":  # parsed already: at most a message is to send
            if doc.get("status") == "analyzing":
                _publish_once(p, analysis_id, resources.TOPIC_PARSED, *_message(analysis_id))
            else:
                _announce(p, analysis_id, doc)
            LOGGER.info("event delivered again: nothing more to do", extra=log)
            return analysis_id
    content = _content_hash(parts)
    if content is not None and _reuse(p, analysis_id, content):
        return analysis_id
    try:
        app = read_stored(p.blobs, display, parts, p.settings.reader)
    except BadInputError as exc:
        fail(p, analysis_id, str(exc))
        return analysis_id
    p.blobs.write(
        p.settings.pipeline.artifacts_bucket, artifact_name(analysis_id), encode_application(app)
    )
    p.store.update(analysis_id, {"status": "analyzing", "app_id": app.app.id})
    _publish_once(p, analysis_id, resources.TOPIC_PARSED, *_message(analysis_id))
    LOGGER.info("parsed; fanned out to the agents", extra=log)
    return analysis_id


def _reuse(p: Pipeline, analysis_id: str, content: str) -> bool:
    """Finish the analysis from an earlier one of identical content, when there is one."""
    owner = p.store.claim_content(content, analysis_id)
    earlier = p.store.get(owner) if owner != analysis_id else None
    if earlier is None or earlier.get("status") != "done":
        return False
    kept = ("app_id", "app", "findings", "agents", "not_judged")
    fields = {k: earlier[k] for k in kept if k in earlier}
    _finish(p, analysis_id, {**fields, "reused_from": owner})
    LOGGER.info("identical log analyzed before: result reused", extra={"analysis_id": analysis_id})
    return True


# -- analyze --------------------------------------------------------------------------


def _load(p: Pipeline, analysis_id: str) -> Application:
    name = artifact_name(analysis_id)
    data = p.blobs.read(p.settings.pipeline.artifacts_bucket, name)
    return decode_application(data, f"gs://{p.settings.pipeline.artifacts_bucket}/{name}")


def _open(p: Pipeline, analysis_id: str) -> Document | None:
    """The analysis, or None when there is nothing (more) to do for it but send what
    announces its end."""
    doc = p.store.get(analysis_id)
    if doc is None:
        LOGGER.warning("no such analysis: message dropped", extra={"analysis_id": analysis_id})
        return None
    if doc.get("status") in ("done", "failed"):
        _announce(p, analysis_id, doc)
        return None
    return doc


def analyze(p: Pipeline, analysis_id: str, agent_name: AgentName) -> None:
    """Run one agent once its needs are in, store its partial, and pass the baton: to the
    agents this partial makes runnable, or to recommend when it completes the set."""
    log = {"analysis_id": analysis_id, "agent": agent_name}
    if _open(p, analysis_id) is None:
        return
    agent = AGENT_BY_NAME[agent_name]
    partials = p.store.partials(analysis_id)
    if agent_name not in partials:
        waiting = [n for n in agent.needs if n not in partials]
        if waiting:
            LOGGER.info(f"waiting for {', '.join(waiting)}", extra=log)
            return
        try:
            app = _load(p, analysis_id)
        except BadInputError as exc:
            fail(p, analysis_id, str(exc))
            return
        earlier = {n: result_from_document(partials[n]) for n in agent.needs}
        result = run_agent(agent, app, p.settings.analysis, earlier)
        p.store.put_partial(analysis_id, agent_name, result_document(result))
        LOGGER.info(f"{len(result.findings)} finding(s)", extra=log)
        partials = p.store.partials(analysis_id)  # counted after the own write
    runnable = [
        other.name
        for other in AGENTS
        if other.name not in partials
        and agent_name in other.needs
        and set(other.needs) <= set(partials)
    ]
    for name in runnable:
        p.bus.publish(p.topic(resources.TOPIC_PARSED), *_message(analysis_id, agent=name))
    complete = set(AGENT_BY_NAME) <= set(partials)
    if complete and p.store.claim(analysis_id, _DISPATCH, agent_name) == agent_name:
        _publish_once(p, analysis_id, resources.TOPIC_DISPATCH, *_message(analysis_id))


def analyze_message(
    p: Pipeline, agent_name: AgentName, data: bytes, attributes: Mapping[str, str]
) -> None:
    """A parsed-topic message as one agent's subscription receives it: messages naming
    another agent are for that agent alone (a subscription filter in the cloud; the
    emulator ignores filters, so the check is here too)."""
    target = attributes.get("agent")
    analysis_id = analysis_id_from_message(data, attributes)
    if analysis_id is None or (target is not None and target != agent_name):
        return
    analyze(p, analysis_id, agent_name)


# -- recommend ------------------------------------------------------------------------


def recommend(p: Pipeline, analysis_id: str) -> None:
    """Merge the partials into the analysis, record history, publish the result."""
    if _open(p, analysis_id) is None:
        return
    partials = p.store.partials(analysis_id)
    missing = [n for n in AGENT_BY_NAME if n not in partials]
    if missing:  # dispatched before the partials can be read: try again later
        raise RuntimeError(f"analysis {analysis_id}: partials of {missing} not readable yet")
    try:
        app = _load(p, analysis_id)
    except BadInputError as exc:
        fail(p, analysis_id, str(exc))
        return
    results = {name: result_from_document(partials[name]) for name in AGENT_BY_NAME}
    settings = p.settings
    analysis = merge(app, results, settings.analysis, knowledge=settings.knowledge)
    report = analysis_report(app, analysis)
    records = analysis_records(analysis_id, app, analysis, _now())
    _once(p, analysis_id, "history", lambda: p.history.record(records))
    fields = {k: report[k] for k in ("app", "findings", "agents", "not_judged")}
    _finish(p, analysis_id, {**fields, "app_id": app.app.id})
    LOGGER.info(f"done: {len(analysis.findings)} finding(s)", extra={"analysis_id": analysis_id})


def result_attributes(analysis_id: str, doc: Mapping[str, Any]) -> dict[str, str]:
    """What results subscriptions filter on (DESIGN.md §6)."""
    findings = doc.get("findings") or []
    severities = [f["severity"] for f in findings]
    return {
        "analysis_id": analysis_id,
        "app_id": str(doc.get("app_id") or ""),
        "status": str(doc["status"]),
        "max_severity": max(severities, key=SEVERITY_RANK.__getitem__, default="none"),
        "kinds": ",".join(sorted({f["kind"] for f in findings})),
    }


def _finish(p: Pipeline, analysis_id: str, fields: Document) -> None:
    """Mark the analysis done, then announce it."""
    done = {**fields, "status": "done", "completed_at": _now()}
    p.store.update(analysis_id, done)
    _announce(p, analysis_id, done)


def _announce(p: Pipeline, analysis_id: str, doc: Document) -> None:
    """The messages a finished analysis sends (each once): a failed one to the dead-letter
    topic with its reason, then either to the results topic."""
    attributes = result_attributes(analysis_id, doc)
    if doc["status"] == "failed":
        reason = str(doc.get("error") or "")
        parked = {"analysis_id": analysis_id, "object": doc.get("object")}
        _publish_once(
            p,
            analysis_id,
            resources.TOPIC_DEAD_LETTER,
            json.dumps(parked).encode(),
            {"analysis_id": analysis_id, "reason": reason[:1000]},
        )
        data: dict[str, Any] = {"analysis_id": analysis_id, "error": reason}
    else:
        data = {"analysis_id": analysis_id, "findings": doc.get("findings") or []}
    _publish_once(p, analysis_id, resources.TOPIC_RESULTS, json.dumps(data).encode(), attributes)


def fail(p: Pipeline, analysis_id: str, reason: str) -> None:
    """Poison input: record the failure with its reason, then park the message in the
    dead-letter topic and tell results subscribers; the caller acknowledges the message."""
    LOGGER.error("failed: poison input", extra={"analysis_id": analysis_id, "reason": reason})
    failed = {"status": "failed", "error": reason, "completed_at": _now()}
    p.store.update(analysis_id, failed)
    _announce(p, analysis_id, {**(p.store.get(analysis_id) or {}), **failed})
