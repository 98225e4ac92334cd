"""Make a held-out runtime series: one workload at several data scales x shuffle-partition
counts x repeats, for runtime prediction (bench/prediction_eval.py --labels OUT/labels.json).

    /path/to/python-with-pyspark bench/runtime_series.py OUT_DIR

The workload differs from the corpus' ETL series: click sessions (a window over each
user's clicks ordered by time, then an aggregation per user and page), on the click-stream
data of bench/heldout_problems.py, in local-cluster[2,1,1024] mode. Labels follow the
corpus' ``runtime_series`` (group, data_scale, shuffle_partitions, repeat, wall_ms), with
wall_ms the application's start-to-end time as the log records it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from heldout_problems import Spark, Workload, clicks_frame, run

SCALES = (1, 2, 4)
PARTITIONS = (200, 8)
REPEATS = 2
BASE_ROWS = 400_000


def _sessions(rows: int) -> Any:
    def workload(spark: Spark, tmp: Path) -> None:
        from pyspark.sql import Window  # noqa: PLC0415
        from pyspark.sql import functions as F  # noqa: N812, PLC0415

        clicks = clicks_frame(spark, rows)
        by_user = Window.partitionBy("user_id").orderBy("click_id")
        gaps = clicks.withColumn("gap", F.col("click_id") - F.lag("click_id").over(by_user))
        sessions = gaps.withColumn(
            "session", F.sum(F.when(F.col("gap") > 50_000, 1).otherwise(0)).over(by_user)
        )
        summary = sessions.groupBy("user_id", "session", "page_id").agg(
            F.count("*").alias("clicks"), F.sum("dwell_ms").alias("dwell")
        )
        summary.write.mode("overwrite").parquet(str(tmp / "sessions"))

    return workload


def main() -> None:
    from sparkcopilot.eventlog import read_application  # noqa: PLC0415

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    labels_path = out / "labels.json"
    labels: dict[str, Any] = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    for repeat in range(1, REPEATS + 1):
        for scale in SCALES:
            for partitions in PARTITIONS:
                tag = f"_s{scale}_p{partitions}_r{repeat}"
                workload = Workload(
                    "sessions",
                    _sessions(BASE_ROWS * scale),
                    conf={
                        "spark.sql.adaptive.enabled": "false",
                        "spark.sql.shuffle.partitions": str(partitions),
                    },
                )
                log = run(workload, out, tag=tag)
                app = read_application(out / log)
                labels[log] = {
                    "runtime_series": {
                        "group": "sessions_v4",
                        "data_scale": scale,
                        "shuffle_partitions": partitions,
                        "repeat": repeat,
                        "wall_ms": app.app.duration_ms,
                        "loadavg": os.getloadavg()[0],
                    }
                }
                labels_path.write_text(json.dumps(labels, indent=2, sort_keys=True))
                print(f"{log}: {app.app.duration_ms} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
