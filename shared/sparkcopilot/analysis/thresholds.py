"""Every threshold a rule uses, in one typed, overridable place.

Each says where it comes from. Users override them in the settings file's
``[analysis.<group>]`` tables or with ``SPARK_COPILOT_ANALYSIS__<GROUP>__<NAME>``.
"""

from __future__ import annotations

from typing import Literal

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

    # -- sizing a partition (used by every recommendation, so they agree) --
    # spark-advisor-rules targets 128 MB a partition; spark-rapids AutoTuner keeps task
    # input in [128 MB, 256 MB] (FIELD_NOTES §2.5). We size partitions at 128 MB.
    target_partition_bytes: int = Field(default=128 << 20, gt=0)
    # spark-rapids AutoTuner calls a stage over-partitioned below 10 MB a partition
    # (FIELD_NOTES §2.5): never recommend partitions smaller than this ...
    min_partition_bytes: int = Field(default=10 << 20, gt=0)
    # ... but do give every core a few tasks: Data Mechanics' rule of thumb is
    # partitions ~ 3 x cores (FIELD_NOTES §2.5).
    waves_per_core: int = Field(default=3, ge=1)

    # -- floors shared by the three rules: small stages never alarm --
    # Our own floor: a stage shorter than this cannot give back enough to justify a
    # config change (Dr. Elephant likewise ignores executor imbalance under 5 min of work).
    min_stage_ms: int = Field(default=10_000, ge=0)
    # The stage (spill) or the time at stake (partition counts) must be at least this
    # share of the application's wall time (same 5 % floor as SkewLimits.min_share_of_app).
    min_share_of_app: float = Field(default=0.05, ge=0, le=1)
    # Partition-count findings must also save at least this much wall time.
    min_savings_ms: int = Field(default=5_000, ge=0)

    # -- disk_spill --
    # Spark AQE's advisory partition is 64 MB (FIELD_NOTES §2.5): spilling less than one
    # partition's worth to disk is not worth a change.
    spill_min_disk_bytes: int = Field(default=64 << 20, ge=0)
    # Dr. Elephant (tuning branch) rates execution spill / data processed at
    # 0.01/0.1/0.25/0.5 (FIELD_NOTES §2.1): warn at its "moderate" 0.1, critical at 0.5.
    spill_ratio_warning: float = Field(default=0.1, ge=0)
    spill_ratio_critical: float = Field(default=0.5, ge=0)
    # spark-rapids AutoTuner: spill in a shuffle stage -> partitions x 2
    # (SHUFFLE_PARTITION_MULTIPLIER, FIELD_NOTES §2.5); the minimum growth we recommend.
    spill_partition_multiplier: float = Field(default=2.0, ge=1)
    # Cost model for the savings estimate (our assumption, not a peer number): a core
    # serialises spilled records at ~50 MB/s (RDD sorters and maps; SQL's keep rows in
    # binary form and skip it) and writes then re-reads the spill files at the rate the
    # log's own shuffle writes reached (bytes / shuffle write time: the same compress and
    # write path), or ~100 MB/s of local disk when the log wrote too little to tell.
    spill_serde_bytes_per_s: int = Field(default=50 << 20, gt=0)
    spill_disk_bytes_per_s: int = Field(default=100 << 20, gt=0)
    # Shuffle writes of at least this much measure the disk rate.
    spill_rate_min_write_bytes: int = Field(default=64 << 20, gt=0)
    # Spark's default spark.memory.fraction; a log that lowered it is told to restore it.
    default_memory_fraction: float = Field(default=0.6, gt=0, le=1)

    # -- too_many_partitions --
    # DataFlint's small-task alert: > 5000 tasks with median < 500 ms (FIELD_NOTES §2.3).
    # We keep its 500 ms but lower the count to 1000: per-task overhead of thousands of
    # tasks already costs seconds, while Spark's default of 200 shuffle partitions with
    # AQE off is the aqe_disabled rule's business, not a partition-count mistake.
    many_min_tasks: int = Field(default=1_000, ge=1)
    many_max_median_task_ms: int = Field(default=500, ge=0)
    # The median task must read less than spark-rapids' 10 MB over-partition bound.
    many_max_task_bytes: int = Field(default=10 << 20, ge=0)
    # Tasks over the recommended count: warn at 4x; critical at DataFlint's 10x
    # (it recommends tasks / 10).
    many_ratio_warning: float = Field(default=4.0, gt=1)
    many_ratio_critical: float = Field(default=10.0, gt=1)

    # -- too_few_partitions --
    # Fewer tasks than cores leaves cores idle for the whole stage. Warn below 100 %
    # slot use; critical below spark-advisor-rules' 20 % slot utilisation (FIELD_NOTES §2.5).
    few_slot_use_warning: float = Field(default=1.0, gt=0, le=1)
    few_slot_use_critical: float = Field(default=0.2, gt=0, le=1)
    # "Huge tasks" even with enough of them: 4x spark-rapids' 256 MB upper bound per task
    # (2x its 512 MB cap), well under DataFlint's 5 GB max-partition alert.
    few_huge_task_bytes: int = Field(default=1 << 30, gt=0)
    # A stage whose few tasks compute for long is worth splitting even when it reads
    # under min_partition_bytes: into pieces of at least this much task time each. Spark's
    # tuning guide says it runs tasks as short as 200 ms efficiently; 5x that keeps the
    # fixed cost of the extra tasks to a few percent.
    few_min_split_task_ms: int = Field(default=1_000, gt=0)

    # -- aqe_disabled --
    # A shuffle stage whose median task reads under many_max_task_bytes and runs under
    # many_max_median_task_ms is mostly fixed per-task cost, which AQE's coalescing
    # removes; the same bounds as too_many_partitions, without its task-count floor (a
    # stage of 200 such tasks is AQE's business). The savings floors are the shared ones.

    # -- executor_memory_waste --
    # DataFlint shrinks executors whose peak heap stays under 70 % of it, keeping a 20 %
    # buffer; Delight's target band is 70-90 % (FIELD_NOTES §2.3, §2.5). We recommend the
    # peak plus 25 % (peak at 80 % of the new heap), and act only below 50 % peak use,
    # where the cut is at least 37 %.
    memory_peak_share_warning: float = Field(default=0.5, gt=0, lt=1)
    memory_headroom: float = Field(default=1.25, ge=1)
    # Dr. Elephant's minimum executor memory is 640 MB (FIELD_NOTES §2.1); we never
    # recommend less than 1 GiB, and round to 512 MiB steps.
    memory_min_bytes: int = Field(default=1 << 30, gt=0)
    memory_step_bytes: int = Field(default=512 << 20, gt=0)
    # Absolute floor (ours): under 4 GiB-hours of heap given back (4 executors of 8 GiB
    # halved for 15 minutes) the change is not worth a deployment.
    memory_min_saved_gib_hours: float = Field(default=4.0, ge=0)


class RuntimeLimits(_Limits):
    """Failures, GC, idle executors, driver time (rules/failures.py, gc.py, idle.py, driver.py)."""

    # task_failures. spark-advisor-rules warns on any failed task and calls 10 or more
    # critical (FIELD_NOTES §2.5). Dr. Elephant's task failure-rate bands are
    # 0.1/0.3/0.5/0.5 (§2.1): its critical 0.5 makes a run critical whatever the count.
    # A failed job (stage aborted after spark.task.maxFailures) is always critical.
    failed_tasks_warning: int = Field(default=1, ge=1)
    failed_tasks_critical: int = Field(default=10, ge=1)
    failure_rate_critical: float = Field(default=0.5, gt=0, le=1)
    # gc_pressure. Dr. Elephant's GC/run-time bands are 0.08/0.10/0.15/0.20 (§2.1):
    # we warn at its "moderate" 0.10 and call its "critical" 0.20 critical, which is
    # also spark-advisor-rules' GC > 20 % (§2.5).
    gc_share_warning: float = Field(default=0.10, gt=0, lt=1)
    gc_share_critical: float = Field(default=0.20, gt=0, lt=1)
    # Absolute floor (ours): under 20 s of GC summed over all tasks there is nothing to
    # tune, whatever the share (Dr. Elephant likewise ignores executors under 5 min).
    min_gc_ms: int = Field(default=20_000, ge=0)
    # The share of run time GC takes in a healthy JVM (Dr. Elephant's "too low" band
    # starts at 0.05): the savings estimate counts GC above this.
    gc_share_normal: float = Field(default=0.05, ge=0, lt=1)
    # idle_executors. DataFlint alerts when more than 50 % of the cores are idle
    # (§2.3); spark-advisor-rules calls slot utilisation under 20 % critical (§2.5),
    # i.e. 80 % idle. Measured only while a job runs: start-up before the first job,
    # shutdown after the last and driver gaps between jobs belong to neither (gaps
    # are driver_bottleneck's).
    idle_share_warning: float = Field(default=0.50, gt=0, lt=1)
    idle_share_critical: float = Field(default=0.80, gt=0, lt=1)
    # Absolute floor (ours): under 30 idle core-seconds (a few executors idle for a few
    # seconds) nothing is worth reconfiguring.
    min_idle_core_ms: int = Field(default=30_000, ge=0)
    # driver_bottleneck. Sparklens splits wall time into driver time (no job running)
    # and executor time (§2.2) without a threshold; we warn when the driver takes at
    # least as long as the jobs between the first job's start and the last job's end
    # (share 0.5) and call it critical when it takes three times as long (0.75).
    driver_share_warning: float = Field(default=0.50, gt=0, lt=1)
    driver_share_critical: float = Field(default=0.75, gt=0, lt=1)
    # Absolute floor (ours): under 10 s of driver-side gaps there is little to win.
    min_driver_gap_ms: int = Field(default=10_000, ge=0)
    # Planning and submitting one job takes the driver about a second; the savings
    # estimate counts only each gap's excess over this.
    gap_allowance_ms: int = Field(default=1_000, ge=0)
    # Large results: one stage returning 256 MiB or more to the driver is worth a
    # warning; 80 % of spark.driver.maxResultSize (1g by default, Spark's config docs)
    # is critical, since a job that reaches it is aborted.
    large_result_bytes: int = Field(default=256 << 20, ge=0)
    result_share_of_max_critical: float = Field(default=0.8, gt=0, le=1)


class MetadataLimits(_Limits):
    """Plan-shape rules (rules/python_udf.py, broadcast.py, cartesian.py, small_files.py)."""

    # -- python_udf --
    # Our floor: under 10 s of Python worker time summed over tasks ("time to run Python
    # workers", Spark 4.0+), a row-at-a-time UDF is not worth rewriting; 10x that is
    # critical. Arrow batching typically cuts the serialisation share several-fold
    # (Spark's Arrow-optimized Python UDF docs); we count half the worker time as saved.
    udf_min_python_ms: int = Field(default=10_000, ge=0)
    udf_critical_python_ms: int = Field(default=100_000, ge=0)
    udf_saved_share: float = Field(default=0.5, ge=0, le=1)
    # Logs without the worker-time metric (Spark < 4.0): judge by rows through the UDF.
    # Ours: a CPython call per row costs ~1-10 us, so 1M rows is seconds of worker time.
    udf_min_rows: int = Field(default=1_000_000, ge=0)

    # -- broadcast_join_missed --
    # DataFlint's SMJ->broadcast bands (FIELD_NOTES §2.3): small side < 10 MiB; or
    # < 100 MiB with the big side > 10 GiB; or < 1 GiB with the big side > 300 GiB.
    # (Its 4th band, < 5 GiB & > 1 TiB, exceeds its own 1 GB broadcast-too-large alert,
    # which we keep as a hard cap on what we recommend broadcasting.)
    bcast_small_bytes: int = Field(default=10 << 20, ge=0)
    bcast_mid_small_bytes: int = Field(default=100 << 20, ge=0)
    bcast_mid_big_bytes: int = Field(default=10 << 30, ge=0)
    bcast_large_small_bytes: int = Field(default=1 << 30, ge=0)
    bcast_large_big_bytes: int = Field(default=300 << 30, ge=0)
    # DataFlint's broadcast-too-large alert: never recommend broadcasting over 1 GB.
    bcast_max_bytes: int = Field(default=1 << 30, gt=0)
    # Our floor: shuffling and sorting a big side under 32 MiB costs well under a second;
    # a join whose big side shuffles 10 GiB or more is critical (DataFlint's 2nd band).
    bcast_min_big_bytes: int = Field(default=32 << 20, ge=0)
    bcast_critical_big_bytes: int = Field(default=10 << 30, ge=0)
    # Headroom over the measured small side when recommending the threshold (ours: the
    # optimizer's size estimate differs from the runtime "data size").
    bcast_headroom: float = Field(default=1.5, ge=1)

    # -- cartesian_join --
    # Our floor: 10 M row pairs (two ~3 000-row sides) is where a nested loop costs
    # seconds of CPU; DataFlint's cross-join alert (1e10 scanned rows, FIELD_NOTES §2.3)
    # is critical. A side of fewer than 100 rows makes it a linear filter, not a blow-up.
    cartesian_min_pairs: int = Field(default=10_000_000, ge=0)
    cartesian_critical_pairs: int = Field(default=10_000_000_000, ge=0)
    cartesian_min_side_rows: int = Field(default=100, ge=0)

    # -- small_files --
    # DataFlint's small-files alert: more than 100 files averaging under 3 MB; its ideal
    # file is 128 MB (FIELD_NOTES §2.3). Ours: 10x the file count (1000) averaging under
    # 1 MiB is critical.
    small_min_files: int = Field(default=100, ge=1)
    small_max_avg_bytes: int = Field(default=3_000_000, gt=0)
    small_target_file_bytes: int = Field(default=128 << 20, gt=0)
    small_critical_files: int = Field(default=1_000, ge=1)
    small_critical_avg_bytes: int = Field(default=1 << 20, gt=0)
    # Absolute floor (ours): the per-file overhead must be worth a change. Opening a file
    # and reading its Parquet footer costs ~10-50 ms (object-store requests; local runs
    # measured ~20 ms a file), so we charge 20 ms a file and require 10 s of overhead in
    # all (the partition rules' 10 s stage floor) -- or 10 s of measured "scan time".
    small_per_file_ms: int = Field(default=20, ge=0)
    small_min_overhead_ms: int = Field(default=10_000, ge=0)

    # -- full_scan --
    # A scan worth pruning: at least 1 GiB of files (DataFlint flags full scans of
    # partitioned or clustered tables without a size bound; below a GiB a scan takes
    # seconds) and 1 M rows, of which the filter right above it keeps at most 10 %
    # (our bound: 90 % of the bytes read were thrown away). 1 % kept of 10 GiB is critical.
    scan_min_bytes: int = Field(default=1 << 30, ge=0)
    scan_min_rows: int = Field(default=1_000_000, ge=0)
    scan_kept_share_warning: float = Field(default=0.10, gt=0, le=1)
    scan_kept_share_critical: float = Field(default=0.01, gt=0, le=1)
    scan_critical_bytes: int = Field(default=10 << 30, ge=0)
    # The scan's task time that pruning could give back must reach the partition rules'
    # floors: 5 s and 5 % of the application.
    scan_min_savings_ms: int = Field(default=5_000, ge=0)
    scan_min_share_of_app: float = Field(default=0.05, ge=0, le=1)


class CostSettings(_Limits):
    """How the cost agent prices core-hours and memory-hours (analysis/cost.py).

    Defaults are Google Cloud list prices in us-central1, on demand, as published on
    cloud.google.com/dataproc/pricing, /dataproc-serverless/pricing and
    /compute/vm-instance-pricing (N2 predefined). Set yours: discounts, regions and
    Databricks contracts differ.
    """

    # "auto" reads the platform from the log (Databricks tags, Dataproc properties);
    # logs of neither are priced as Dataproc on Compute Engine.
    platform: Literal["auto", "dataproc", "dataproc_serverless", "databricks"] = "auto"
    # Compute Engine N2: per vCPU-hour and per GB-hour of memory.
    vm_vcpu_hour_usd: float = Field(default=0.031611, ge=0)
    vm_gib_hour_usd: float = Field(default=0.004237, ge=0)
    # Dataproc on Compute Engine adds $0.010 per vCPU-hour to the VMs.
    dataproc_vcpu_hour_usd: float = Field(default=0.010, ge=0)
    # Dataproc Serverless bills Data Compute Units: 0.6 DCU a vCPU and 0.1 DCU a GB of
    # memory (below 8 GB a vCPU), at $0.060 a DCU-hour (standard tier); no VM charge.
    serverless_dcu_hour_usd: float = Field(default=0.060, ge=0)
    serverless_dcu_per_vcpu: float = Field(default=0.6, ge=0)
    serverless_dcu_per_gib: float = Field(default=0.1, ge=0)
    # Databricks on Google Cloud: DBUs on top of the VMs. Jobs Compute lists around
    # $0.15 a DBU (Premium); a 4-vCPU general-purpose node burns about 1 DBU an hour,
    # so 0.25 DBU a vCPU-hour. Both are assumptions to override with your contract.
    databricks_dbu_usd: float = Field(default=0.15, ge=0)
    databricks_dbu_per_vcpu_hour: float = Field(default=0.25, ge=0)
    # The driver's cores and memory when the log does not show them (a 4-vCPU, 16 GB
    # node, Dataproc Serverless' default driver).
    driver_cores: int = Field(default=4, ge=1)
    driver_memory_bytes: int = Field(default=16 << 30, ge=0)


class Thresholds(_Limits):
    skew: SkewLimits = SkewLimits()
    partition: PartitionLimits = PartitionLimits()
    runtime: RuntimeLimits = RuntimeLimits()
    metadata: MetadataLimits = MetadataLimits()
    cost: CostSettings = CostSettings()
