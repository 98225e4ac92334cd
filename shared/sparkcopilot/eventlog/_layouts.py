"""Which files make up one application's log, in which order.

Layouts (DESIGN.md §2): a single file (``.inprogress`` while running); Spark 3+'s rolling
directory ``eventlog_v2_<appId>/events_<N>_<appId>[.<codec>]`` with an
``appstatus_<appId>[.inprogress]`` marker; a Databricks cluster-log folder (``eventlog``
being written plus rotated ``eventlog-<date>.gz``); Spark 1.x's directory of
``EVENT_LOG_<N>`` with ``SPARK_VERSION_<v>`` and ``APPLICATION_COMPLETE`` markers.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import NotAnEventLogError
from ..model import Layout

_ROLLING_PART = re.compile(r"^events_(\d+)_")
# The history server compacts earlier parts into ``events_<N>_<appId>[.<codec>].compact``.
_COMPACT = ".compact"
_DATABRICKS_ROTATED = re.compile(r"^eventlog-(.+)\.gz$")
_LEGACY_PART = re.compile(r"^EVENT_LOG_(\d+)$")
_LEGACY_VERSION = "SPARK_VERSION_"
_INPROGRESS = ".inprogress"


@dataclass(frozen=True, slots=True)
class ResolvedLog:
    """The parts of one log in reading order and what the layout itself says."""

    display: str
    layout: Layout
    #: Part names in reading order, relative to ``container``.
    parts: tuple[str, ...]
    #: The directory holding the parts, or the zip archive when ``archive``.
    container: Path
    archive: bool = False
    #: False when a marker says the application was still running; None when it is silent.
    finished_marker: bool | None = None
    spark_version_hint: str | None = None

    def paths(self) -> tuple[Path, ...]:
        """The parts as files (only for logs that are not inside an archive)."""
        return tuple(self.container / name for name in self.parts)


def resolve(path: Path) -> ResolvedLog:
    if not path.exists():
        raise NotAnEventLogError(str(path), "no such file or directory")
    if path.is_file():
        if zipfile.is_zipfile(path):
            return _archive(path)
        return single_part(str(path), path.parent, path.name)
    names = sorted(p.name for p in path.iterdir() if p.is_file())
    found = layout_of(str(path), path, names, archive=False)
    if found is not None:
        return found
    if len(names) == 1:
        return resolve(path / names[0])
    raise NotAnEventLogError(
        str(path),
        "directory is not a Spark event-log layout (rolling eventlog_v2_*, Databricks "
        "eventlog, or Spark 1.x EVENT_LOG_*); pass one application's log",
    )


def single_part(display: str, container: Path, name: str, *, archive: bool = False) -> ResolvedLog:
    layout: Layout = "inprogress" if name.endswith(_INPROGRESS) else "single"
    finished = False if layout == "inprogress" else None
    return ResolvedLog(display, layout, (name,), container, archive, finished)


def _archive(path: Path) -> ResolvedLog:
    """A zip of one application's log, as the history server's "Download" gives it
    (``/api/v1/applications/<id>/logs``): a single file or one log directory inside."""
    with zipfile.ZipFile(path) as archive:
        members = [i.filename for i in archive.infolist() if not i.is_dir()]
    folders = {posixpath.dirname(m) for m in members}
    if len(folders) != 1:
        raise NotAnEventLogError(
            str(path), f"zip holds {len(members)} files in {len(folders)} folders: not one log"
        )
    folder = folders.pop()
    names = sorted(posixpath.basename(m) for m in members)
    prefix = f"{folder}/" if folder else ""
    found = layout_of(str(path), path, names, archive=True)
    if found is not None:
        return replace(found, parts=tuple(prefix + n for n in found.parts))
    if len(names) == 1:
        return single_part(str(path), path, prefix + names[0], archive=True)
    raise NotAnEventLogError(str(path), "zip is not one Spark event log")


def layout_of(
    display: str, container: Path, names: list[str], *, archive: bool
) -> ResolvedLog | None:
    for resolver in (_rolling, _databricks, _legacy):
        found = resolver(names)
        if found is not None:
            layout, parts, finished, version = found
            return ResolvedLog(display, layout, parts, container, archive, finished, version)
    return None


_Found = tuple[Layout, tuple[str, ...], bool | None, str | None]


def _rolling(names: list[str]) -> _Found | None:
    parts: list[tuple[int, bool, str]] = []
    for name in names:
        m = _ROLLING_PART.match(name)
        if m:
            parts.append((int(m.group(1)), name.endswith(_COMPACT), name))
    if not parts:
        return None
    parts.sort()
    # A compacted part holds everything before it: reading starts at the last one.
    compacted = [i for i, (_, is_compact, _) in enumerate(parts) if is_compact]
    if compacted:
        parts = parts[compacted[-1] :]
    status = [n for n in names if n.startswith("appstatus_")]
    finished: bool | None = None
    if status:
        finished = not any(n.endswith(_INPROGRESS) for n in status)
    return "rolling", tuple(name for _, _, name in parts), finished, None


def _databricks(names: list[str]) -> _Found | None:
    rotated = sorted(n for n in names if _DATABRICKS_ROTATED.match(n))
    current = [n for n in names if n == "eventlog"]
    if not rotated and not current:
        return None
    # Rotated names end in a sortable date (eventlog-2026-11-28--14-37.gz); the file
    # still being written, ``eventlog``, holds the newest events.
    return "databricks", (*rotated, *current), None, None


def _legacy(names: list[str]) -> _Found | None:
    parts = sorted((int(m.group(1)), n) for n in names if (m := _LEGACY_PART.match(n)))
    if not parts:
        return None
    version = next(
        (n[len(_LEGACY_VERSION) :] for n in names if n.startswith(_LEGACY_VERSION)), None
    )
    return "legacy_dir", tuple(n for _, n in parts), "APPLICATION_COMPLETE" in names, version
