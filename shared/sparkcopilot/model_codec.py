"""A compact, versioned serialization of :class:`~sparkcopilot.model.Application`.

The pipeline parses a log once (ingest) and every agent reads the result: this is the
artifact between them. The small frozen dataclasses go through msgspec's MessagePack
(it encodes and decodes dataclasses, enums and msgspec Structs natively); each task
column is its raw little-endian bytes, of the dtype :data:`~sparkcopilot.model.TASK_COLUMNS`
fixes; the whole is one zstd frame. Decoding rebuilds the very same values: analyzing a
decoded application gives the analysis of the original.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import numpy as np
import zstandard

from .errors import BadInputError
from .model import (
    TASK_COLUMNS,
    AppInfo,
    Application,
    EventCounts,
    Executor,
    Job,
    SourceInfo,
    SqlExecution,
    StageAttempt,
    TaskFailure,
    TaskTable,
)

#: Bumped whenever the model's fields change: an artifact of another version is refused
#: (the pipeline parses the log again rather than misread it).
CODEC_VERSION = 1
_MAGIC = b"SCAPP"


class _Envelope(msgspec.Struct, frozen=True):
    version: int
    source: SourceInfo
    app: AppInfo
    spark_conf: dict[str, str]
    hadoop_conf: dict[str, str]
    system_properties: dict[str, str]
    jvm: dict[str, str]
    executors: tuple[Executor, ...]
    jobs: tuple[Job, ...]
    stages: tuple[StageAttempt, ...]
    executor_ids: tuple[str, ...]
    task_failures: tuple[TaskFailure, ...]
    unfinished_task_ids: tuple[int, ...]
    sql_executions: tuple[SqlExecution, ...]
    counts: EventCounts
    #: Column name → its values' raw bytes (little-endian, the dtype of TASK_COLUMNS).
    tasks: dict[str, bytes]


_DECODER = msgspec.msgpack.Decoder(_Envelope)


def _column_bytes(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()


def encode_application(app: Application, *, level: int = 3) -> bytes:
    """The application as one compressed artifact (see the module docstring)."""
    envelope = _Envelope(
        version=CODEC_VERSION,
        source=app.source,
        app=app.app,
        spark_conf=dict(app.spark_conf),
        hadoop_conf=dict(app.hadoop_conf),
        system_properties=dict(app.system_properties),
        jvm=dict(app.jvm),
        executors=app.executors,
        jobs=app.jobs,
        stages=app.stages,
        executor_ids=app.executor_ids,
        task_failures=app.task_failures,
        unfinished_task_ids=app.unfinished_task_ids,
        sql_executions=app.sql_executions,
        counts=app.counts,
        tasks={name: _column_bytes(getattr(app.tasks, name)) for name in TASK_COLUMNS},
    )
    packed = msgspec.msgpack.encode(envelope)
    return _MAGIC + zstandard.ZstdCompressor(level=level).compress(packed)


def _columns(source: str, raw: Mapping[str, bytes]) -> TaskTable:
    if set(raw) != set(TASK_COLUMNS):
        raise BadInputError(source, "parsed application: task columns do not match the model")
    columns = {
        name: np.frombuffer(raw[name], dtype=np.dtype(dtype).newbyteorder("<")).astype(
            dtype, copy=False
        )
        for name, dtype in TASK_COLUMNS.items()
    }
    lengths = {len(c) for c in columns.values()}
    if len(lengths) > 1:
        raise BadInputError(source, "parsed application: task columns of different lengths")
    for column in columns.values():
        column.flags.writeable = False
    return TaskTable(**columns)


def decode_application(data: bytes, source: str = "<artifact>") -> Application:
    """The application :func:`encode_application` stored; ``source`` names it in errors."""
    if not data.startswith(_MAGIC):
        raise BadInputError(source, "not a parsed application (bad magic)")
    try:
        packed = zstandard.ZstdDecompressor().decompress(data[len(_MAGIC) :])
        envelope = _DECODER.decode(packed)
    except (zstandard.ZstdError, msgspec.DecodeError) as exc:
        raise BadInputError(source, f"corrupt parsed application: {exc}") from exc
    if envelope.version != CODEC_VERSION:
        raise BadInputError(
            source, f"parsed application of version {envelope.version}, not {CODEC_VERSION}"
        )
    return Application(
        source=envelope.source,
        app=envelope.app,
        spark_conf=envelope.spark_conf,
        hadoop_conf=envelope.hadoop_conf,
        system_properties=envelope.system_properties,
        jvm=envelope.jvm,
        executors=envelope.executors,
        jobs=envelope.jobs,
        stages=envelope.stages,
        tasks=_columns(source, envelope.tasks),
        executor_ids=envelope.executor_ids,
        task_failures=envelope.task_failures,
        unfinished_task_ids=envelope.unfinished_task_ids,
        sql_executions=envelope.sql_executions,
        counts=envelope.counts,
    )
