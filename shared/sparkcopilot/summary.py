"""``spark-copilot summary``: the facts of one application (DESIGN.md §3)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .model import Application, CodecName, Layout, TaskOutcome
from .quality import DataQuality, data_quality, describe_loss


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceSummary(_Contract):
    path: str
    layout: Layout
    codec: CodecName
    files: int
    bytes_read: int
    complete: bool


class AppSummary(_Contract):
    id: str | None
    name: str | None
    user: str | None
    spark_version: str | None
    start_ms: int | None
    end_ms: int | None
    duration_ms: int | None


class Counts(_Contract):
    jobs: int
    jobs_failed: int
    stages_completed: int
    stages_failed: int
    tasks: int
    tasks_failed: int
    executors: int
    sql_executions: int
    events: int
    events_unknown: int
    lines_malformed: int


class Totals(_Contract):
    input_bytes: int
    output_bytes: int
    shuffle_read_bytes: int
    shuffle_write_bytes: int
    memory_spilled_bytes: int
    disk_spilled_bytes: int
    executor_run_time_ms: int
    jvm_gc_time_ms: int


class Summary(_Contract):
    schema_: Literal["spark-copilot/summary/v1"] = "spark-copilot/summary/v1"
    source: SourceSummary
    app: AppSummary
    counts: Counts
    totals: Totals
    data_quality: DataQuality

    def to_json_dict(self) -> dict[str, object]:
        out = self.model_dump(mode="json")
        return {"schema": out.pop("schema_"), **out}


def app_summary(application: Application) -> AppSummary:
    a = application.app
    return AppSummary(
        id=a.id,
        name=a.name,
        user=a.user,
        spark_version=a.spark_version,
        start_ms=a.start_ms,
        end_ms=a.end_ms,
        duration_ms=a.duration_ms,
    )


def summarize(application: Application) -> Summary:
    """The contract's counts and totals; each definition is DESIGN.md §3's."""
    t = application.tasks
    stages = application.stages
    return Summary(
        source=SourceSummary(**asdict(application.source)),
        app=app_summary(application),
        counts=Counts(
            jobs=application.counts.by_type.get("SparkListenerJobStart", 0),
            jobs_failed=sum(1 for j in application.jobs if j.succeeded is False),
            stages_completed=sum(1 for st in stages if st.status == "complete"),
            stages_failed=sum(1 for st in stages if st.status == "failed"),
            tasks=len(t),
            tasks_failed=int((t.outcome != TaskOutcome.SUCCESS).sum()),
            executors=len(application.executors),
            sql_executions=application.counts.by_type.get(
                "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart", 0
            ),
            events=application.counts.events,
            events_unknown=application.counts.unknown,
            lines_malformed=application.counts.malformed_lines,
        ),
        totals=Totals(
            input_bytes=int(t.input_bytes.sum()),
            output_bytes=int(t.output_bytes.sum()),
            shuffle_read_bytes=int(t.shuffle_local_bytes.sum() + t.shuffle_remote_bytes.sum()),
            shuffle_write_bytes=int(t.shuffle_write_bytes.sum()),
            memory_spilled_bytes=int(t.memory_spilled.sum()),
            disk_spilled_bytes=int(t.disk_spilled.sum()),
            executor_run_time_ms=int(t.run_ms.sum()),
            jvm_gc_time_ms=int(t.gc_ms.sum()),
        ),
        data_quality=data_quality(application),
    )


def bytes_text(n: float) -> str:
    """A size in binary units, as people read it: ``1.5 MiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _ms(ms: int | None) -> str:
    if ms is None:
        return "unknown (no application end)"
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def render_text(summary: Summary) -> str:
    """A short human-readable version of the same facts."""
    s, a, c, t = summary.source, summary.app, summary.counts, summary.totals
    state = "complete" if s.complete else "INCOMPLETE (in progress or cut off)"
    lines = [
        f"{a.name or '?'}  ({a.id or 'no app id'})  "
        f"Spark {a.spark_version or '?'}  user {a.user or '?'}",
        f"  log       {s.path}  [{s.layout}, {s.codec}, {s.files} file(s), "
        f"{bytes_text(s.bytes_read)} read, {state}]",
        f"  duration  {_ms(a.duration_ms)}",
        f"  jobs      {c.jobs} ({c.jobs_failed} failed)   stages {c.stages_completed} completed, "
        f"{c.stages_failed} failed   tasks {c.tasks} ({c.tasks_failed} failed)",
        f"  executors {c.executors}   SQL executions {c.sql_executions}",
        f"  input {bytes_text(t.input_bytes)}   output {bytes_text(t.output_bytes)}   "
        f"shuffle read {bytes_text(t.shuffle_read_bytes)}   "
        f"write {bytes_text(t.shuffle_write_bytes)}",
        f"  spill memory {bytes_text(t.memory_spilled_bytes)}   "
        f"disk {bytes_text(t.disk_spilled_bytes)}   "
        f"executor run time {_ms(t.executor_run_time_ms)}   GC {_ms(t.jvm_gc_time_ms)}",
        f"  events {c.events} ({c.events_unknown} unknown, {c.lines_malformed} malformed lines)",
    ]
    if summary.data_quality.event_loss:
        lines.append(f"  EVENT LOSS  {describe_loss(summary.data_quality)}")
    return "\n".join(lines) + "\n"
