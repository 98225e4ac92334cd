"""Which files make up one application's log, in which order.

Layouts (DESIGN.md §2): a single file (``.inprogress`` while running); Spark 3+'s rolling
directory ``eventlog_v2_<appId>/events_<N>_<appId>[.<codec>]`` with an
``appstatus_<appId>[.inprogress]`` marker; a Databricks cluster-log folder (``eventlog``
being written plus rotated ``eventlog-<date>.gz``); Spark 1.x's directory of
``EVENT_LOG_<N>`` with ``SPARK_VERSION_<v>`` and ``APPLICATION_COMPLETE`` markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
    parts: tuple[Path, ...]
    #: False when a marker says the application was still running; None when it is silent.
    finished_marker: bool | None = None
    spark_version_hint: str | None = None


def resolve(path: Path) -> ResolvedLog:
    if not path.exists():
        raise NotAnEventLogError(str(path), "no such file or directory")
    if path.is_file():
        layout: Layout = "inprogress" if path.name.endswith(_INPROGRESS) else "single"
        return ResolvedLog(str(path), layout, (path,), False if layout == "inprogress" else None)
    names = sorted(p.name for p in path.iterdir() if p.is_file())
    for resolver in (_rolling, _databricks, _legacy):
        found = resolver(path, names)
        if found is not None:
            return found
    if len(names) == 1:
        return resolve(path / names[0])
    raise NotAnEventLogError(
        str(path),
        "directory is not a Spark event-log layout (rolling eventlog_v2_*, Databricks "
        "eventlog, or Spark 1.x EVENT_LOG_*); pass one application's log",
    )


def _rolling(path: Path, names: list[str]) -> ResolvedLog | None:
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
    return ResolvedLog(
        str(path), "rolling", tuple(path / name for _, _, name in parts), finished_marker=finished
    )


def _databricks(path: Path, names: list[str]) -> ResolvedLog | None:
    rotated = sorted(n for n in names if _DATABRICKS_ROTATED.match(n))
    current = [n for n in names if n == "eventlog"]
    if not rotated and not current:
        return None
    # Rotated names end in a sortable date (eventlog-2026-11-28--14-37.gz); the file
    # still being written, ``eventlog``, holds the newest events.
    return ResolvedLog(str(path), "databricks", tuple(path / n for n in (*rotated, *current)))


def _legacy(path: Path, names: list[str]) -> ResolvedLog | None:
    parts = sorted((int(m.group(1)), n) for n in names if (m := _LEGACY_PART.match(n)))
    if not parts:
        return None
    version = next(
        (n[len(_LEGACY_VERSION) :] for n in names if n.startswith(_LEGACY_VERSION)), None
    )
    return ResolvedLog(
        str(path),
        "legacy_dir",
        tuple(path / n for _, n in parts),
        finished_marker="APPLICATION_COMPLETE" in names,
        spark_version_hint=version,
    )
