"""Rules: pure functions ``(Application, Thresholds) -> list[Finding]``, one per module.

A reader finds the skew rule in ``rules/skew.py``. The tuple below is the engine's whole
rule set; an agent runs the rules of its own kinds (see ``analysis/agents.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from ...model import Application
from ..findings import Finding
from ..thresholds import Thresholds
from .driver import driver_bottleneck
from .failures import task_failures
from .gc import gc_pressure
from .idle import idle_executors
from .partitions import partition_counts
from .skew import data_skew
from .spill import disk_spill

Rule = Callable[[Application, Thresholds], list[Finding]]

RULES: tuple[Rule, ...] = (
    data_skew,
    disk_spill,
    partition_counts,
    task_failures,
    gc_pressure,
    idle_executors,
    driver_bottleneck,
)
