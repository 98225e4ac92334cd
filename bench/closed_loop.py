"""Closed loop on real Spark: run a workload, tune it from its log, rerun it tuned.

    PYTHONPATH=shared python bench/closed_loop.py OUT_DIR [--spark-python PY] [--only NAME ...]

Each workload is a PySpark job with one problem a configuration can fix (or none: the
healthy ones). It runs in ``local-cluster`` mode with event logging, in a child process
of a Python that has pyspark (``--spark-python``; pyspark is a bench-only dependency,
never the project's); this process reads the log, runs ``tune`` and the analysis on
it, reruns the workload with the tuned configuration on top of the problem's, and
prints per workload: wall time before, predicted after, measured after, and whether
the problem is still reported. Wall times are the logs', from the first job's submission
to the application's end: on a shared machine, starting the JVMs of a local cluster
takes from 5 to 60 s that no Spark setting changes (the prediction is taken on the same
span). Each is the best of ``--repeats`` runs; a workload ``tune`` finds nothing to
change in is not rerun (its row says so). Idle executors are judged by executor
core-hours at about equal wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Spark = Any  # pyspark.sql.SparkSession: pyspark is not a project dependency

DEFAULT_SPARK_PYTHON = "/work/scratch/sparkvenv/bin/python"


# ------------------------------------------------------------------ the workloads (child)


def _orders(spark: Spark, rows: int, *, hot_share: float = 0.0, parts: int = 4) -> Any:
    """Orders: customer (``hot_share`` of rows on customer 0), product, amount, a note."""
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    customer = (F.rand(3) * 100_000).cast("long")
    if hot_share:
        customer = F.when(F.rand(7) < hot_share, F.lit(0)).otherwise(customer)
    # Cheap to make: the problem's stage, not the data's generation, must hold the time.
    return spark.range(rows, numPartitions=parts).select(
        F.col("id").alias("order_id"),
        customer.alias("customer_id"),
        (F.rand(5) * 1000).cast("int").alias("product_id"),
        (F.rand(11) * 500).alias("amount"),
        F.lpad(F.col("id").cast("string"), 48, "x").alias("note"),
    )


def _sink(df: Any) -> None:
    df.write.format("noop").mode("overwrite").save()


def _burn(column: Any, rounds: int) -> Any:
    """CPU work per row that stays in generated code: ``rounds`` chained SHA-512s."""
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    for _ in range(rounds):
        column = F.sha2(column, 512)
    return column


def skew_join(spark: Spark) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    # 95 % of the orders on one customer: its join task holds nearly all the work, which
    # two cores could share. Customers are made too many to broadcast (the threshold is
    # off), so the join shuffles and the hot key's task runs alone.
    orders = _orders(spark, 1_500_000, hot_share=0.95)
    customers = spark.range(200_000).select(
        F.col("id").alias("customer_id"), F.col("id").cast("string").alias("c")
    )
    joined = orders.join(customers, "customer_id")
    _sink(joined.select(_burn(F.concat_ws("|", "note", "c"), 6).alias("h")))


def spill_sort(spark: Spark) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    # Wide rows that do not compress, cheap to make: the sort after the shuffle holds the
    # time, and with execution memory cut down it spills most of what it sorts.
    rows = spark.range(8_000_000, numPartitions=4).select(
        (F.rand(5) * 1000).cast("int").alias("product_id"),
        F.sha2(F.col("id").cast("string"), 512).alias("note"),
    )
    _sink(rows.repartition("product_id").sortWithinPartitions("note"))


def many_partitions(spark: Spark) -> None:
    _sink(_orders(spark, 2_000_000, parts=2).groupBy("product_id").count())


def few_partitions(spark: Spark) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    # The work is after the shuffle, in as many tasks as shuffle partitions.
    orders = _orders(spark, 2_000_000)
    _sink(orders.repartition("customer_id").select(_burn(F.col("note"), 12).alias("h")))


def missed_broadcast(spark: Spark) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    orders = _orders(spark, 12_000_000)
    products = spark.range(1000).select(
        F.col("id").cast("int").alias("product_id"), F.concat(F.lit("p-"), "id").alias("title")
    )
    _sink(orders.join(products, "product_id").groupBy("title").agg(F.sum("amount")))


def idle_executors(spark: Spark) -> None:
    # One task at a time, five seconds each, in the JVM: three of the four executors wait.
    # (A Python sleep would also start a Python worker on each executor a task lands on.)
    for _ in range(10):
        spark.range(1, numPartitions=1).selectExpr(
            "java_method('java.lang.Thread', 'sleep', cast(5000 as bigint))"
        ).collect()


def healthy_aggregate(spark: Spark) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    _sink(_orders(spark, 1_500_000).groupBy("product_id").agg(F.avg("amount"), F.count("*")))


def healthy_broadcast(spark: Spark) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    products = spark.range(1000).select(F.col("id").cast("int").alias("product_id"))
    orders = _orders(spark, 1_500_000)
    _sink(orders.join(F.broadcast(products), "product_id").groupBy("product_id").count())


@dataclass(frozen=True)
class Workload:
    name: str
    run: Callable[[Spark], None]
    #: The finding kind the problem shows as; empty for a healthy workload.
    problem: str = ""
    conf: dict[str, str] = field(default_factory=dict)
    master: str = "local-cluster[2,1,1024]"


_AQE_OFF = {"spark.sql.adaptive.enabled": "false"}

WORKLOADS = (
    Workload(
        "skew_join",
        skew_join,
        "data_skew",
        {
            **_AQE_OFF,
            "spark.sql.autoBroadcastJoinThreshold": "-1",
            "spark.sql.shuffle.partitions": "16",
        },
    ),
    Workload(
        "spill_sort",
        spill_sort,
        "disk_spill",
        {"spark.memory.fraction": "0.05", "spark.sql.shuffle.partitions": "2", **_AQE_OFF},
    ),
    Workload(
        "many_partitions",
        many_partitions,
        "too_many_partitions",
        {**_AQE_OFF, "spark.sql.shuffle.partitions": "2000"},
    ),
    Workload(
        "few_partitions",
        few_partitions,
        "too_few_partitions",
        {**_AQE_OFF, "spark.sql.shuffle.partitions": "1"},
    ),
    Workload(
        "missed_broadcast",
        missed_broadcast,
        "broadcast_join_missed",
        {
            **_AQE_OFF,
            "spark.sql.autoBroadcastJoinThreshold": "-1",
            "spark.sql.shuffle.partitions": "4",
        },
    ),
    Workload("idle_executors", idle_executors, "idle_executors", master="local-cluster[4,1,1024]"),
    Workload("healthy_aggregate", healthy_aggregate),
    Workload("healthy_broadcast", healthy_broadcast),
)
_BY_NAME = {w.name: w for w in WORKLOADS}


def run_in_child(name: str, conf: dict[str, str], logs: Path) -> None:
    """The child's side: one workload, one SparkSession, event log into ``logs``."""
    from pyspark.sql import SparkSession  # noqa: PLC0415

    workload = _BY_NAME[name]
    builder = (
        SparkSession.builder.master(workload.master)
        .appName(f"closed_loop_{name}")
        .config("spark.eventLog.enabled", "true")
        .config("spark.eventLog.dir", str(logs))
        .config("spark.eventLog.rolling.enabled", "false")
        .config("spark.executor.memory", "1g")
        .config("spark.ui.enabled", "false")
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    workload.run(spark)
    spark.stop()


# ------------------------------------------------------------------ the loop (parent)


def _spark_run(python: str, name: str, conf: dict[str, str], out: Path) -> Path:
    """Run a workload in a child Python with pyspark; return its event log."""
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        logs = Path(tmp)
        subprocess.run(
            [python, __file__, "--child", name, "--conf", json.dumps(conf), "--logs", str(logs)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=(out / f"{name}.stderr").open("ab"),
        )
        [log] = list(logs.iterdir())
        target = out / f"{name}_{time.time_ns()}_{log.name}"
        shutil.move(str(log), target)
    return target


@dataclass
class Measured:
    log: Path
    #: First job submitted to application end.
    wall_ms: int
    #: Application start to the first job (JVMs and executors starting).
    startup_ms: int
    core_hours: float
    reported: bool


def _measure(log: Path, problem: str) -> Measured:
    from sparkcopilot.analysis import analyze  # noqa: PLC0415
    from sparkcopilot.analysis.cost import CostPartial  # noqa: PLC0415
    from sparkcopilot.eventlog import read_application  # noqa: PLC0415
    from sparkcopilot.prediction.simulator import recorded_wall_ms  # noqa: PLC0415

    app = read_application(log)
    analysis = analyze(app, explained=False)
    cost = analysis.agents["cost"].partial
    assert isinstance(cost, CostPartial)
    kinds = {f.kind for f in analysis.findings if f.severity != "info"}
    first_job = min(j.submitted_ms for j in app.jobs if j.submitted_ms is not None)
    startup = first_job - (app.app.start_ms or first_job)
    return Measured(
        log,
        recorded_wall_ms(app) - startup,
        startup,
        cost.executor_core_hours,
        (problem in kinds) if problem else bool(kinds),
    )


def _best(python: str, w: Workload, conf: dict[str, str], out: Path, repeats: int) -> Measured:
    runs = [_measure(_spark_run(python, w.name, conf, out), w.problem) for _ in range(repeats)]
    return min(runs, key=lambda m: m.wall_ms)


@dataclass
class Row:
    workload: str
    problem: str
    before: Measured
    predicted_ms: int
    after: Measured
    tuned: dict[str, str]

    @property
    def speedup(self) -> float:
        return self.before.wall_ms / self.after.wall_ms if self.after.wall_ms else 0.0

    @property
    def prediction_error_pct(self) -> float:
        return 100.0 * (self.predicted_ms - self.after.wall_ms) / self.after.wall_ms


def close_the_loop(python: str, w: Workload, out: Path, repeats: int) -> Row:
    from sparkcopilot.analysis import analyze  # noqa: PLC0415
    from sparkcopilot.eventlog import read_application  # noqa: PLC0415
    from sparkcopilot.tuning import tune  # noqa: PLC0415

    before = _best(python, w, w.conf, out, repeats)
    app = read_application(before.log)
    tuning = tune(app, analyze(app, explained=False), "spark-submit")
    tuned = {**w.conf, **tuning.config}
    # Nothing to change (a healthy workload): the run after is the run before; rerunning
    # the same configuration would only measure the machine's noise.
    after = before if tuned == w.conf else _best(python, w, tuned, out, repeats)
    predicted = tuning.predicted.wall_ms_after - before.startup_ms
    return Row(w.name, w.problem or "healthy", before, predicted, after, tuning.config)


def table(rows: list[Row]) -> str:
    head = (
        "| workload | problem | before s | predicted after s | measured after s | speed-up "
        "| prediction error | core-h before → after | problem reported before → after |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r.workload} | {r.problem} | {r.before.wall_ms / 1000:.1f} "
            f"| {r.predicted_ms / 1000:.1f} | {r.after.wall_ms / 1000:.1f}"
            f"{'' if r.after is not r.before else ' (nothing to change)'} | {r.speedup:.2f}× "
            f"| {r.prediction_error_pct:+.0f}% "
            f"| {r.before.core_hours:.4f} → {r.after.core_hours:.4f} "
            f"| {'yes' if r.before.reported else 'no'} → {'yes' if r.after.reported else 'no'} |"
        )
    problems = [r for r in rows if r.problem not in ("healthy", "idle_executors")]
    healthy = [r for r in rows if r.problem == "healthy"]
    errors = [abs(r.prediction_error_pct) for r in rows]
    if problems:
        lines.append(
            f"\nmedian speed-up over the problem workloads (idle executors apart): "
            f"{statistics.median(r.speedup for r in problems):.2f}×"
        )
    for r in rows:
        if r.problem == "idle_executors" and r.before.core_hours:
            lines.append(
                f"idle executors: core-hours {r.after.core_hours / r.before.core_hours - 1:+.0%}, "
                f"wall time {r.after.wall_ms / r.before.wall_ms - 1:+.0%}"
            )
    if healthy:
        slowest = max(r.after.wall_ms / r.before.wall_ms - 1 for r in healthy)
        lines.append(f"healthy workloads: slowest change {slowest:+.1%}")
    if errors:
        lines.append(
            f"prediction error |after|: median {statistics.median(errors):.0f}%, "
            f"max {max(errors):.0f}%"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--spark-python", default=DEFAULT_SPARK_PYTHON)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--conf", help=argparse.SUPPRESS)
    parser.add_argument("--logs", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_in_child(args.child, json.loads(args.conf), args.logs)
        return
    if args.out is None:
        parser.error("OUT_DIR is required")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for w in WORKLOADS:
        if args.only and w.name not in args.only:
            continue
        try:
            row = close_the_loop(args.spark_python, w, out, args.repeats)
        except subprocess.CalledProcessError as exc:
            print(f"{w.name}: Spark run failed ({exc.returncode})", file=sys.stderr, flush=True)
            continue
        rows.append(row)
        print(
            f"{w.name}: {row.before.wall_ms} ms -> {row.after.wall_ms} ms "
            f"(predicted {row.predicted_ms}) with {json.dumps(row.tuned)}",
            file=sys.stderr,
            flush=True,
        )
    print(table(rows))


if __name__ == "__main__":
    main()
