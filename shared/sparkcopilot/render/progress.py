"""A progress bar on stderr while a big log is read (only when stderr is a terminal)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ..eventlog import ReadProgress

#: Logs smaller than this read in a second or two: a bar would only flicker.
LARGE_LOG_BYTES = 64 << 20


@contextmanager
def reading_progress(
    label: str, stream: TextIO | None = None, *, min_bytes: int = LARGE_LOG_BYTES
) -> Iterator[ReadProgress | None]:
    """A callback for ``read_application(progress=...)`` drawing a bar on ``stream``
    (stderr) once the log proves large, or None when ``stream`` is not a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield None
        return
    bar = Progress(
        TextColumn("reading {task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream),
        transient=True,
    )
    task: TaskID | None = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            if max(done, total) < min_bytes:
                return
            bar.start()
            task = bar.add_task(Path(label).name or label, total=total or None)
        bar.update(task, completed=done)

    try:
        yield update
    finally:
        bar.stop()
