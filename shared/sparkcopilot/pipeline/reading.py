"""Reading a log kept in a blob store: one object, or a rolling log's folder."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import BinaryIO

from ..config import ReaderSettings
from ..errors import NotAnEventLogError, UsageError
from ..eventlog import read_objects
from ..model import Application
from .ports import BlobStore, StoredObject


def split_gs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/some/object`` → ``("bucket", "some/object")``."""
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not bucket:
        raise UsageError(f"{uri}: not a gs://bucket/object URI")
    return bucket, name


def read_stored(
    blobs: BlobStore, display: str, parts: Sequence[StoredObject], settings: ReaderSettings
) -> Application:
    """The log made of these objects (of one folder), each streamed from the store."""
    by_name = {posixpath.basename(o.name): o for o in parts}

    def open_part(name: str) -> AbstractContextManager[BinaryIO]:
        return blobs.open(by_name[name].bucket, by_name[name].name)

    return read_objects(display, list(by_name), open_part, settings)


def read_uri(blobs: BlobStore, uri: str, settings: ReaderSettings) -> Application:
    """``gs://bucket/object``, or ``gs://bucket/folder`` holding one rolling log."""
    bucket, name = split_gs_uri(uri)
    found = blobs.stat(bucket, name) if name and not name.endswith("/") else None
    if found is not None:
        return read_stored(blobs, uri, [found], settings)
    folder = name.rstrip("/") + "/" if name else ""
    parts = [o for o in blobs.list(bucket, folder) if "/" not in o.name[len(folder) :]]
    if not parts:
        raise NotAnEventLogError(uri, "no such object or folder")
    return read_stored(blobs, uri, parts, settings)
