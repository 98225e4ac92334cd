"""gc_pressure: JVM garbage collection takes a large share of the executors' task time.

Share = Σ JVM GC time ÷ Σ executor run time over all task attempts (Spark's
``jvmGCTime`` and ``executorRunTime``; the Stages tab shows both per task).
"""

from __future__ import annotations

import re

import numpy as np

from ...model import Application
from ..findings import Finding, Savings, Scope, Severity, finding_id
from ..thresholds import Thresholds
from ._runtime import compute_executors, format_size, parse_size

_GC_FLAGS = re.compile(
    r"-XX:[+-]Use(?:Serial|Parallel|ParallelOld|ConcMarkSweep|G1|Z|Shenandoah)GC"
    r"|-Xmn\S+|-XX:NewSize=\S+|-XX:MaxNewSize=\S+|-XX:NewRatio=\S+"
)


_KRYO = "org.apache.spark.serializer.KryoSerializer"


def gc_pressure(app: Application, limits: Thresholds) -> list[Finding]:
    lim = limits.runtime
    tasks = app.tasks
    if not len(tasks):
        return []
    gc = int(tasks.gc_ms.sum())
    run = int(tasks.run_ms.sum())
    if run <= 0 or gc < lim.min_gc_ms:
        return []
    share = gc / run
    if share < lim.gc_share_warning:
        return []
    severity: Severity = "critical" if share >= lim.gc_share_critical else "warning"

    # The stages that carry the GC: over the warning share and a real part of the total.
    stages: list[tuple[int, float, int]] = []
    for stage in app.stages:
        rows = app.stage_tasks(stage)
        s_gc, s_run = int(rows.gc_ms.sum()), int(rows.run_ms.sum())
        if s_run > 0 and s_gc / s_run >= lim.gc_share_warning and s_gc >= 0.1 * gc:
            stages.append((stage.stage_id, s_gc / s_run, s_gc))
    stages.sort(key=lambda x: -x[2])
    by_id = {st.stage_id: st for st in app.stages}
    stage_ids = tuple(sorted({s for s, _, _ in stages}))
    job_ids = tuple(
        sorted({j for st in app.stages if st.stage_id in stage_ids for j in st.job_ids})
    )

    # Dr. Elephant's OOM/GC ladder (FIELD_NOTES §2.1): first halve the cores per
    # executor (each task's heap doubles) while it has 4 or more; else give it more
    # heap: x2 below 4 GiB, x1.5 below 8 GiB.
    conf = app.spark_conf
    executors = compute_executors(app)
    cores = int(np.median([e.cores for e in executors])) if executors else 1
    memory = parse_size(conf.get("spark.executor.memory"), "m") or (1 << 30)
    config: dict[str, str] = {}
    if cores >= 4:
        config["spark.executor.cores"] = str(cores // 2)
        sizing = (
            f"Halve the cores per executor ({cores} to {cores // 2}) so each task gets "
            f"twice the heap of the {format_size(memory)} executors"
        )
    else:
        factor = 2.0 if memory < (4 << 30) else 1.5 if memory < (8 << 30) else 1.25
        config["spark.executor.memory"] = format_size(int(memory * factor))
        sizing = (
            f"Give each task more heap: raise spark.executor.memory from "
            f"{format_size(memory)} to {config['spark.executor.memory']} "
            f"({cores} core(s) per executor)"
        )
    java_opts = conf.get("spark.executor.extraJavaOptions", "")
    flagged = _GC_FLAGS.findall(java_opts)
    if "-XX:+UseG1GC" not in flagged:
        kept = _GC_FLAGS.sub("", java_opts).split()
        config["spark.executor.extraJavaOptions"] = " ".join([*kept, "-XX:+UseG1GC"])
    gc_note = (
        f"The executors run with {' '.join(flagged)}; drop those flags and use G1. "
        if flagged and "-XX:+UseG1GC" not in flagged
        else ""
    )
    # RDD code (stages outside SQL) shuffles and caches Java-serialised objects; Kryo
    # makes them several times smaller (Spark's tuning guide; Dr. Elephant flags a
    # non-Kryo serializer, FIELD_NOTES §2.1). SQL stages use their own binary rows.
    rdd_gc = sum(g for sid, _, g in stages if by_id[sid].sql_id is None)
    serializer = conf.get("spark.serializer", "org.apache.spark.serializer.JavaSerializer")
    kryo_note = ""
    if "Kryo" not in serializer and rdd_gc * 2 >= sum(g for _, _, g in stages) > 0:
        config["spark.serializer"] = _KRYO
        kryo_note = (
            " Most of the GC is in RDD stages, which serialise with Java serialisation: "
            "switch to Kryo (spark.serializer) and register your classes."
        )
    advice = (
        f"{gc_note}{sizing}. If the live objects are your own (collect_list, large rows, "
        "UDF state), lower spark.memory.fraction so user memory grows instead; if they "
        f"are cached blocks, persist with MEMORY_AND_DISK_SER.{kryo_note}"
    )
    # GC above a healthy JVM's share, spread over the slots that ran it in parallel.
    excess = max(0.0, gc - lim.gc_share_normal * run)
    slots = max(1, sum(e.slots for e in executors))
    worst = stages[0] if stages else None
    return [
        Finding(
            id=finding_id("gc_pressure", Scope()),
            kind="gc_pressure",
            agent="runtime",
            severity=severity,
            title=(
                f"JVM GC took {share:.0%} of executor run time "
                f"({gc / 1000:.0f} s of {run / 1000:.0f} s)"
            ),
            scope=Scope(job_ids=job_ids, stage_ids=stage_ids),
            evidence={
                "jvm_gc_time_ms": gc,
                "executor_run_time_ms": run,
                "gc_share": round(share, 3),
                "worst_stage_id": worst[0] if worst else -1,
                "worst_stage_gc_share": round(worst[1], 3) if worst else 0.0,
                "worst_stage_gc_ms": worst[2] if worst else 0,
                "executor_memory": format_size(memory),
                "executor_cores": cores,
                "executor_gc_flags": " ".join(flagged) or "(JVM default)",
                "serializer": serializer.rsplit(".", 1)[-1],
            },
            recommendation=advice,
            config=config,
            estimated_savings=Savings(
                wall_ms=int(excess / slots), core_hours=round(excess / 3_600_000, 4)
            ),
            confidence=round(min(0.9, 0.5 + share), 2),
            explanation=(
                "Dr. Elephant rates GC/run time of 0.10 moderate and 0.20 critical. "
                "Savings: GC beyond 5 % of run time, divided by the task slots."
            ),
        )
    ]
