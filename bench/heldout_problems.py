"""Make a held-out set of real Spark event logs, one injected problem each, for the analysis.

    python bench/heldout_problems.py OUT_DIR [--only NAME ...]

Needs pyspark (a bench-only dependency, never in the project's install): run it with a
Python that has it, e.g. ``/path/to/venv-with-pyspark/bin/python``; Java 17 must be on the
PATH. Each workload runs in ``local-cluster[2,1,1024]`` mode (two executor JVMs, like a
small cluster) with event logging into OUT_DIR, on a click-stream data set unlike the
corpus' orders, and OUT_DIR/labels.json records what a good analysis must report
(``expect_kinds``) or that the run is ``healthy``. Then:

    python bench/verdicts.py OUT_DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Spark = Any  # pyspark.sql.SparkSession: pyspark is not a project dependency


@dataclass(frozen=True)
class Workload:
    name: str
    run: Callable[[Spark, Path], None]
    expect_kinds: tuple[str, ...] = ()
    conf: dict[str, str] = field(default_factory=dict)
    master: str = "local-cluster[2,1,1024]"


def clicks_frame(spark: Spark, rows: int, *, hot_share: float = 0.0, parts: int = 8) -> Any:
    """Click events: user, page, dwell time, a payload; ``hot_share`` of rows on user 0."""
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    base = spark.range(rows, numPartitions=parts)
    user = (
        F.when(F.rand(7) < hot_share, F.lit(0)).otherwise((F.rand(3) * 200_000).cast("long"))
        if hot_share
        else (F.rand(3) * 200_000).cast("long")
    )
    return base.select(
        F.col("id").alias("click_id"),
        user.alias("user_id"),
        (F.rand(5) * 500).cast("int").alias("page_id"),
        (F.rand(11) * 90_000).cast("int").alias("dwell_ms"),
        F.sha2(F.col("id").cast("string"), 256).alias("payload"),
    )


def _write(df: Any, out: Path) -> None:
    df.write.mode("overwrite").parquet(str(out))


def skew_groupby(spark: Spark, tmp: Path) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    clicks = clicks_frame(spark, 3_000_000, hot_share=0.6)
    agg = clicks.groupBy("user_id").agg(
        F.sort_array(F.collect_list("payload")).alias("payloads"), F.sum("dwell_ms")
    )
    _write(agg.select("user_id", F.size("payloads").alias("n")), tmp / "skew")


def spill_sort(spark: Spark, tmp: Path) -> None:
    clicks = clicks_frame(spark, 2_500_000, parts=4)
    _write(clicks.repartition(4, "page_id").sortWithinPartitions("payload"), tmp / "spill")


def many_partitions(spark: Spark, tmp: Path) -> None:
    clicks = clicks_frame(spark, 200_000, parts=2)
    _write(clicks.groupBy("page_id").count(), tmp / "many")


def few_partitions(spark: Spark, tmp: Path) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    clicks = clicks_frame(spark, 2_000_000, parts=8).repartition(1)
    heavy = clicks.select(
        "click_id", F.sha2(F.concat_ws("|", "payload", "payload", "payload"), 512).alias("h")
    )
    _write(heavy, tmp / "few")


def missed_broadcast(spark: Spark, tmp: Path) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    clicks = clicks_frame(spark, 3_000_000)
    pages = spark.range(500).select(
        F.col("id").cast("int").alias("page_id"), F.concat(F.lit("page-"), "id").alias("title")
    )
    _write(clicks.join(pages, "page_id").groupBy("title").count(), tmp / "bcast")


def cross_join(spark: Spark, tmp: Path) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    left = clicks_frame(spark, 6_000, parts=2).select("click_id", "dwell_ms")
    right = spark.range(4_000).select(
        (F.col("id") * 22).alias("lo"), (F.col("id") * 22 + 40).alias("hi")
    )
    joined = left.join(right, (left.dwell_ms >= right.lo) & (left.dwell_ms < right.hi))
    _write(joined.groupBy("lo").count(), tmp / "cross")


def row_udf(spark: Spark, tmp: Path) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415
    from pyspark.sql.types import StringType  # noqa: PLC0415

    @F.udf(StringType())
    def bucket(dwell: int) -> str:
        return "long" if dwell > 60_000 else ("mid" if dwell > 10_000 else "short")

    clicks = clicks_frame(spark, 2_000_000, parts=4)
    _write(clicks.select("click_id", bucket("dwell_ms").alias("b")), tmp / "udf")


def tiny_files(spark: Spark, tmp: Path) -> None:
    clicks = clicks_frame(spark, 60_000, parts=4)
    # 1 200 files of 50 rows from 4 tasks: no shuffle, only small files.
    writer = clicks.write.option("maxRecordsPerFile", 50).mode("overwrite")
    writer.parquet(str(tmp / "tiny"))
    back = spark.read.parquet(str(tmp / "tiny"))
    _write(back.groupBy("page_id").count().coalesce(1), tmp / "tiny_out")


def driver_loop(spark: Spark, tmp: Path) -> None:
    clicks = clicks_frame(spark, 100_000, parts=2).cache()
    for page in range(12):
        rows = clicks.filter(clicks.page_id == page).collect()
        # Driver-side work on what came back: the executors wait.
        time.sleep(2.5 + len(rows) * 0)


def flaky_tasks(spark: Spark, tmp: Path) -> None:
    from pyspark import TaskContext  # noqa: PLC0415

    def fail_first(rows: Any) -> Any:
        ctx = TaskContext.get()
        if ctx is not None and ctx.attemptNumber() == 0 and ctx.partitionId() % 2 == 0:
            raise RuntimeError("injected failure on first attempt")
        return rows

    clicks = clicks_frame(spark, 400_000, parts=8)
    spark.createDataFrame(clicks.rdd.mapPartitions(fail_first), clicks.schema).count()


def idle_cluster(spark: Spark, tmp: Path) -> None:
    def slow(rows: Any) -> Any:
        time.sleep(2.0)
        return rows

    for _ in range(14):
        spark.sparkContext.parallelize(range(100), 1).mapPartitions(slow).count()


def healthy_aggregate(spark: Spark, tmp: Path) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    clicks = clicks_frame(spark, 2_000_000)
    _write(clicks.groupBy("page_id").agg(F.avg("dwell_ms"), F.count("*")), tmp / "healthy")


def healthy_broadcast(spark: Spark, tmp: Path) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    clicks = clicks_frame(spark, 2_000_000)
    pages = spark.range(500).select(F.col("id").cast("int").alias("page_id"))
    _write(clicks.join(F.broadcast(pages), "page_id").groupBy("page_id").count(), tmp / "hb")


_AQE_OFF = {"spark.sql.adaptive.enabled": "false"}

WORKLOADS = (
    Workload(
        "skew_groupby",
        skew_groupby,
        ("data_skew",),
        {**_AQE_OFF, "spark.sql.shuffle.partitions": "8"},
    ),
    Workload(
        "spill_sort",
        spill_sort,
        ("disk_spill",),
        {"spark.memory.fraction": "0.1", "spark.sql.shuffle.partitions": "4"},
    ),
    Workload(
        "many_partitions",
        many_partitions,
        ("too_many_partitions",),
        {**_AQE_OFF, "spark.sql.shuffle.partitions": "3000"},
    ),
    Workload("few_partitions", few_partitions, ("too_few_partitions",)),
    Workload(
        "missed_broadcast",
        missed_broadcast,
        ("broadcast_join_missed",),
        {
            **_AQE_OFF,
            "spark.sql.autoBroadcastJoinThreshold": "-1",
            "spark.sql.shuffle.partitions": "8",
        },
    ),
    Workload(
        "cross_join", cross_join, ("cartesian_join",), {"spark.sql.crossJoin.enabled": "true"}
    ),
    Workload("row_udf", row_udf, ("python_udf",)),
    Workload("tiny_files", tiny_files, ("small_files",)),
    Workload("driver_loop", driver_loop, ("driver_bottleneck",)),
    Workload("flaky_tasks", flaky_tasks, ("task_failures",)),
    Workload(
        "idle_cluster",
        idle_cluster,
        ("idle_executors",),
        master="local-cluster[4,1,1024]",
    ),
    Workload("healthy_aggregate", healthy_aggregate),
    Workload("healthy_broadcast", healthy_broadcast),
)


def run(workload: Workload, out: Path, *, tag: str = "") -> str:
    """Run the workload with event logging; returns the log's path relative to ``out``."""
    from pyspark.sql import SparkSession  # noqa: PLC0415

    logs = out / "_spark"
    logs.mkdir(parents=True, exist_ok=True)
    name = workload.name + tag
    builder = (
        SparkSession.builder.master(workload.master)
        .appName(f"heldout_{name}")
        .config("spark.eventLog.enabled", "true")
        .config("spark.eventLog.dir", str(logs))
        .config("spark.eventLog.compress", "true")
        .config("spark.executor.memory", "1g")
    )
    for key, value in workload.conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    app_id = spark.sparkContext.applicationId
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        workload.run(spark, Path(tmp))
        spark.stop()
    # Spark 4 writes rolling logs by default: a directory eventlog_v2_<app id>.
    [log] = list(logs.glob(f"*{app_id}*"))
    target = out / name / log.name
    shutil.rmtree(target.parent, ignore_errors=True)
    target.parent.mkdir(parents=True)
    shutil.move(str(log), target)
    return f"{name}/{log.name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    labels_path = out / "labels.json"
    labels: dict[str, Any] = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    for workload in WORKLOADS:
        if args.only and workload.name not in args.only:
            continue
        started = time.time()
        log = run(workload, out)
        labels[log] = {
            "workload": workload.name,
            "expect_kinds": list(workload.expect_kinds),
            "healthy": not workload.expect_kinds,
            "wall_s": round(time.time() - started, 1),
        }
        labels_path.write_text(json.dumps(labels, indent=2, sort_keys=True))
        print(f"{workload.name}: done", file=sys.stderr)


if __name__ == "__main__":
    main()
