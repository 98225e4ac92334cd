"""Rules: pure functions ``(Application, Thresholds) -> list[Finding]``, one per module.

A reader finds the skew rule in ``rules/skew.py``. The tuple below is the engine's whole
rule set; each agent runs its share of them (``analysis/agents.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from ...model import Application
from ..findings import Finding
from ..thresholds import Thresholds
from .aqe import aqe_disabled
from .broadcast import broadcast_join_missed
from .cartesian import cartesian_join
from .driver import driver_bottleneck
from .failures import task_failures
from .full_scan import full_scan
from .gc import gc_pressure
from .idle import idle_executors
from .memory import executor_memory_waste
from .partitions import partition_counts
from .python_udf import python_udf
from .skew import data_skew
from .small_files import small_files
from .spill import disk_spill

Rule = Callable[[Application, Thresholds], list[Finding]]

__all__ = [
    "RULES",
    "Rule",
    "aqe_disabled",
    "broadcast_join_missed",
    "cartesian_join",
    "data_skew",
    "disk_spill",
    "driver_bottleneck",
    "executor_memory_waste",
    "full_scan",
    "gc_pressure",
    "idle_executors",
    "partition_counts",
    "python_udf",
    "small_files",
    "task_failures",
]

RULES: tuple[Rule, ...] = (
    data_skew,
    disk_spill,
    partition_counts,
    aqe_disabled,
    executor_memory_waste,
    task_failures,
    gc_pressure,
    idle_executors,
    driver_bottleneck,
    python_udf,
    broadcast_join_missed,
    cartesian_join,
    small_files,
    full_scan,
)
