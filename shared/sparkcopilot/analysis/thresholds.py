"""Every threshold a rule uses, in one typed, overridable place.

Each says where it comes from. Users override them in the settings file's
``[analysis.<group>]`` tables or with ``SPARK_COPILOT_ANALYSIS__<GROUP>__<NAME>``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Limits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SkewLimits(_Limits):
    # DataFlint flags partition skew when the slowest task exceeds 10x the median and
    # 5 s (FIELD_NOTES §2.3); Spark's AQE splits a partition at 5x the median (and
    # 256 MB). We warn at AQE's 5x and call it critical at DataFlint's 10x.
    ratio_warning: float = Field(default=5.0, gt=1)
    ratio_critical: float = Field(default=10.0, gt=1)
    # DataFlint's absolute floor: a slowest task under 5 s is never worth fixing.
    min_max_task_ms: int = Field(default=5_000, ge=0)
    # Dr. Elephant ignores executor skew below 5 min of task time; a stage must hold a
    # real share of the run for its skew to matter: the straggler's excess over the
    # median must be at least this share of the application's wall time.
    min_share_of_app: float = Field(default=0.05, ge=0, le=1)
    # Medians of a handful of tasks mean nothing.
    min_tasks: int = Field(default=4, ge=2)


class PartitionLimits(_Limits):
    """Spill and partition counts (rules/spill.py, rules/partitions.py)."""


class RuntimeLimits(_Limits):
    """Failures, GC, idle executors, driver time (rules/failures.py, gc.py, idle.py, driver.py)."""


class Thresholds(_Limits):
    skew: SkewLimits = SkewLimits()
    partition: PartitionLimits = PartitionLimits()
    runtime: RuntimeLimits = RuntimeLimits()
