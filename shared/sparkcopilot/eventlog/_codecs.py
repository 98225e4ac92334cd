"""Streaming decoders for every codec Spark writes event logs with (DESIGN.md §2).

Spark does not write standard container formats for three of its codecs: lz4 is
lz4-java's ``LZ4BlockOutputStream`` framing, snappy is snappy-java's
``SnappyOutputStream`` framing and lzf is ning compress-lzf's ``LZFOutputStream``
chunks. Each is parsed here block by block, so memory stays bounded by one block
whatever the file size, an in-progress log cut mid-block yields everything complete
before the cut, and a decompression bomb is refused before it is materialised.

The codec is chosen from the stored bytes (:func:`sniff_codec`), never from the name:
tools that trusted the suffix decoded ``.zstd`` files as text.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, Protocol

import cramjam
import lzf
import xxhash
import zstandard

from ..errors import CorruptLogError, LogTooLargeError

__all__ = [
    "CODEC_BY_SUFFIX",
    "Codec",
    "DecodeStats",
    "Readable",
    "decoded_chunks",
    "sniff_codec",
]

Codec = Literal["none", "zstd", "lz4", "snappy", "lzf", "gzip"]

# Only a hint for error messages ("named .lz4 but the bytes are snappy"); never decides.
CODEC_BY_SUFFIX: Mapping[str, Codec] = MappingProxyType(
    {
        ".zstd": "zstd",
        ".zst": "zstd",
        ".lz4": "lz4",
        ".snappy": "snappy",
        ".lzf": "lzf",
        ".gz": "gzip",
    }
)

# Decoded bytes are handed out in chunks of at least this size (except the last), so
# callers split lines per MiB, not per 32 KiB block.
_OUT_CHUNK: Final = 1 << 20
# The expansion-ratio guard only applies past this many decoded bytes: small files
# legitimately compress far better than big ones.
_RATIO_FLOOR: Final = 64 << 20

_ZSTD_MAGIC: Final = 0xFD2FB528
_ZSTD_SKIPPABLE_MASK: Final = 0xFFFFFFF0
_ZSTD_SKIPPABLE: Final = 0x184D2A50
_LZ4_MAGIC: Final = b"LZ4Block"
_SNAPPY_MAGIC: Final = b"\x82SNAPPY\x00"
_LZF_MAGIC: Final = b"ZV"
_GZIP_MAGIC: Final = b"\x1f\x8b"


def sniff_codec(head: bytes) -> Codec | None:
    """Codec from the first bytes of a stored file (give it >= 16 bytes when available).

    None means plain text or unknown: the caller decides. A head shorter than a magic
    never matches it.
    """
    if len(head) >= 4:
        word = int.from_bytes(head[:4], "little")
        if word == _ZSTD_MAGIC or word & _ZSTD_SKIPPABLE_MASK == _ZSTD_SKIPPABLE:
            return "zstd"
    if head.startswith(_LZ4_MAGIC):
        return "lz4"
    if head.startswith(_SNAPPY_MAGIC):
        return "snappy"
    if len(head) >= 3 and head.startswith(_LZF_MAGIC) and head[2] in (0, 1):
        return "lzf"
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    return None


class Readable(Protocol):
    """What the decoders need of a stored stream: ``read(n)``, short reads allowed, ``b""``
    at the end. Files, ``sys.stdin.buffer`` and GCS blob readers all qualify."""

    def read(self, size: int, /) -> bytes: ...


@dataclass
class DecodeStats:
    """Progress of one decode, readable while it runs and after it stops."""

    compressed_bytes: int = 0  # bytes consumed from the stored stream so far
    decoded_bytes: int = 0  # bytes yielded so far
    # The stored stream ended inside a block/frame (in-progress or cut upload);
    # everything complete before it was yielded.
    truncated: bool = False


def decoded_chunks(
    raw: Readable,
    codec: Codec,
    *,
    source: str,
    stats: DecodeStats,
    max_decoded_bytes: int,
    max_ratio: float,
    read_size: int = 1 << 20,
    chunk_size: int = _OUT_CHUNK,
) -> Iterator[bytes]:
    """Yield the decompressed bytes of ``raw`` in chunks of about 1 MiB or more.

    ``raw`` only needs ``.read(n)`` (a file, ``stdin.buffer``, a GCS blob reader); it is
    never seeked and never read whole, so memory does not grow with the file. Short
    reads are fine. A stream cut inside a block sets ``stats.truncated`` and ends
    quietly; corrupt data raises :class:`CorruptLogError` (after yielding what was
    complete before it); output beyond ``max_decoded_bytes``, or beyond ``max_ratio``
    times the bytes consumed once past 64 MiB, raises :class:`LogTooLargeError`.
    """
    if read_size < 1:
        raise ValueError(f"read_size must be >= 1, got {read_size}")
    try:
        decoder = _DECODERS[codec]
    except KeyError:
        raise ValueError(f"unknown codec {codec!r}") from None
    inp = _Input(raw, read_size, stats)
    guard = _Guard(source, inp, max_decoded_bytes, max_ratio)
    ctx = _Ctx(inp, stats, guard, source, codec)
    pending: list[bytes | bytearray] = []
    size = 0
    try:
        for block in decoder(ctx):
            n = len(block)
            if not n:
                continue
            guard.produced += n
            guard.check(0)
            pending.append(block)
            size += n
            if size >= chunk_size:
                out = _join(pending)
                pending.clear()
                size = 0
                stats.decoded_bytes += len(out)
                yield out
    except CorruptLogError:
        # Hand out what decoded cleanly before the bad block, like a truncation would.
        if size:
            out = _join(pending)
            pending.clear()
            stats.decoded_bytes += len(out)
            yield out
        raise
    if size:
        out = _join(pending)
        stats.decoded_bytes += len(out)
        yield out


def _join(parts: list[bytes | bytearray]) -> bytes:
    if len(parts) == 1 and type(parts[0]) is bytes:
        return parts[0]
    return b"".join(parts)


class _Input:
    """Exact-size pulls from a stream that may return short reads; never seeks.

    ``offset`` is the stored-stream position of the next unconsumed byte, mirrored into
    ``stats.compressed_bytes``.
    """

    __slots__ = ("_buf", "_eof", "_pos", "_raw", "_read_size", "_stats", "_view", "offset")

    def __init__(self, raw: Readable, read_size: int, stats: DecodeStats) -> None:
        self._raw = raw
        self._read_size = read_size
        self._stats = stats
        self._buf = b""
        self._view = memoryview(self._buf)
        self._pos = 0
        self._eof = False
        self.offset = 0

    def _read(self) -> bytes:
        if self._eof:
            return b""
        chunk = self._raw.read(self._read_size)
        if not chunk:
            self._eof = True
            return b""
        return bytes(chunk) if type(chunk) is not bytes else chunk

    def _fill(self, n: int) -> None:
        """Make at least ``n`` bytes available, or all that is left before EOF."""
        parts = [self._buf[self._pos :]]
        have = len(parts[0])
        while have < n:
            chunk = self._read()
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        self._buf = b"".join(parts)
        self._view = memoryview(self._buf)
        self._pos = 0

    def take(self, n: int) -> memoryview:
        """The next ``n`` bytes; fewer only when the stream ends first."""
        if len(self._buf) - self._pos < n:
            self._fill(n)
        pos = self._pos
        view = self._view[pos : pos + n]
        got = len(view)
        self._pos = pos + got
        self.offset += got
        self._stats.compressed_bytes = self.offset
        return view

    def take_some(self) -> bytes:
        """Whatever is buffered, else one read's worth; empty at EOF."""
        if self._pos >= len(self._buf):
            self._buf = self._read()
            self._view = memoryview(self._buf)
            self._pos = 0
        chunk = self._buf[self._pos :] if self._pos else self._buf
        self._pos = len(self._buf)
        self.offset += len(chunk)
        self._stats.compressed_bytes = self.offset
        return chunk

    def skip(self, n: int) -> int:
        """Discard ``n`` bytes without holding them; returns how many were there."""
        done = 0
        while done < n:
            view = self.take(min(n - done, self._read_size))
            if not view:
                break
            done += len(view)
        return done


class _Guard:
    """Size and expansion-ratio limits, checked before and after each block."""

    __slots__ = ("_inp", "_max_bytes", "_max_ratio", "_source", "produced")

    def __init__(self, source: str, inp: _Input, max_bytes: int, max_ratio: float) -> None:
        self._source = source
        self._inp = inp
        self._max_bytes = max_bytes
        self._max_ratio = max_ratio
        self.produced = 0

    def check(self, extra: int) -> None:
        """Raise if ``produced + extra`` decoded bytes would break a limit."""
        total = self.produced + extra
        if total > self._max_bytes:
            raise LogTooLargeError(
                self._source,
                f"decompresses to more than {self._max_bytes} bytes, the configured limit",
            )
        consumed = self._inp.offset
        if total > _RATIO_FLOOR and total > self._max_ratio * consumed:
            raise LogTooLargeError(
                self._source,
                f"expands more than {self._max_ratio:g}x ({total} bytes from the first "
                f"{consumed} stored bytes); refusing a likely decompression bomb",
            )


@dataclass(slots=True)
class _Ctx:
    inp: _Input
    stats: DecodeStats
    guard: _Guard
    source: str
    codec: Codec

    def corrupt(self, reason: str, offset: int) -> CorruptLogError:
        return CorruptLogError(self.source, reason + _suffix_hint(self.source, self.codec), offset)

    def cut(self, got: memoryview, magic: bytes, what: str, offset: int) -> None:
        """The stream ended inside a header: truncation, unless what arrived is not even
        the start of the expected magic (then it is garbage)."""
        head = bytes(got[: len(magic)])
        if not magic.startswith(head):
            raise self.corrupt(f"bad {what} magic {head.hex()}", offset)
        self.stats.truncated = True


def _suffix_hint(source: str, codec: Codec) -> str:
    name = source.lower().removesuffix(".inprogress")
    dot = name.rfind(".")
    named = CODEC_BY_SUFFIX.get(name[dot:]) if dot >= 0 else None
    if named is None or named == codec:
        return ""
    return f" (the name says {named}, the bytes say {codec})"


def _plain(ctx: _Ctx) -> Iterator[bytes | bytearray]:
    inp = ctx.inp
    while chunk := inp.take_some():
        yield chunk


# --- zstd ----------------------------------------------------------------------------
# Frames per RFC 8878. Spark's ZstdOutputStreamNoFinalizer leaves an in-progress log's
# last frame open and rolling/appended logs hold many frames, so frames and blocks are
# walked here: that tells a cut (truncated) from a clean end, gives corrupt data an
# offset, and bounds each decompress call's output by its blocks (<= 128 KiB each).
_ZSTD_BLOCK_MAX: Final = 128 << 10
_ZSTD_BATCH_BLOCKS: Final = 16  # blocks per decompress call: <= 2 MiB of output
_ZSTD_BATCH_BYTES: Final = 1 << 20
_ZSTD_DID_SIZE: Final = (0, 1, 2, 4)
_ZSTD_FCS_SIZE: Final = (0, 2, 4, 8)
_ZSTD_MAGIC_BYTES: Final = _ZSTD_MAGIC.to_bytes(4, "little")


def _zstd(ctx: _Ctx) -> Iterator[bytes | bytearray]:
    inp = ctx.inp
    dctx = zstandard.ZstdDecompressor()
    while True:
        frame_at = inp.offset
        magic = inp.take(4)
        if not magic:
            return
        if len(magic) < 4:
            skippable = _ZSTD_SKIPPABLE.to_bytes(4, "little")
            if magic[0] & 0xF0 == skippable[0]:  # any of the 16 skippable magics
                ctx.cut(magic[1:], skippable[1:], "zstd frame", frame_at)
            else:
                ctx.cut(magic, _ZSTD_MAGIC_BYTES, "zstd frame", frame_at)
            return
        word = int.from_bytes(magic, "little")
        if word & _ZSTD_SKIPPABLE_MASK == _ZSTD_SKIPPABLE:
            size_field = inp.take(4)
            if len(size_field) < 4:
                ctx.stats.truncated = True
                return
            size = int.from_bytes(size_field, "little")
            if inp.skip(size) < size:
                ctx.stats.truncated = True
                return
            continue
        if word != _ZSTD_MAGIC:
            raise ctx.corrupt(f"bad zstd frame magic {magic.hex()}", frame_at)
        yield from _zstd_frame(ctx, dctx, magic.tobytes(), frame_at)
        if ctx.stats.truncated:
            return


def _zstd_frame_header(ctx: _Ctx, frame_at: int) -> tuple[bytes, bool] | None:
    """The frame header after the magic and whether the frame ends with a checksum;
    None if the stream ends inside it."""
    inp = ctx.inp
    descriptor = inp.take(1)
    if not descriptor:
        return None
    fhd = descriptor[0]
    if fhd & 0x08:
        raise ctx.corrupt("zstd frame header has its reserved bit set", frame_at)
    single_segment = bool(fhd & 0x20)
    fcs_size = _ZSTD_FCS_SIZE[fhd >> 6] or (1 if single_segment else 0)
    rest_size = (0 if single_segment else 1) + _ZSTD_DID_SIZE[fhd & 0x03] + fcs_size
    rest = inp.take(rest_size)
    if len(rest) < rest_size:
        return None
    return descriptor.tobytes() + rest.tobytes(), bool(fhd & 0x04)


class _ZstdBatch:
    """Complete blocks of one frame waiting to be decoded together (fewer calls)."""

    __slots__ = ("at", "blocks", "ctx", "dobj", "frame_at", "parts", "size")

    def __init__(self, ctx: _Ctx, dctx: zstandard.ZstdDecompressor, frame_at: int) -> None:
        self.ctx = ctx
        self.dobj = dctx.decompressobj()
        self.frame_at = frame_at
        self.at = frame_at
        self.parts: list[bytes | memoryview] = []
        self.size = 0
        self.blocks = 0

    def add(self, *parts: bytes | memoryview) -> None:
        self.parts += parts
        self.size += sum(len(p) for p in parts)

    def decode(self) -> bytes:
        try:
            out = self.dobj.decompress(b"".join(self.parts))
        except zstandard.ZstdError as exc:
            raise self.ctx.corrupt(
                f"bad zstd data in the frame starting at byte {self.frame_at}: {exc}", self.at
            ) from None
        self.parts.clear()
        self.size = 0
        self.blocks = 0
        self.at = self.ctx.inp.offset
        return out


def _zstd_frame(
    ctx: _Ctx, dctx: zstandard.ZstdDecompressor, magic: bytes, frame_at: int
) -> Iterator[bytes]:
    """One frame after its magic; sets ``truncated`` if the stream ends inside it."""
    inp = ctx.inp
    header = _zstd_frame_header(ctx, frame_at)
    if header is None:
        ctx.stats.truncated = True
        return
    batch = _ZstdBatch(ctx, dctx, frame_at)
    batch.add(magic, header[0])
    has_checksum = header[1]
    while True:
        block_at = inp.offset
        block_header = inp.take(3)
        if len(block_header) < 3:
            break
        word = int.from_bytes(block_header, "little")
        kind = (word >> 1) & 3
        size = word >> 3
        if kind == 3:
            raise ctx.corrupt("zstd block of reserved type", block_at)
        if size > _ZSTD_BLOCK_MAX:
            raise ctx.corrupt(f"zstd block of {size} bytes exceeds 128 KiB", block_at)
        body_size = 1 if kind == 1 else size  # an RLE block stores one byte
        body = inp.take(body_size)
        if len(body) < body_size:
            break
        batch.add(block_header, body)
        batch.blocks += 1
        if word & 1:  # last block of the frame
            checksum = inp.take(4 if has_checksum else 0)
            if len(checksum) < (4 if has_checksum else 0):
                break
            batch.add(checksum)
            out = batch.decode()
            if not batch.dobj.eof:
                raise ctx.corrupt("zstd frame does not end after its last block", frame_at)
            yield out
            return
        if batch.blocks >= _ZSTD_BATCH_BLOCKS or batch.size >= _ZSTD_BATCH_BYTES:
            yield batch.decode()
    # The stream ended inside this frame: decode the complete blocks gathered so far.
    if batch.blocks:
        yield batch.decode()
    ctx.stats.truncated = True


# --- lz4 -----------------------------------------------------------------------------
# lz4-java LZ4BlockOutputStream (net.jpountz.lz4): per block a 21-byte header
# magic "LZ4Block" | token (method 0x10 RAW / 0x20 LZ4 | level) | compressed length
# int32 LE | decompressed length int32 LE | XXH32(decompressed, 0x9747b28c) & 0x0FFFFFFF
# int32 LE, then the payload. An empty RAW block ends one stream; Spark reads with
# stopOnEmptyBlock=false, so concatenated streams continue after it.
_LZ4_HEADER: Final = struct.Struct("<8sBiii")
_LZ4_RAW: Final = 0x10
_LZ4_LZ4: Final = 0x20
_LZ4_LEVEL_BASE: Final = 10  # block size <= 1 << (10 + level), so at most 32 MiB
_LZ4_SEED: Final = 0x9747B28C


def _lz4_header(ctx: _Ctx, header: memoryview, at: int) -> tuple[int, int, int, int]:
    """(method, compressed length, decompressed length, checksum) of a full header,
    validated as LZ4BlockInputStream.refill() does."""
    magic, token, clen, n, check = _LZ4_HEADER.unpack(header)
    if magic != _LZ4_MAGIC:
        raise ctx.corrupt(f"bad LZ4Block magic {magic.hex()}", at)
    method = token & 0xF0
    if method not in (_LZ4_RAW, _LZ4_LZ4):
        raise ctx.corrupt(f"unknown LZ4Block method 0x{method:02x}", at)
    if (
        n < 0
        or clen < 0
        or n > 1 << (_LZ4_LEVEL_BASE + (token & 0x0F))
        or (n == 0) != (clen == 0)
        or (method == _LZ4_RAW and clen != n)
        or clen > n + n // 255 + 16  # LZ4_COMPRESSBOUND
    ):
        raise ctx.corrupt(f"bad LZ4Block lengths {clen} -> {n}", at)
    if n == 0 and check != 0:
        raise ctx.corrupt("LZ4Block end marker with a checksum", at)
    return method, clen, n, check


def _lz4(ctx: _Ctx) -> Iterator[bytes | bytearray]:
    inp = ctx.inp
    size = _LZ4_HEADER.size
    decompress_into = cramjam.lz4.decompress_block_into
    xxh32 = xxhash.xxh32_intdigest
    while True:
        at = inp.offset
        header = inp.take(size)
        if len(header) < size:
            if header:
                ctx.cut(header, _LZ4_MAGIC, "LZ4Block", at)
            return
        method, clen, n, check = _lz4_header(ctx, header, at)
        if n == 0:
            continue  # end of one stream; another may follow
        payload = inp.take(clen)
        if len(payload) < clen:
            ctx.stats.truncated = True
            return
        ctx.guard.check(n)
        block: bytes | bytearray
        if method == _LZ4_RAW:
            block = payload.tobytes()
        else:
            block = bytearray(n)
            try:
                got = decompress_into(payload, block, output_len=n)
            except cramjam.DecompressionError as exc:
                raise ctx.corrupt(f"bad LZ4 block: {exc}", at) from None
            if got != n:
                raise ctx.corrupt(f"LZ4 block decodes to {got} bytes, header says {n}", at)
        if xxh32(block, _LZ4_SEED) & 0x0FFFFFFF != check:
            raise ctx.corrupt("LZ4Block checksum mismatch", at)
        yield block


# --- snappy --------------------------------------------------------------------------
# snappy-java SnappyOutputStream (org.xerial.snappy): a 16-byte header, magic
# "\x82SNAPPY\x00" | version int32 BE | min compatible version int32 BE, then chunks of
# compressed length int32 BE + one raw snappy block. SnappyInputStream accepts the
# header again where a chunk length should be (concatenated streams) and rejects
# negative lengths or lengths over 512 MiB.
_SNAPPY_HEADER_SIZE: Final = 16
_SNAPPY_HEAD_WORD: Final = int.from_bytes(_SNAPPY_MAGIC[:4], "big", signed=True)
_SNAPPY_MAX_CHUNK: Final = 512 << 20


def _snappy(ctx: _Ctx) -> Iterator[bytes | bytearray]:
    inp = ctx.inp
    raw_len = cramjam.snappy.decompress_raw_len
    decompress_into = cramjam.snappy.decompress_raw_into
    at = inp.offset
    header = inp.take(_SNAPPY_HEADER_SIZE)
    if not _snappy_header(ctx, header, at):
        return
    while True:
        at = inp.offset
        length = inp.take(4)
        if len(length) < 4:
            if length:
                ctx.stats.truncated = True
            return
        clen = int.from_bytes(length, "big", signed=True)
        if clen == _SNAPPY_HEAD_WORD:
            rest = inp.take(_SNAPPY_HEADER_SIZE - 4)
            if not _snappy_header(ctx, length.tobytes() + rest.tobytes(), at):
                return
            continue
        if clen <= 0 or clen > _SNAPPY_MAX_CHUNK:
            raise ctx.corrupt(f"bad snappy chunk length {clen}", at)
        payload = inp.take(clen)
        if len(payload) < clen:
            ctx.stats.truncated = True
            return
        try:
            n = raw_len(payload)
            ctx.guard.check(n)
            block = bytearray(n)
            got = decompress_into(payload, block)
        except cramjam.DecompressionError as exc:
            raise ctx.corrupt(f"bad snappy chunk: {exc}", at) from None
        if got != n:
            raise ctx.corrupt(f"snappy chunk decodes to {got} bytes, expected {n}", at)
        yield block


def _snappy_header(ctx: _Ctx, header: memoryview | bytes, at: int) -> bool:
    """Check a stream header; False if the stream ended inside it."""
    if len(header) < _SNAPPY_HEADER_SIZE:
        if header:
            ctx.cut(memoryview(header), _SNAPPY_MAGIC, "snappy-java", at)
        return False
    if bytes(header[:8]) != _SNAPPY_MAGIC:
        raise ctx.corrupt(f"bad snappy-java magic {bytes(header[:8]).hex()}", at)
    return True


# --- lzf -----------------------------------------------------------------------------
# ning compress-lzf LZFOutputStream (com.ning.compress.lzf.LZFChunk): chunks of
# "ZV" | type | ...; type 0 (stored): uint16 BE length + bytes; type 1 (compressed):
# uint16 BE compressed length, uint16 BE original length + liblzf data. Chunks hold at
# most 64 KiB.
_LZF_STORED: Final = 0
_LZF_COMPRESSED: Final = 1


def _lzf(ctx: _Ctx) -> Iterator[bytes | bytearray]:
    inp = ctx.inp
    decompress = lzf.decompress
    while True:
        at = inp.offset
        head = inp.take(5)
        if len(head) < 5:
            if head:
                ctx.cut(head, _LZF_MAGIC, "LZF chunk", at)
            return
        if head[:2].tobytes() != _LZF_MAGIC:
            raise ctx.corrupt(f"bad LZF chunk magic {head[:2].hex()}", at)
        kind = head[2]
        length = int.from_bytes(head[3:5], "big")
        if kind == _LZF_STORED:
            body = inp.take(length)
            if len(body) < length:
                ctx.stats.truncated = True
                return
            ctx.guard.check(length)
            yield body.tobytes()
        elif kind == _LZF_COMPRESSED:
            more = inp.take(2 + length)
            if len(more) < 2 + length:
                ctx.stats.truncated = True
                return
            n = int.from_bytes(more[:2], "big")
            ctx.guard.check(n)
            block = decompress(more[2:].tobytes(), n) if n else b""
            if block is None or len(block) != n:
                raise ctx.corrupt(f"bad LZF chunk ({length} bytes -> {n})", at)
            yield block
        else:
            raise ctx.corrupt(f"bad LZF chunk type {kind}", at)


# --- gzip ----------------------------------------------------------------------------
# RFC 1952 members, possibly many (Databricks rotated parts, `cat a.gz b.gz`), possibly
# followed by zero padding, which Python's gzip module also tolerates.
_GZIP_SLICE: Final = 64 << 10  # input per inflate call, so offsets stay close


def _gzip(ctx: _Ctx) -> Iterator[bytes | bytearray]:
    inp = ctx.inp
    dobj: zlib._Decompress | None = None
    member_at = member_out = 0
    while stored := inp.take_some():
        piece = memoryview(stored)
        piece_end = inp.offset
        start = 0
        while start < len(piece):
            if dobj is None:
                if piece[start] == 0:  # padding between or after members
                    tail = piece[start:].tobytes()
                    start += len(tail) - len(tail.lstrip(b"\0"))
                    continue
                dobj = zlib.decompressobj(wbits=31)
                member_at = piece_end - len(piece) + start
                member_out = 0
            data: bytes | memoryview = piece[start : start + _GZIP_SLICE]
            start += len(data)
            while True:
                at = piece_end - len(piece) + start - len(data)
                try:
                    out = dobj.decompress(data, _OUT_CHUNK)
                except zlib.error as exc:
                    # Nothing out of this member yet: its header is bad, name its start.
                    raise ctx.corrupt(
                        f"bad gzip data in the member starting at byte {member_at}: {exc}",
                        at if member_out else member_at,
                    ) from None
                if out:
                    member_out += len(out)
                    yield out
                if dobj.eof:
                    # Bytes past this member go back to the piece for the next one.
                    start -= len(dobj.unused_data)
                    dobj = None
                    break
                data = dobj.unconsumed_tail
                if not data and len(out) < _OUT_CHUNK:
                    break
    if dobj is not None:
        ctx.stats.truncated = True


_DECODERS: Mapping[str, Callable[[_Ctx], Iterator[bytes | bytearray]]] = MappingProxyType(
    {
        "none": _plain,
        "zstd": _zstd,
        "lz4": _lz4,
        "snappy": _snappy,
        "lzf": _lzf,
        "gzip": _gzip,
    }
)
