"""Streaming codec decoders: round trips, truncation, corruption, bombs, real Spark files.

The encoders below are written from the framing specifications (lz4-java
LZ4BlockOutputStream, snappy-java SnappyOutputStream, ning compress-lzf LZFChunk, RFC 8878
zstd frames, RFC 1952 gzip members) with encoders other than the decoder's where one
exists (the ``lz4`` package for LZ4 blocks), so the decoder is not checked against itself.

``tests/data/codecs/`` holds the smallest Spark-written log of each codec, copied from
``/work/shared/eventlogs/generated`` (Spark 3.5.3 / 4.0.1, ``local-cluster`` runs).
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import random
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import cramjam
import lz4.block
import lzf
import pytest
import xxhash
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkcopilot.errors import CorruptLogError, LogTooLargeError
from sparkcopilot.eventlog._codecs import (
    CODEC_BY_SUFFIX,
    Codec,
    DecodeStats,
    decoded_chunks,
    sniff_codec,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "codecs"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "eventlogs"
GENERATED = CORPUS / "generated"
BIG = 1 << 40
CODECS: tuple[Codec, ...] = ("zstd", "lz4", "snappy", "lzf", "gzip")

# An encoded stream plus, for every offset where a cut is clean (a block, frame, member
# or stream boundary), how many decoded bytes precede it.
Encoded = tuple[bytes, dict[int, int]]
Draw = Callable[[st.SearchStrategy[int]], int]


class ShortReads:
    """A read-only stream returning random short reads, with no seek at all."""

    def __init__(self, data: bytes, seed: int = 0) -> None:
        self._buf = io.BytesIO(data)
        self._rng = random.Random(seed)
        self.largest_request = 0

    def read(self, n: int = -1) -> bytes:
        assert n > 0, "the decoder must never read the whole stream at once"
        self.largest_request = max(self.largest_request, n)
        return self._buf.read(self._rng.randint(1, n))


def decode(
    data: bytes,
    codec: Codec,
    *,
    read_size: int = 1 << 20,
    seed: int = 0,
    source: str = "test.log",
    max_decoded_bytes: int = BIG,
    max_ratio: float = 200.0,
) -> tuple[bytes, DecodeStats]:
    stats = DecodeStats()
    raw = ShortReads(data, seed)
    chunks = list(
        decoded_chunks(
            raw,
            codec,
            source=source,
            stats=stats,
            max_decoded_bytes=max_decoded_bytes,
            max_ratio=max_ratio,
            read_size=read_size,
        )
    )
    assert raw.largest_request <= read_size
    assert all(type(c) is bytes and c for c in chunks)
    return b"".join(chunks), stats


def concat(parts: list[Encoded]) -> Encoded:
    """Streams one after the other, as `cat` or an appending writer would leave them."""
    out = b""
    decoded = 0
    bounds = {0: 0}
    for enc, part_bounds in parts:
        for off, n in part_bounds.items():
            bounds[len(out) + off] = decoded + n
        out += enc
        decoded += max(part_bounds.values())
    return out, bounds


def blocks_of(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


# --- encoders ---------------------------------------------------------------------------

LZ4_SEED = 0x9747B28C


def lz4_block(chunk: bytes, level: int, *, raw: bool) -> bytes:
    """One lz4-java block: magic, token, lengths, masked XXH32, payload."""
    check = xxhash.xxh32_intdigest(chunk, LZ4_SEED) & 0x0FFFFFFF
    payload: bytes = lz4.block.compress(chunk, store_size=False)
    if raw or len(payload) >= len(chunk):
        method, payload = 0x10, chunk
    else:
        method = 0x20
    return (
        b"LZ4Block"
        + struct.pack("<Biii", method | level, len(payload), len(chunk), check)
        + payload
    )


def lz4_stream(data: bytes, block_size: int, draw: Draw, *, finish: bool = True) -> Encoded:
    # LZ4BlockOutputStream: level = ceil(log2(blockSize)) - 10, at least 0.
    level = max(0, (block_size - 1).bit_length() - 10)
    out = b""
    bounds = {0: 0}
    done = 0
    for chunk in blocks_of(data, block_size):
        out += lz4_block(chunk, level, raw=bool(draw(st.integers(0, 3)) == 0))
        done += len(chunk)
        bounds[len(out)] = done
    if finish:
        out += b"LZ4Block" + struct.pack("<Biii", 0x10 | level, 0, 0, 0)
        bounds[len(out)] = done
    return out, bounds


SNAPPY_HEADER = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)


def snappy_stream(data: bytes, block_size: int, draw: Draw) -> Encoded:
    out = SNAPPY_HEADER
    bounds = {0: 0, len(out): 0}
    done = 0
    for chunk in blocks_of(data, block_size):
        payload = bytes(cramjam.snappy.compress_raw(chunk))
        out += struct.pack(">i", len(payload)) + payload
        done += len(chunk)
        bounds[len(out)] = done
    return out, bounds


def lzf_stream(data: bytes, block_size: int, draw: Draw) -> Encoded:
    out = b""
    bounds = {0: 0}
    done = 0
    for chunk in blocks_of(data, min(block_size, 0xFFFF)):
        packed = None if draw(st.integers(0, 3)) == 0 else lzf.compress(chunk)
        if packed is None:  # incompressible, or a stored chunk on purpose
            out += b"ZV\x00" + struct.pack(">H", len(chunk)) + chunk
        else:
            out += b"ZV\x01" + struct.pack(">HH", len(packed), len(chunk)) + packed
        done += len(chunk)
        bounds[len(out)] = done
    return out, bounds


def zstd_stream(data: bytes, block_size: int, draw: Draw) -> Encoded:
    """One frame, written either in one call or flushed block by block (as Spark's
    ZstdOutputStream does on each flush), optionally after a skippable frame."""
    out = b""
    bounds = {0: 0}
    if draw(st.integers(0, 4)) == 0:
        skipped = b"x" * draw(st.integers(0, 40))
        magic = 0x184D2A50 + draw(st.integers(0, 15))
        out += struct.pack("<II", magic, len(skipped)) + skipped
        bounds[len(out)] = 0
    checksum = bool(draw(st.integers(0, 1)))
    compressor = zstandard.ZstdCompressor(level=draw(st.integers(1, 5)), write_checksum=checksum)
    if draw(st.integers(0, 1)):
        out += compressor.compress(data)
    else:
        cobj = compressor.compressobj()
        for chunk in blocks_of(data, block_size):
            out += cobj.compress(chunk) + cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        out += cobj.flush()
    bounds[len(out)] = len(data)
    return out, bounds


def gzip_stream(data: bytes, block_size: int, draw: Draw) -> Encoded:
    out = gzip.compress(data, compresslevel=draw(st.integers(1, 9)), mtime=0)
    bounds = {0: 0, len(out): len(data)}
    padding = draw(st.integers(0, 3)) if draw(st.integers(0, 4)) == 0 else 0
    for _ in range(padding):  # zero padding after a member is tolerated, like gzip's
        out += b"\0"
        bounds[len(out)] = len(data)
    return out, bounds


ENCODERS: dict[Codec, Callable[[bytes, int, Draw], Encoded]] = {
    "zstd": zstd_stream,
    "lz4": lz4_stream,
    "snappy": snappy_stream,
    "lzf": lzf_stream,
    "gzip": gzip_stream,
}

# Payloads: incompressible bytes, long repeats and event-log-like lines, mixed.
payloads = st.lists(
    st.one_of(
        st.binary(max_size=2000),
        st.builds(
            lambda unit, n: unit * n, st.binary(min_size=1, max_size=40), st.integers(1, 300)
        ),
        st.builds(
            lambda i, n: b'{"Event":"SparkListenerTaskEnd","Stage ID":%d}\n' % i * n,
            st.integers(0, 10**6),
            st.integers(1, 80),
        ),
    ),
    max_size=4,
).map(b"".join)


def encode(codec: Codec, data: st.DataObject) -> tuple[bytes, dict[int, int], bytes]:
    """Draw one to three payloads, each encoded as a whole stream, concatenated."""
    segments = data.draw(st.lists(payloads, min_size=1, max_size=3), label="segments")
    parts = []
    for segment in segments:
        block_size = data.draw(st.integers(1, 3000), label="block_size")
        parts.append(ENCODERS[codec](segment, block_size, data.draw))
    enc, bounds = concat(parts)
    return enc, bounds, b"".join(segments)


PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("codec", CODECS)
@PROPERTY
@given(data=st.data())
def test_round_trip(codec: Codec, data: st.DataObject) -> None:
    enc, _, original = encode(codec, data)
    read_size = data.draw(st.integers(1, len(enc) + 1), label="read_size")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    out, stats = decode(enc, codec, read_size=read_size, seed=seed)
    assert out == original
    assert not stats.truncated
    assert stats.compressed_bytes == len(enc)
    assert stats.decoded_bytes == len(original)


@pytest.mark.parametrize("codec", CODECS)
@PROPERTY
@given(data=st.data())
def test_truncated_stream_yields_a_prefix(codec: Codec, data: st.DataObject) -> None:
    enc, bounds, original = encode(codec, data)
    cut = data.draw(st.integers(0, len(enc)), label="cut")
    read_size = data.draw(st.integers(1, 4096), label="read_size")
    out, stats = decode(enc[:cut], codec, read_size=read_size, seed=cut)
    assert original.startswith(out)
    if cut in bounds:
        assert not stats.truncated
        assert len(out) == bounds[cut]
    else:
        assert stats.truncated
    assert stats.compressed_bytes == cut


def test_none_passes_bytes_through() -> None:
    data = b'{"Event":"SparkListenerLogStart"}\n' * 1000
    out, stats = decode(data, "none", read_size=333, seed=3)
    assert out == data
    assert stats.compressed_bytes == stats.decoded_bytes == len(data)


def test_output_comes_in_large_chunks() -> None:
    data = b'{"Event":"SparkListenerTaskEnd","Task Info":{"Task ID":1}}\n' * 100_000
    enc, _ = lz4_stream(data, 32 << 10, lambda s: 1)
    chunks = list(
        decoded_chunks(
            io.BytesIO(enc),
            "lz4",
            source="x",
            stats=DecodeStats(),
            max_decoded_bytes=BIG,
            max_ratio=200,
        )
    )
    assert b"".join(chunks) == data
    assert all(len(c) >= 1 << 20 for c in chunks[:-1])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="codec"):
        decode(b"", cast(Codec, "brotli"))
    with pytest.raises(ValueError, match="read_size"):
        decode(b"", "none", read_size=0)


# --- corruption -------------------------------------------------------------------------


def corrupt_error(
    data: bytes, codec: Codec, source: str = "app.log"
) -> tuple[CorruptLogError, bytes]:
    """The error, and what was yielded before it."""
    got = []
    stats = DecodeStats()
    with pytest.raises(CorruptLogError) as info:
        for chunk in decoded_chunks(
            ShortReads(data, 1),
            codec,
            source=source,
            stats=stats,
            max_decoded_bytes=BIG,
            max_ratio=200,
            read_size=1000,
        ):
            got.append(chunk)
    return info.value, b"".join(got)


def test_lz4_bad_checksum_names_the_block() -> None:
    blocks = [bytes([i]) * 3000 + b"tail" for i in range(3)]
    encoded = [lz4_block(b, 2, raw=False) for b in blocks]
    second_at = len(encoded[0])
    bad = bytearray(encoded[1])
    bad[17] ^= 0x01  # the checksum field: bytes 17..20 of the header
    data = encoded[0] + bytes(bad) + encoded[2]
    error, before = corrupt_error(data, "lz4", source="events.lz4")
    assert error.offset == second_at
    assert f"events.lz4 at byte {second_at}:" in str(error)
    assert "checksum" in str(error)
    assert before == blocks[0]  # what was complete before the bad block still came out


def test_lz4_bad_lengths_and_method() -> None:
    good = lz4_block(b"abc" * 100, 0, raw=False)
    too_long = b"LZ4Block" + struct.pack("<Biii", 0x20, 10, 5000, 0) + b"x" * 10  # > 1 KiB
    error, _ = corrupt_error(good + too_long, "lz4")
    assert error.offset == len(good)
    bad_method = b"LZ4Block" + struct.pack("<Biii", 0x30, 3, 3, 0) + b"abc"
    error, _ = corrupt_error(bad_method, "lz4")
    assert error.offset == 0
    negative = b"LZ4Block" + struct.pack("<Biii", 0x20, -1, 3, 0)
    assert corrupt_error(negative, "lz4")[0].offset == 0


def test_lz4_payload_that_does_not_decode() -> None:
    chunk = b"spark " * 500
    block = bytearray(lz4_block(chunk, 2, raw=False))
    block[21:40] = b"\xff" * 19
    error, _ = corrupt_error(bytes(block), "lz4")
    assert error.offset == 0


# Garbage where the next block, chunk, frame or member should start.
GARBAGE = b"this is not a block header at all, just text\n"


@pytest.mark.parametrize("codec", CODECS)
def test_garbage_after_a_valid_stream(codec: Codec) -> None:
    data = b'{"Event":"SparkListenerJobStart"}\n' * 300
    enc, _ = ENCODERS[codec](data, 1024, lambda s: 1)
    error, before = corrupt_error(enc + GARBAGE, codec)
    assert error.offset == len(enc)
    assert f"at byte {len(enc)}:" in str(error)
    assert before == data


@pytest.mark.parametrize("codec", ["lz4", "lzf", "zstd"])
def test_a_few_garbage_bytes_at_the_end_are_corrupt_not_truncated(codec: Codec) -> None:
    enc, _ = ENCODERS[codec](b"abc" * 100, 64, lambda s: 1)
    error, _ = corrupt_error(enc + b"xy", codec)
    assert error.offset == len(enc)


def test_lzf_bad_chunk_type() -> None:
    good, _ = lzf_stream(b"hello lzf " * 50, 100, lambda s: 1)
    error, before = corrupt_error(good + b"ZV\x02\x00\x03abc", "lzf")
    assert error.offset == len(good)
    assert "type 2" in str(error)
    assert before == b"hello lzf " * 50


def test_lzf_compressed_chunk_that_does_not_decode() -> None:
    error, _ = corrupt_error(b"ZV\x01\x00\x03\x00\x64\xff\xff\xff", "lzf")
    assert error.offset == 0


def test_snappy_bad_chunks() -> None:
    head = SNAPPY_HEADER
    assert corrupt_error(head + struct.pack(">i", -5), "snappy")[0].offset == 16
    assert corrupt_error(head + struct.pack(">i", 0), "snappy")[0].offset == 16
    error, _ = corrupt_error(head + struct.pack(">i", 5) + b"\xff" * 5, "snappy")
    assert error.offset == 16
    assert corrupt_error(b"\x82SNAPPX\x00" + b"\0" * 20, "snappy")[0].offset == 0


def test_snappy_header_again_mid_stream_is_accepted() -> None:
    one, _ = snappy_stream(b"first " * 100, 50, lambda s: 1)
    two, _ = snappy_stream(b"second " * 100, 70, lambda s: 1)
    assert decode(one + two, "snappy", read_size=7)[0] == b"first " * 100 + b"second " * 100


def test_zstd_bad_content_checksum() -> None:
    data = bytes(range(256)) * 400
    frame = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(data))
    frame[-1] ^= 0xFF
    error, _ = corrupt_error(bytes(frame), "zstd")
    assert error.offset == 0
    assert "zstd" in str(error)


def test_zstd_corrupt_block_in_a_later_frame() -> None:
    first = zstandard.ZstdCompressor().compress(b"first frame " * 100)
    second = bytearray(
        zstandard.ZstdCompressor(write_checksum=True).compress(b"x" * 5000 + bytes(range(256)) * 20)
    )
    second[-10] ^= 0x55
    error, before = corrupt_error(first + bytes(second), "zstd")
    assert error.offset is not None
    assert error.offset >= len(first)
    assert before == b"first frame " * 100


def test_gzip_corrupt_member_data() -> None:
    member = bytearray(gzip.compress(bytes(range(256)) * 100, mtime=0))
    member[-8] ^= 0xFF  # the CRC32 of the trailer
    error, _ = corrupt_error(bytes(member), "gzip")
    assert error.offset is not None
    assert "gzip" in str(error)


def test_wrong_suffix_is_mentioned_in_errors() -> None:
    error, _ = corrupt_error(
        lz4_block(b"abc", 0, raw=True)[:-1] + b"?" + b"LZ4Blo", "lz4", "x.snappy"
    )
    assert "the name says snappy" in str(error)
    assert CODEC_BY_SUFFIX[".snappy"] == "snappy"


def test_stream_not_in_the_claimed_codec_is_corrupt_at_zero() -> None:
    text = b'{"Event":"SparkListenerLogStart","Spark Version":"3.5.3"}\n'
    for codec in CODECS:
        assert corrupt_error(text, codec)[0].offset == 0, codec


# --- size and bomb guards ---------------------------------------------------------------


@functools.cache
def zeros_gzip(total: int) -> bytes:
    cobj = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join(cobj.compress(block) for _ in range(total >> 20)) + cobj.flush()


@functools.cache
def zeros_zstd(total: int) -> bytes:
    cobj = zstandard.ZstdCompressor(level=3).compressobj()
    block = bytes(1 << 20)
    return b"".join(cobj.compress(block) for _ in range(total >> 20)) + cobj.flush()


def drain(data: bytes, codec: Codec, **limits: float) -> DecodeStats:
    stats = DecodeStats()
    for _ in decoded_chunks(
        io.BytesIO(data),
        codec,
        source="bomb",
        stats=stats,
        max_decoded_bytes=int(limits.get("max_decoded_bytes", BIG)),
        max_ratio=limits.get("max_ratio", 200.0),
    ):
        pass
    return stats


@pytest.mark.parametrize("make, codec", [(zeros_gzip, "gzip"), (zeros_zstd, "zstd")])
def test_bomb_refused_early_with_bounded_memory(make: Callable[[int], bytes], codec: Codec) -> None:
    bomb = make(200 << 20)
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(LogTooLargeError, match="limit"):
            drain(bomb, codec, max_decoded_bytes=8 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2.0
    assert peak < 32 << 20


@pytest.mark.parametrize("make, codec", [(zeros_gzip, "gzip"), (zeros_zstd, "zstd")])
def test_expansion_ratio_refused_past_64_mib(make: Callable[[int], bytes], codec: Codec) -> None:
    bomb = make(200 << 20)
    stats = DecodeStats()
    with pytest.raises(LogTooLargeError, match="bomb"):
        for _ in decoded_chunks(
            io.BytesIO(bomb),
            codec,
            source="bomb",
            stats=stats,
            max_decoded_bytes=BIG,
            max_ratio=200,
        ):
            pass
    assert 60 << 20 <= stats.decoded_bytes <= 66 << 20


def test_high_ratio_below_64_mib_is_fine() -> None:
    small = zeros_zstd(16 << 20)
    assert len(small) * 200 < 16 << 20
    assert drain(small, "zstd").decoded_bytes == 16 << 20


def test_declared_block_size_checked_before_decoding() -> None:
    enc, _ = lz4_stream(bytes(1 << 20) * 3, 1 << 20, lambda s: 1)
    stats = DecodeStats()
    with pytest.raises(LogTooLargeError):
        for _ in decoded_chunks(
            io.BytesIO(enc),
            "lz4",
            source="z.lz4",
            stats=stats,
            max_decoded_bytes=(2 << 20) - 1,
            max_ratio=200,
        ):
            pass
    assert stats.decoded_bytes <= 2 << 20


def test_plain_text_over_the_limit() -> None:
    with pytest.raises(LogTooLargeError):
        drain(b"x" * 5000, "none", max_decoded_bytes=4999)
    assert drain(b"x" * 5000, "none", max_decoded_bytes=5000).decoded_bytes == 5000


# --- sniffing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head, codec",
    [
        (b"\x28\xb5\x2f\xfd\x00\x48\xd1\x01\x00{", "zstd"),
        (struct.pack("<II", 0x184D2A50, 0), "zstd"),
        (struct.pack("<II", 0x184D2A5F, 4) + b"abcd", "zstd"),
        (b"LZ4Block\x25\x07\x38\x00\x00", "lz4"),
        (SNAPPY_HEADER, "snappy"),
        (b"ZV\x00\x00\x3a{", "lzf"),
        (b"ZV\x01\x00\x3a\x10\x00", "lzf"),
        (b"\x1f\x8b\x08\x08", "gzip"),
        (b'{"Event":"SparkListenerLogStart","Spark Version":"3.5.3"}', None),
        (b"ZV\x02\x00", None),
        (b"ZV", None),
        (b"LZ4Blo", None),
        (b"\x82SNAPP", None),
        (b"\x28\xb5\x2f", None),
        (b"\x1f", None),
        (b"", None),
        (b"Event,Time\n1,2\n", None),
    ],
)
def test_sniff_codec(head: bytes, codec: Codec | None) -> None:
    assert sniff_codec(head) == codec


def test_sniff_agrees_with_every_test_encoder() -> None:
    for codec, encoder in ENCODERS.items():
        enc, _ = encoder(b"x" * 100, 50, lambda s: 1)
        assert sniff_codec(enc[:16]) == codec


# --- real Spark-written files -----------------------------------------------------------


def assert_event_lines(data: bytes, name: str) -> None:
    assert data.endswith(b"\n"), name
    lines = data[:-1].split(b"\n")
    assert len(lines) > 10, name
    for line in lines:
        assert line.startswith(b'{"Event":'), (name, line[:80])
    json.loads(lines[0])
    json.loads(lines[-1])


def suffix_codec(path: Path) -> Codec:
    return CODEC_BY_SUFFIX[path.suffix]


BUNDLED = sorted(DATA.glob("*"))


def test_one_bundled_file_per_codec() -> None:
    assert sorted(suffix_codec(p) for p in BUNDLED) == sorted(CODECS)
    assert all(p.stat().st_size < 200_000 for p in BUNDLED)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_real_file(path: Path) -> None:
    stored = path.read_bytes()
    codec = sniff_codec(stored[:16])
    assert codec == suffix_codec(path)
    with path.open("rb") as raw:
        stats = DecodeStats()
        data = b"".join(
            decoded_chunks(
                raw, codec, source=str(path), stats=stats, max_decoded_bytes=BIG, max_ratio=200
            )
        )
    assert_event_lines(data, path.name)
    assert not stats.truncated
    assert stats.compressed_bytes == len(stored)
    assert stats.decoded_bytes == len(data)
    # Tiny, randomly short reads give the same bytes.
    assert decode(stored, codec, read_size=97, seed=5)[0] == data


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_real_file_cut_like_an_in_progress_log(path: Path) -> None:
    stored = path.read_bytes()
    codec = suffix_codec(path)
    whole, _ = decode(stored, codec)
    rng = random.Random(path.name)
    for cut in sorted(rng.sample(range(1, len(stored)), 12)):
        out, stats = decode(stored[:cut], codec, read_size=4096, seed=cut)
        assert whole.startswith(out)
        assert stats.truncated  # Spark's blocks are large: a random cut lands inside one


CORPUS_FILES = (
    sorted(p for p in GENERATED.rglob("*") if p.suffix in CODEC_BY_SUFFIX and p.is_file())
    if GENERATED.is_dir()
    else []
)


@pytest.mark.corpus
@pytest.mark.skipif(not GENERATED.is_dir(), reason="corpus /work/shared/eventlogs absent")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_file_decodes_to_event_lines(path: Path) -> None:
    with path.open("rb") as raw:
        codec = sniff_codec(raw.read(16))
        assert codec == suffix_codec(path)
    with path.open("rb") as raw:
        stats = DecodeStats()
        data = b"".join(
            decoded_chunks(
                raw, codec, source=str(path), stats=stats, max_decoded_bytes=BIG, max_ratio=200
            )
        )
    assert_event_lines(data, path.name)
    assert not stats.truncated


@pytest.mark.corpus
@pytest.mark.skipif(not GENERATED.is_dir(), reason="corpus /work/shared/eventlogs absent")
def test_corpus_labels_agree_with_sniffing() -> None:
    labels = json.loads((CORPUS / "labels.json").read_text())
    checked = 0
    for rel, label in labels.items():
        path = CORPUS / rel
        if not path.is_file():
            continue
        with path.open("rb") as raw:
            sniffed = sniff_codec(raw.read(16))
        assert (sniffed or "none") == label["codec"], rel
        checked += 1
    assert checked > 10
