"""Read one application's event log, whatever its layout and codec, into the model.

The stored bytes are streamed: decompressed a MiB at a time, cut into buffers of whole
lines, parsed (by the C task scanner when it is built; otherwise in worker processes once
the log is big enough to pay for them) and folded in log order. Memory grows with the
number of tasks, never with the bytes.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
import threading
import zipfile
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Full, Queue
from typing import IO, BinaryIO

import msgspec

from ..config import ReaderSettings
from ..errors import LogTooLargeError, NotAnEventLogError
from ..model import Application, CodecName, Layout, SourceInfo
from ._builder import ApplicationBuilder
from ._chunks import ACCELERATED, ChunkResult, parse_lines
from ._codecs import DecodeStats, decoded_chunks, sniff_codec
from ._layouts import ResolvedLog, layout_of, resolve, single_part

_SNIFF_BYTES = 64
STDIN = "-"

#: Told ``(bytes done, bytes total)`` of the stored log as reading goes; total is 0 when
#: unknown (stdin, a stream).
ReadProgress = Callable[[int, int], None]


class _Prefixed:
    """A stream whose first bytes were already read to sniff the codec."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
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
    """Turns decoded pieces into buffers of whole lines without copying the pieces: each
    piece's complete lines are handed on in place (by bounds), and the line cut at its end
    is carried and finished with the start of the next piece."""

    def __init__(self, settings: ReaderSettings, source: str) -> None:
        self._settings = settings
        self._source = source
        self._carry = b""
        self.seen_bytes = 0

    def feed(self, data: bytes) -> Iterator[LineBuffer]:
        self.seen_bytes += len(data)
        begin = 0
        if self._carry:
            newline = data.find(b"\n")
            if newline < 0:
                self._carry += data
                self._check_line_length()
                return
            first = self._carry + data[: newline + 1]
            self._carry = b""
            yield LineBuffer(first, 0, len(first))
            begin = newline + 1
        end = data.rfind(b"\n", begin) + 1
        if end > begin:
            yield LineBuffer(data, begin, end)
        else:
            end = begin
        self._carry = data[end:]
        self._check_line_length()

    def _check_line_length(self) -> None:
        if len(self._carry) > self._settings.max_line_bytes:
            raise NotAnEventLogError(
                self._source,
                f"a line longer than {self._settings.max_line_bytes >> 20} MiB "
                "(no newline): not a Spark event log",
            )

    def rest(self) -> bytes:
        """The cut line left at the end of the stream."""
        carry, self._carry = self._carry, b""
        return carry


@dataclass(frozen=True, slots=True)
class FileRange:
    """Whole lines of an uncompressed file, which a worker reads itself: nothing to copy
    through a pipe."""

    path: str
    start: int
    stop: int


@dataclass(frozen=True, slots=True)
class LineBuffer:
    """Whole lines in ``data[start:stop]`` (bounds rather than a slice spare copying the
    buffer)."""

    data: bytes
    start: int
    stop: int


Work = LineBuffer | FileRange
#: The bytes between two offsets of a work item, for the builder to decode its lines.
LineSlicer = Callable[[int, int], bytes]


def parse_work(work: Work, accelerated: bool) -> ChunkResult:
    if isinstance(work, FileRange):
        return parse_lines(_read_range(work), accelerated=accelerated)
    return parse_lines(work.data, work.stop, start=work.start, accelerated=accelerated)


def _read_range(work: FileRange) -> bytes:
    with open(work.path, "rb") as f:
        return _pread(f.fileno(), work.start, work.stop - work.start)


def _pread(fd: int, offset: int, size: int) -> bytes:
    parts = []
    while size > 0:
        data = os.pread(fd, size, offset)
        if not data:
            break
        parts.append(data)
        offset += len(data)
        size -= len(data)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _Parser:
    """Parses line buffers inline, or in worker processes once the log is big."""

    def __init__(self, settings: ReaderSettings, builder: ApplicationBuilder) -> None:
        self._settings = settings
        self._builder = builder
        self._pool: ProcessPoolExecutor | None = None
        self._inflight: deque[tuple[Future[ChunkResult], LineSlicer]] = deque()
        self.accelerated = settings.accelerated and ACCELERATED
        self._workers = settings.workers or _auto_workers(self.accelerated)

    def submit(self, work: Work, lines: LineSlicer, decoded_so_far: int) -> None:
        """Parse ``work``; ``lines`` gives back the bytes of a line of it by offsets."""
        if (
            self._pool is None
            and self._workers > 1
            and decoded_so_far >= self._settings.parallel_min_bytes
        ):
            self._pool = ProcessPoolExecutor(max_workers=self._workers, mp_context=_context())
        if self._pool is None:
            # In this process the buffer is at hand: slice it rather than read again.
            if isinstance(work, FileRange):
                work = LineBuffer(data := _read_range(work), 0, len(data))
            self._builder.absorb(parse_work(work, self.accelerated), _bytes_slicer(work.data))
            return
        self._inflight.append((self._pool.submit(parse_work, work, self.accelerated), lines))
        while len(self._inflight) > 2 * self._workers:
            self._absorb_next()

    def _absorb_next(self) -> None:
        future, lines = self._inflight.popleft()
        self._builder.absorb(future.result(), lines)

    def drain(self) -> None:
        while self._inflight:
            self._absorb_next()

    def close(self) -> None:
        for future, _ in self._inflight:
            future.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _auto_workers(accelerated: bool) -> int:
    """With the C task scanner, parsing costs less than shipping its result between
    processes (measured by bench/parse.py): one process is fastest. Without it, parsing
    dominates and every CPU the process may use pays."""
    return 1 if accelerated else len(os.sched_getaffinity(0))


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
    progress: ReadProgress | None = None,
) -> Application:
    """Read a log: a path (file or directory), ``"-"`` for stdin, a ``gs://`` URI (with
    the gcp extra), or any binary stream.

    ``name`` is how errors and the summary refer to a stream (default ``<stream>``).
    ``progress`` is called once per piece read (a few MiB) with the stored bytes done
    so far and in all, and last with both equal when the total is known.
    """
    settings = settings or ReaderSettings()
    with _gc_paused():
        return _read_any(log, settings, name, progress)


#: Opens one object of a stored log for a streamed read.
OpenPart = Callable[[str], contextlib.AbstractContextManager[BinaryIO]]


def read_objects(
    display: str,
    names: Sequence[str],
    open_part: OpenPart,
    settings: ReaderSettings | None = None,
) -> Application:
    """Read a log kept as named objects (a bucket): one object, or the objects of one
    rolling, Databricks or Spark 1.x folder (``names`` relative to it, in any order).
    Each part is streamed through ``open_part``; nothing is downloaded whole."""
    settings = settings or ReaderSettings()
    if len(names) == 1:
        resolved = single_part(display, Path("."), names[0])
    else:
        found = layout_of(display, Path("."), sorted(names), archive=False)
        if found is None:
            raise NotAnEventLogError(display, "objects are not one Spark event-log layout")
        resolved = found
    with _gc_paused(), ExitStack() as stack:
        parts = [
            _Part(f"{display}/{name}", stack.enter_context(open_part(name)), None)
            for name in resolved.parts
        ]
        return _Read(resolved, settings, None, 0).run(parts)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Reading builds many long-lived objects and no reference cycles: the cyclic
    collector would only re-scan the growing model again and again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_gs(uri: str, settings: ReaderSettings) -> Application:
    """A ``gs://`` log streamed through the Cloud Storage adapter (the gcp extra)."""
    from ..pipeline.gcp import read_gs  # noqa: PLC0415 - an optional extra

    return read_gs(uri, settings)


def _read_any(
    log: str | Path | BinaryIO,
    settings: ReaderSettings,
    name: str | None,
    progress: ReadProgress | None,
) -> Application:
    if isinstance(log, str) and log.startswith("gs://"):
        return _read_gs(log, settings)
    if isinstance(log, str | Path) and str(log) != STDIN:
        resolved = resolve(Path(log))
        with ExitStack() as stack:
            if resolved.archive:
                archive = stack.enter_context(zipfile.ZipFile(resolved.container))
                parts = [
                    _Part(
                        f"{resolved.container}!{name}",
                        stack.enter_context(archive.open(name)),
                        None,
                    )
                    for name in resolved.parts
                ]
                # Members are read decompressed: their stored bytes are their file sizes.
                total = sum(archive.getinfo(name).file_size for name in resolved.parts)
            else:
                parts = [
                    _Part(str(p), stack.enter_context(open(p, "rb")), p) for p in resolved.paths()
                ]
                total = sum(os.fstat(part.stream.fileno()).st_size for part in parts)
            return _Read(resolved, settings, progress, total).run(parts)
    if isinstance(log, str | Path):
        stream: BinaryIO = sys.stdin.buffer
        display = name or "<stdin>"
    else:
        stream = log
        display = name or "<stream>"
    layout: Layout = "inprogress" if display.endswith(".inprogress") else "single"
    resolved = ResolvedLog(display, layout, (display,), Path("."))
    return _Read(resolved, settings, progress, 0).run([_Part(display, stream, None)])


@dataclass(frozen=True, slots=True)
class _Part:
    source: str
    stream: IO[bytes]
    #: Set when the part is a regular file that workers may open themselves.
    path: Path | None


class _Read:
    """One read of one application: parts in order, then the model."""

    def __init__(
        self,
        resolved: ResolvedLog,
        settings: ReaderSettings,
        progress: ReadProgress | None,
        total_bytes: int,
    ) -> None:
        self._resolved = resolved
        self._settings = settings
        self._progress = progress
        self._total_bytes = total_bytes
        #: Stored bytes of the parts already read.
        self._stored_done = 0
        self._builder = ApplicationBuilder()
        self._parser = _Parser(settings, self._builder)
        self._parts: list[_PartStats] = []
        self._decoded = 0
        self._truncated_tail = False

    def run(self, parts: list[_Part]) -> Application:
        try:
            for index, part in enumerate(parts):
                head = part.stream.read(_SNIFF_BYTES) or b""
                stats = _PartStats(codec=sniff_codec(head) or "none")
                self._parts.append(stats)
                if stats.codec == "none" and part.path is not None and part.path.is_file():
                    tail = self._plain_file(part, head, stats)
                else:
                    tail = self._stream(part, head, stats)
                self._tail(tail, last=index == len(parts) - 1)
                self._stored_done += stats.stored_bytes
                self._report(self._stored_done)
            self._parser.drain()
        finally:
            self._parser.close()
        return self._model()

    def _plain_file(self, part: _Part, head: bytes, stats: _PartStats) -> bytes:
        """Cut an uncompressed file into line-aligned ranges read by the workers."""
        fd = part.stream.fileno()
        size = os.fstat(fd).st_size
        if self._decoded + size > self._settings.max_log_bytes:
            raise LogTooLargeError(
                part.source,
                f"{size >> 20} MiB is over the limit of {self._settings.max_log_bytes >> 20} MiB "
                "(reader.max_log_bytes)",
            )
        _check_looks_like_events(part.source, head)
        lines_end = _last_newline(fd, size) + 1
        chunk = self._settings.chunk_bytes
        path = str(part.path)
        start = 0
        while start < lines_end:
            stop = (
                lines_end
                if start + chunk >= lines_end
                else self._next_line(part, fd, start + chunk)
            )
            # The whole size is known up front: go parallel from the first range.
            self._parser.submit(
                FileRange(path, start, stop), _file_slicer(fd, start), self._decoded + size
            )
            self._check_events_found(part.source)
            self._report(self._stored_done + stop)
            start = stop
        self._decoded += size
        stats.stored_bytes = size
        return _pread(fd, lines_end, size - lines_end)

    def _next_line(self, part: _Part, fd: int, offset: int) -> int:
        """Offset just after the first newline at or after ``offset``."""
        position = offset
        while True:
            window = os.pread(fd, 1 << 16, position)
            found = window.find(b"\n")
            if found >= 0:
                return position + found + 1
            position += len(window)
            if not window or position - offset > self._settings.max_line_bytes:
                raise NotAnEventLogError(
                    part.source,
                    f"a line longer than {self._settings.max_line_bytes >> 20} MiB "
                    "(no newline): not a Spark event log",
                    offset,
                )

    def _stream(self, part: _Part, head: bytes, stats: _PartStats) -> bytes:
        """Decompress (or pass through) a stream and hand whole lines to the parser."""
        decode = DecodeStats()
        lines = _LineBuffers(self._settings, part.source)
        first = True
        pieces = decoded_chunks(
            _Prefixed(head, part.stream),
            stats.codec,
            source=part.source,
            stats=decode,
            max_decoded_bytes=max(self._settings.max_log_bytes - self._decoded, 1),
            max_ratio=self._settings.max_expansion_ratio,
            chunk_size=self._settings.chunk_bytes,
        )
        # Closed on every way out, so the decoding thread never outlives the stream.
        # Plain streams have nothing to decode ahead: the thread would only cost a copy.
        with contextlib.closing(_ahead(pieces, threaded=stats.codec != "none")) as ahead:
            for data in ahead:
                if first:
                    _check_looks_like_events(part.source, data)
                    first = False
                for buf in lines.feed(data):
                    self._parser.submit(
                        buf, _bytes_slicer(buf.data), self._decoded + lines.seen_bytes
                    )
                    self._check_events_found(part.source)
                self._report(self._stored_done + decode.compressed_bytes)
        self._decoded += decode.decoded_bytes
        stats.stored_bytes = decode.compressed_bytes
        stats.truncated = decode.truncated
        return lines.rest()

    def _report(self, done: int) -> None:
        if self._progress is not None:
            self._progress(done, self._total_bytes)

    def _tail(self, tail: bytes, *, last: bool) -> None:
        """The bytes after a part's last newline: a complete last line (some writers omit
        the final newline) or one cut off mid-way by a crash or a live log."""
        if not tail.strip():
            return
        if last and not _is_json(tail):
            self._truncated_tail = True
            return
        self._parser.drain()
        self._builder.absorb(
            parse_lines(tail, accelerated=self._parser.accelerated), _bytes_slicer(tail)
        )

    def _check_events_found(self, source: str) -> None:
        """Refuse early a big file of JSON that is not events, instead of reading it all."""
        if self._builder.events == 0 and self._builder.not_events >= 16:
            raise NotAnEventLogError(
                source, 'JSON lines without an "Event" field: not a Spark event log'
            )

    def _model(self) -> Application:
        builder, resolved = self._builder, self._resolved
        if builder.events == 0:
            detail = (
                f' ({builder.not_events} JSON lines without an "Event")'
                if builder.not_events
                else ""
            )
            raise NotAnEventLogError(resolved.display, f"no Spark listener events found{detail}")
        stream_truncated = any(p.truncated for p in self._parts)
        complete = (
            builder.app_ended
            and not self._truncated_tail
            and not stream_truncated
            and resolved.finished_marker is not False
        )
        source_info = SourceInfo(
            path=resolved.display,
            layout=resolved.layout,
            codec=next((p.codec for p in self._parts if p.codec != "none"), "none"),
            files=len(self._parts),
            bytes_read=sum(p.stored_bytes for p in self._parts),
            complete=complete,
        )
        return builder.build(
            source_info,
            truncated_tail=self._truncated_tail or stream_truncated,
            spark_version_hint=resolved.spark_version_hint,
        )


def _ahead(
    pieces: Iterator[bytes], *, threaded: bool, depth: int = 2
) -> Generator[bytes, None, None]:
    """``pieces``, produced by a thread up to ``depth`` ahead. Decompressors and the C
    scanner release the GIL, so decoding the next piece overlaps parsing this one."""
    if not threaded:
        yield from pieces
        return
    queue: Queue[bytes | BaseException | None] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for piece in pieces:
                while not stop.is_set():
                    try:
                        queue.put(piece, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            queue.put(exc)

    worker = threading.Thread(target=produce, name="sparkcopilot-decode", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(Empty):
                queue.get_nowait()
            worker.join(timeout=0.05)


def _bytes_slicer(buf: bytes) -> LineSlicer:
    return lambda start, stop: buf[start:stop]


def _file_slicer(fd: int, offset: int) -> LineSlicer:
    return lambda start, stop: _pread(fd, offset + start, stop - start)


def _is_json(data: bytes) -> bool:
    try:
        msgspec.json.decode(data)
    except msgspec.DecodeError:
        return False
    return True


def _last_newline(fd: int, size: int) -> int:
    """Offset of the file's last newline, or -1."""
    position = size
    while position > 0:
        start = max(0, position - (1 << 16))
        found = os.pread(fd, position - start, start).rfind(b"\n")
        if found >= 0:
            return start + found
        position = start
    return -1
