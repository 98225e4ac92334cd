"""Runtime prediction: the what-if simulator, features, learned models, history, training
and the ``predict`` / ``train`` commands, on real Spark logs."""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import zstandard

from sparkcopilot.cli import main
from sparkcopilot.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, UsageError
from sparkcopilot.eventlog import read_application
from sparkcopilot.model import Application
from sparkcopilot.prediction.features import (
    FEATURE_NAMES,
    FEATURES,
    FEATURES_VERSION,
    FeatureBuilder,
)
from sparkcopilot.prediction.history import (
    HistoryRow,
    SqliteHistoryStore,
    history_rows,
    record_history,
)
from sparkcopilot.prediction.registry import LocalModelRegistry
from sparkcopilot.prediction.simulator import (
    WhatIf,
    executor_cold_start_ms,
    predicted_savings,
    recorded_config,
    simulate,
    stage_task_cost_ms,
    task_overhead_ms,
)
from sparkcopilot.prediction.training import MIN_ROWS, train
from tests.conftest import CORPUS, LOGS, corpus_labels

#: Bundled logs with tasks (the in-progress one has no end: its wall time is the last task's).
BUNDLED = (
    "app-20261128143744-0000.inprogress",
    "dbx_cluster_databricks_skew_v4",
    "eventlog_v2_spark-bcec39f6201b42b9925124595baad260",
    "healthy_narrow_v35",
    "local-1426533911241",
    "skew_join_v4.zstd",
    "spark2-eventlog.zstd",
    "../codecs/disk_spill_v4.snappy",
    "../codecs/python_udf_v4.lzf",
    "../codecs/too_few_partitions_v35.lz4",
)
#: The replay at the recorded configuration must land this close to the recorded wall time.
SELF_CHECK_PCT = 5.0

#: Version 1's schema: changing it without bumping FEATURES_VERSION would mix rows of
#: different meaning in history.
SCHEMA_V1 = (
    "input_bytes", "input_records", "output_bytes", "output_records", "shuffle_bytes",
    "shuffle_records", "jobs", "stages", "dag_depth", "sql_executions", "op_scans",
    "op_exchanges", "op_broadcast_joins", "op_shuffle_joins", "op_nested_loop_joins",
    "op_aggregates", "op_sorts", "op_windows", "op_python", "op_writes", "executors",
    "cores_per_executor", "slots", "shuffle_partitions", "tasks", "max_stage_tasks",
    "executor_memory_bytes", "aqe_enabled", "bytes_per_slot", "tasks_per_slot",
)  # fmt: skip


@cache
def _app(name: str) -> Application:
    return read_application(LOGS / name)


def _series() -> dict[tuple[int, int, int], tuple[str, int]]:
    return {
        (s["data_scale"], s["shuffle_partitions"], s["repeat"]): (name, s["wall_ms"])
        for name, label in corpus_labels().items()
        if (s := label.get("runtime_series"))
    }


# ---------------------------------------------------------------- simulator


@pytest.mark.parametrize("name", BUNDLED)
def test_replay_at_the_recorded_configuration_reproduces_the_wall_time(name: str) -> None:
    result = simulate(_app(name))
    assert result.recorded_wall_ms > 0
    assert abs(result.self_check_error_pct) <= SELF_CHECK_PCT, result
    assert result.wall_ms == result.replayed_wall_ms
    assert 0 < result.lower_bound_ms <= result.wall_ms
    stage_ids = {s.stage_id for s in _app(name).stages}
    assert result.critical_path_stage_ids and set(result.critical_path_stage_ids) <= stage_ids


@pytest.mark.parametrize("name", ["skew_join_v4.zstd", "dbx_cluster_databricks_skew_v4"])
def test_what_if_executors_and_cores_move_wall_time_the_right_way(name: str) -> None:
    app = _app(name)
    recorded = recorded_config(app)
    walls = {n: simulate(app, WhatIf(executors=n)) for n in (1, recorded.executors, 8, 64)}
    for result in walls.values():
        assert result.lower_bound_ms <= result.wall_ms
    assert walls[1].wall_ms >= walls[recorded.executors].wall_ms >= walls[8].wall_ms
    assert walls[8].wall_ms >= walls[64].wall_ms
    # With a slot per task nothing waits for a slot: only the critical path is left.
    assert walls[64].wall_ms == walls[64].lower_bound_ms
    more_cores = simulate(app, WhatIf(cores_per_executor=4))
    assert more_cores.wall_ms <= walls[recorded.executors].wall_ms
    assert (
        predicted_savings(app, WhatIf(executors=1))
        < 0
        < predicted_savings(app, WhatIf(executors=8))
    )


def test_fewer_executors_start_cold_fewer_times() -> None:
    # One task at a time on four executors: each executor's first task loaded classes
    # and warmed the JIT; on one executor, three of those first tasks would run warm.
    app = _app("idle_executors_v4.zstd")
    cold = executor_cold_start_ms(app)
    assert cold > 1000
    recorded = simulate(app)
    assert recorded.recorded.executors == 4
    assert simulate(app, WhatIf(executors=4)).wall_ms == recorded.replayed_wall_ms
    one = simulate(app, WhatIf(executors=1))
    assert recorded.replayed_wall_ms - one.wall_ms == pytest.approx(3 * cold, rel=0.1)


def test_fewer_shuffle_partitions_cut_per_task_overhead_and_more_add_it() -> None:
    app = _app("skew_join_v4.zstd")
    recorded = simulate(app)
    assert recorded.recorded.shuffle_partitions == 16
    fewer = simulate(app, WhatIf(shuffle_partitions=4))
    many = simulate(app, WhatIf(shuffle_partitions=2000))
    assert fewer.tasks_simulated < recorded.tasks_simulated < many.tasks_simulated
    assert many.wall_ms > recorded.replayed_wall_ms


def test_a_stage_of_many_tiny_tasks_shows_its_own_fixed_cost() -> None:
    many = _app("rt_etl_s1_p200_r1.zstd")
    shuffle = next(s for s in many.stages if s.num_tasks == 200)
    cost = stage_task_cost_ms(many, shuffle)
    assert cost is not None
    # Above what a task reading nothing costs, below what the stage's typical task took.
    assert task_overhead_ms(many) < cost < float(np.median(many.stage_tasks(shuffle).duration_ms))
    few = _app("rt_etl_s1_p8_r1.zstd")  # 8 tasks of a few MB: fixed cost not separable
    assert all(stage_task_cost_ms(few, s) is None for s in few.stages)


def test_the_what_if_to_fewer_partitions_lands_near_the_run_that_used_them() -> None:
    predicted = simulate(_app("rt_etl_s1_p200_r1.zstd"), WhatIf(shuffle_partitions=8)).wall_ms
    measured = simulate(_app("rt_etl_s1_p8_r1.zstd")).recorded_wall_ms
    assert abs(predicted - measured) / measured <= 0.25


def test_a_hot_key_is_not_split_by_more_partitions() -> None:
    app = _app("skew_join_v4.zstd")
    join = next(s for s in app.stages if s.stage_id == 4)  # labelled: one task holds the key
    hot_task_ms = int(app.stage_tasks(join).duration_ms.max())
    wide = simulate(app, WhatIf(executors=64))
    finer = simulate(app, WhatIf(executors=64, shuffle_partitions=2000))
    # Were the hot partition spread evenly, the critical path would lose the hot task.
    assert finer.lower_bound_ms >= wide.lower_bound_ms - hot_task_ms // 2


@pytest.mark.parametrize("value", [0, -3])
def test_nonsense_what_ifs_are_usage_errors(value: int) -> None:
    with pytest.raises(UsageError, match="at least 1"):
        WhatIf(executors=value)
    with pytest.raises(UsageError):
        WhatIf(shuffle_partitions=value)


@pytest.mark.corpus
def test_series_self_check_and_what_if_to_the_other_partition_count() -> None:
    series = _series()
    if not series:
        pytest.skip("corpus absent")
    what_if_errors = []
    for (scale, partitions, repeat), (name, wall) in series.items():
        app = read_application(CORPUS / name)
        other = 8 if partitions == 200 else 200
        result = simulate(app, WhatIf(shuffle_partitions=other))
        assert result.recorded_wall_ms == wall
        assert abs(result.self_check_error_pct) <= 2.0, name
        truth = series[(scale, other, repeat)][1]
        what_if_errors.append(abs(result.wall_ms - truth) / truth * 100)
        assert (result.wall_ms < result.replayed_wall_ms) == (other < partitions), name
    assert statistics.median(what_if_errors) <= 25.0


@pytest.mark.corpus
def test_every_complete_generated_log_replays_within_the_bound() -> None:
    labels = {k: v for k, v in corpus_labels().items() if k.startswith("generated/")}
    if not labels:
        pytest.skip("corpus absent")
    for name, label in labels.items():
        if not label["complete"]:
            continue
        result = simulate(read_application(CORPUS / name))
        assert abs(result.self_check_error_pct) <= SELF_CHECK_PCT, name


# ---------------------------------------------------------------- features


def test_feature_schema_is_stable_and_documented() -> None:
    assert FEATURES_VERSION == "1"
    assert FEATURE_NAMES == SCHEMA_V1
    assert all(f.doc for f in FEATURES)
    for name in ("skew_join_v4.zstd", "spark2-eventlog.zstd", "local-1426533911241"):
        values = FeatureBuilder().build(_app(name))
        assert tuple(values) == SCHEMA_V1
        assert all(np.isfinite(v) for v in values.values())


def test_features_follow_the_what_if() -> None:
    app = _app("skew_join_v4.zstd")
    recorded = FeatureBuilder().build(app)
    what_if = FeatureBuilder().build(app, WhatIf(executors=4, shuffle_partitions=64))
    assert recorded["shuffle_partitions"] == 16 and what_if["shuffle_partitions"] == 64
    assert what_if["slots"] == 2 * recorded["slots"]
    assert what_if["tasks"] > recorded["tasks"]
    assert what_if["input_bytes"] == recorded["input_bytes"] > 0
    assert recorded["op_shuffle_joins"] >= 1


# ---------------------------------------------------------------- history, training, registry


@cache
def _bundled_rows() -> tuple[HistoryRow, ...]:
    return tuple(row for name in BUNDLED for row in history_rows(_app(name)))


def test_history_store_appends_replaces_and_filters(tmp_path: Path) -> None:
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    assert record_history(_app("skew_join_v4.zstd"), store) == 1
    assert record_history(_app("skew_join_v4.zstd"), store) == 1  # re-analysis replaces
    # An unfinished run has no known wall time: nothing to learn from.
    assert record_history(_app("app-20261128143744-0000.inprogress"), store) == 0
    rows = store.rows()
    assert len(rows) == 1 and rows[0].app_id == "app-20261128142505-0000"
    assert rows[0].wall_ms == 67814 and set(rows[0].features) == set(FEATURE_NAMES)
    store.append([replace(rows[0], features_version="0")])
    assert len(store.rows()) == 2 and len(store.rows(FEATURES_VERSION)) == 1


def test_train_publishes_only_a_better_model(tmp_path: Path) -> None:
    rows = _bundled_rows()
    assert len(rows) >= MIN_ROWS
    registry = LocalModelRegistry(tmp_path / "models")
    # A model trained on wall times ten times off is the current one...
    skewed = SqliteHistoryStore(tmp_path / "skewed.sqlite")
    skewed.append([replace(r, wall_ms=r.wall_ms * 10) for r in rows])
    first = train(skewed, registry)
    assert first.published and registry.current() is not None
    # ...true history beats it and replaces it...
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    store.append(list(rows))
    second = train(store, registry)
    assert second.published and second.model_version != first.model_version
    assert (
        second.metrics["candidate"]["median_abs_pct_error"]
        < (second.metrics["current"]["median_abs_pct_error"])
    )
    current = registry.current()
    assert current is not None and current.version == second.model_version
    # ...and the same model trained again is not better than itself: nothing published.
    third = train(store, registry)
    assert not third.published and third.model_version == second.model_version


def test_training_needs_enough_history(tmp_path: Path) -> None:
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    store.append(list(_bundled_rows()[:3]))
    with pytest.raises(Exception, match=f"at least {MIN_ROWS}"):
        train(store, LocalModelRegistry(tmp_path / "models"))


def test_model_artifact_round_trips(tmp_path: Path) -> None:
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    store.append(list(_bundled_rows()))
    registry = LocalModelRegistry(tmp_path / "models")
    result = train(store, registry)
    loaded = LocalModelRegistry(tmp_path / "models").current()
    assert loaded is not None
    meta = json.loads((tmp_path / "models" / result.model_version / "meta.json").read_text())
    assert meta["features_version"] == FEATURES_VERSION
    assert tuple(meta["feature_names"]) == FEATURE_NAMES
    assert (
        meta["metrics"]["test_median_abs_pct_error"]
        == (result.metrics["candidate"]["median_abs_pct_error"])
    )
    rows = [r.features for r in _bundled_rows()]
    again = LocalModelRegistry(tmp_path / "models").load(result.model_version)
    np.testing.assert_allclose(loaded.predict(rows), again.predict(rows))
    low, high = loaded.interval
    assert low <= 1.0 <= high
    for wall, lo, hi in loaded.predict_interval(rows):
        assert lo <= wall <= hi


# ---------------------------------------------------------------- the commands


@pytest.fixture
def settings_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SPARK_COPILOT_HISTORY__PATH", str(tmp_path / "history.sqlite"))
    monkeypatch.setenv("SPARK_COPILOT_HISTORY__MODELS_DIR", str(tmp_path / "models"))
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_json_contract(settings_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = str(LOGS / "skew_join_v4.zstd")
    code, out, _ = _run(capsys, "predict", log, "--executors", "4", "--format", "json")
    assert code == EXIT_OK
    report = json.loads(out)
    assert report["schema"] == "spark-copilot/prediction/v1"
    assert report["app_id"] == "app-20261128142505-0000"
    assert set(report["recorded"]) == {
        "wall_ms",
        "executors",
        "cores_per_executor",
        "shuffle_partitions",
    }
    assert report["recorded"]["wall_ms"] == 67814
    assert report["what_if"] == {"executors": 4, "cores_per_executor": 1, "shuffle_partitions": 16}
    assert abs(report["self_check"]["error_pct"]) <= SELF_CHECK_PCT
    predicted = report["predicted"]
    assert predicted["method"] == "simulator"
    assert predicted["lower_bound_ms"] <= predicted["low_ms"] <= predicted["wall_ms"]
    assert predicted["wall_ms"] <= predicted["high_ms"]
    assert predicted["wall_ms"] < report["self_check"]["simulated_wall_ms"]
    assert predicted["critical_path_stage_ids"]
    code, text, _ = _run(capsys, "predict", log, "--shuffle-partitions", "64")
    assert code == EXIT_OK and "64 shuffle partitions" in text and "self-check" in text


def _log_without_tasks(tmp_path: Path) -> Path:
    """A real log with its task events taken out."""
    text = (
        zstandard.ZstdDecompressor()
        .decompressobj()
        .decompress((LOGS / "skew_join_v4.zstd").read_bytes())
    )
    lines = [line for line in text.splitlines() if b'"SparkListenerTask' not in line]
    path = tmp_path / "no_tasks.json"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_predict_refuses_bad_input_and_nonsense_options(
    settings_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = str(LOGS / "skew_join_v4.zstd")
    for option, value in (("--executors", "0"), ("--cores", "-2"), ("--shuffle-partitions", "0")):
        code, out, err = _run(capsys, "predict", log, option, value)
        assert code == EXIT_USAGE and not out
        assert err.count("\n") == 1 and "at least 1" in err
    code, _, err = _run(capsys, "predict", str(_log_without_tasks(tmp_path)))
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1 and "no task events" in err
    code, _, err = _run(capsys, "predict", log, "--method", "model")
    assert code == EXIT_USAGE and "spark-copilot train" in err


def test_train_then_predict_with_the_model(
    settings_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "train")
    assert code == EXIT_USAGE and "no history" in err
    code, _, err = _run(capsys, "train", "--history", "bq://project.dataset.history")
    assert code == EXIT_USAGE and err.count("\n") == 1
    SqliteHistoryStore(settings_dir / "history.sqlite").append(list(_bundled_rows()))
    code, out, _ = _run(capsys, "train", "--format", "json")
    assert code == EXIT_OK
    result = json.loads(out)
    assert result["schema"] == "spark-copilot/training/v1"
    assert result["published"] is True and result["rows"] == len(_bundled_rows())
    assert result["features_version"] == FEATURES_VERSION
    assert {"baseline", "candidate"} <= set(result["metrics"])
    log = str(LOGS / "healthy_narrow_v35")
    code, out, _ = _run(capsys, "predict", log, "--method", "model", "--format", "json")
    assert code == EXIT_OK
    predicted = json.loads(out)["predicted"]
    assert predicted["method"] == "model" and predicted["model_version"] == result["model_version"]
    assert predicted["low_ms"] <= predicted["wall_ms"] <= predicted["high_ms"]
