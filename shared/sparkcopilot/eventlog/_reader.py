"""Read one application's event log, whatever its layout and codec, into the model.

The stored bytes are streamed: decompressed a MiB at a time, cut into buffers of whole
lines, parsed (in worker processes once the log is big enough to pay for them) and
folded in log order. Memory grows with the number of tasks, never with the bytes.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..config import ReaderSettings
from ..errors import NotAnEventLogError
from ..model import Application, CodecName, Layout, SourceInfo
from ._builder import ApplicationBuilder
from ._chunks import ChunkResult, parse_lines
from ._codecs import DecodeStats, decoded_chunks, sniff_codec
from ._layouts import ResolvedLog, resolve

_SNIFF_BYTES = 64
STDIN = "-"


class _Prefixed:
    """A stream whose first bytes were already read to sniff the codec."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0 or n >= len(self._head):
                head, self._head = self._head, b""
                more = self._rest.read(-1 if n < 0 else n - len(head))
                return head + (more or b"")
            head, self._head = self._head[:n], self._head[n:]
            return head
        return self._rest.read(n)


@dataclass
class _PartStats:
    codec: CodecName = "none"
    stored_bytes: int = 0
    truncated: bool = False


class _LineBuffers:
    """Cuts decoded bytes into buffers of whole lines of about ``chunk_bytes``."""

    def __init__(self, settings: ReaderSettings, source: str) -> None:
        self._settings = settings
        self._source = source
        self._pending: list[bytes] = []
        self._size = 0
        self.seen_bytes = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._pending.append(data)
        self._size += len(data)
        self.seen_bytes += len(data)
        if self._size < self._settings.chunk_bytes:
            return
        joined = b"".join(self._pending)
        cut = joined.rfind(b"\n") + 1
        if cut == 0:
            if len(joined) > self._settings.max_line_bytes:
                raise NotAnEventLogError(
                    self._source,
                    f"a line longer than {self._settings.max_line_bytes >> 20} MiB "
                    "(no newline): not a Spark event log",
                )
            self._pending = [joined]
            return
        self._pending = [joined[cut:]] if cut < len(joined) else []
        self._size = len(joined) - cut
        yield joined[:cut]

    def rest(self) -> bytes:
        joined = b"".join(self._pending)
        self._pending = []
        self._size = 0
        return joined


class _Parser:
    """Parses line buffers inline, or in worker processes once the log is big."""

    def __init__(self, settings: ReaderSettings, absorb: Callable[[ChunkResult], None]) -> None:
        self._settings = settings
        self._absorb = absorb
        self._pool: ProcessPoolExecutor | None = None
        self._inflight: deque[Future[ChunkResult]] = deque()
        self._workers = settings.workers or len(os.sched_getaffinity(0))

    def submit(self, buf: bytes, decoded_so_far: int) -> None:
        if (
            self._pool is None
            and self._workers > 1
            and decoded_so_far >= self._settings.parallel_min_bytes
        ):
            self._pool = ProcessPoolExecutor(max_workers=self._workers, mp_context=_context())
        if self._pool is None:
            self._absorb(parse_lines(buf))
            return
        self._inflight.append(self._pool.submit(parse_lines, buf))
        while len(self._inflight) > 2 * self._workers:
            self._absorb(self._inflight.popleft().result())

    def drain(self) -> None:
        while self._inflight:
            self._absorb(self._inflight.popleft().result())

    def close(self) -> None:
        for future in self._inflight:
            future.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _context() -> multiprocessing.context.BaseContext:
    """``fork`` when this process runs one thread (cheap, and it doesn't re-import the
    caller's ``__main__``); ``forkserver`` otherwise, since forking a threaded process
    (a web server, say) can deadlock the child."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__.rsplit(".", 1)[0] + "._chunks"])
    return context


def _check_looks_like_events(source: str, first: bytes) -> None:
    stripped = first.lstrip(b" \t\r\n\xef\xbb\xbf")
    if stripped and not stripped.startswith(b"{"):
        kind = "binary data" if b"\x00" in first[:256] else "text that is not JSON lines"
        raise NotAnEventLogError(source, f"{kind}: not a Spark event log")


def read_application(
    log: str | Path | BinaryIO,
    settings: ReaderSettings | None = None,
    *,
    name: str | None = None,
) -> Application:
    """Read a log: a path (file or directory), ``"-"`` for stdin, or any binary stream.

    ``name`` is how errors and the summary refer to a stream (default ``<stream>``).
    """
    settings = settings or ReaderSettings()
    if isinstance(log, str | Path) and str(log) != STDIN:
        resolved = resolve(Path(log))
        with ExitStack() as stack:
            streams = [
                (str(p), stack.enter_context(open(p, "rb"))) for p in resolved.parts  # noqa: SIM115
            ]
            return _read(resolved, streams, settings)
    if isinstance(log, str | Path):
        import sys

        stream: BinaryIO = sys.stdin.buffer
        display = name or "<stdin>"
    else:
        stream = log
        display = name or "<stream>"
    layout: Layout = "inprogress" if display.endswith(".inprogress") else "single"
    resolved = ResolvedLog(display, layout, (Path(display),))
    return _read(resolved, [(display, stream)], settings)


def _read(
    resolved: ResolvedLog, streams: list[tuple[str, BinaryIO]], settings: ReaderSettings
) -> Application:
    builder = ApplicationBuilder()
    parser = _Parser(settings, builder.absorb)
    parts: list[_PartStats] = []
    decoded_total = 0
    truncated_tail = False
    try:
        for index, (source, raw) in enumerate(streams):
            last = index == len(streams) - 1
            head = raw.read(_SNIFF_BYTES) or b""
            codec: CodecName = sniff_codec(head) or "none"
            stats = DecodeStats()
            part = _PartStats(codec=codec)
            parts.append(part)
            lines = _LineBuffers(settings, source)
            first = True
            for data in decoded_chunks(
                _Prefixed(head, raw),
                codec,
                source=source,
                stats=stats,
                max_decoded_bytes=max(settings.max_log_bytes - decoded_total, 1),
                max_ratio=settings.max_expansion_ratio,
            ):
                if first:
                    _check_looks_like_events(source, data)
                    first = False
                for buf in lines.feed(data):
                    parser.submit(buf, decoded_total + lines.seen_bytes)
                    _check_events_found(builder, source, parser)
            decoded_total += stats.decoded_bytes
            part.stored_bytes = stats.compressed_bytes
            part.truncated = stats.truncated
            rest = lines.rest()
            cut = rest.rfind(b"\n") + 1
            if cut:
                parser.submit(rest[:cut], decoded_total)
            tail = rest[cut:]
            if tail.strip():
                # A last line without its newline is either complete (some writers
                # omit the final newline) or cut off mid-way by a crash or a live log.
                tail_result = parse_lines(tail)
                if tail_result.malformed and last:
                    tail_result.malformed = 0
                    truncated_tail = True
                parser.drain()
                builder.absorb(tail_result)
        parser.drain()
    finally:
        parser.close()
    if builder.events == 0:
        detail = f" ({builder.not_events} JSON lines without an \"Event\")" if builder.not_events else ""
        raise NotAnEventLogError(resolved.display, f"no Spark listener events found{detail}")
    codec_used = next((p.codec for p in parts if p.codec != "none"), "none")
    stream_truncated = any(p.truncated for p in parts)
    complete = (
        builder.app_ended
        and not truncated_tail
        and not stream_truncated
        and resolved.finished_marker is not False
    )
    source_info = SourceInfo(
        path=resolved.display,
        layout=resolved.layout,
        codec=codec_used,
        files=len(parts),
        bytes_read=sum(p.stored_bytes for p in parts),
        complete=complete,
    )
    return builder.build(
        source_info,
        truncated_tail=truncated_tail or stream_truncated,
        spark_version_hint=resolved.spark_version_hint,
    )


def _check_events_found(builder: ApplicationBuilder, source: str, parser: _Parser) -> None:
    """Refuse early a big file of JSON that is not events, instead of reading it all."""
    if builder.events == 0 and builder.not_events >= 16:
        parser.close()
        raise NotAnEventLogError(source, "JSON lines without an \"Event\" field: not a Spark event log")

