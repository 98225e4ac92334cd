"""``spark-copilot tune`` on real logs: DESIGN.md §8's contract, rendered for each target."""

from __future__ import annotations

import json
import shlex

import pytest

from sparkcopilot.analysis import analyze
from sparkcopilot.cli import main
from sparkcopilot.eventlog import read_application
from sparkcopilot.tuning import TARGETS, tune
from tests.conftest import LOGS

SKEW = LOGS / "skew_join_v4.zstd"
IDLE = LOGS / "idle_executors_v4.zstd"
HEALTHY = LOGS / "healthy_narrow_v35"
DA = "spark.dynamicAllocation."


def _tune_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["tune", *args, "--format", "json"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


@pytest.mark.parametrize("target", TARGETS)
def test_contract_and_every_value_names_its_finding(
    capsys: pytest.CaptureFixture[str], target: str
) -> None:
    out = _tune_json(capsys, str(SKEW), "--target", target)
    assert set(out) >= {"schema", "target", "config", "because", "rendered", "predicted"}
    assert out["schema"] == "spark-copilot/tuning/v1"
    assert out["target"] == target
    config = out["config"]
    assert isinstance(config, dict)
    assert config["spark.sql.adaptive.skewJoin.enabled"] == "true"
    app = read_application(SKEW)
    ids = {f.id for f in analyze(app, explained=False).findings}
    because = out["because"]
    assert isinstance(because, dict)
    assert set(because) == set(config)
    assert all(set(v) <= ids for v in because.values())
    predicted = out["predicted"]
    assert isinstance(predicted, dict)
    assert predicted["wall_ms_before"] == app.app.duration_ms
    assert 0 < predicted["wall_ms_after"] < predicted["wall_ms_before"]
    assert 0 < predicted["cost_usd_after"] <= predicted["cost_usd_before"]


def test_rendered_text_is_what_each_target_takes() -> None:
    app = read_application(SKEW)
    analysis = analyze(app, explained=False)
    for target in TARGETS:
        tuning = tune(app, analysis, target)
        rendered = tuning.rendered
        if target == "databricks":
            assert json.loads(rendered)["spark_conf"] == tuning.config
        elif target == "spark-submit":
            lines = [x.split() for x in rendered.splitlines() if x and not x.startswith("#")]
            assert dict(lines) == tuning.config
        else:
            flag = next(w for w in shlex.split(rendered) if w.startswith("--properties="))
            pairs = flag.removeprefix("--properties=").split(",")
            assert dict(p.split("=", 1) for p in pairs) == tuning.config
            assert ("batches" in rendered) == (target == "dataproc-serverless")


def test_idle_executors_get_consistent_dynamic_allocation() -> None:
    app = read_application(IDLE)
    analysis = analyze(app, explained=False)
    config = tune(app, analysis).config
    low, initial, high = (
        int(config[DA + k]) for k in ("minExecutors", "initialExecutors", "maxExecutors")
    )
    assert low <= initial <= high < 4
    assert config[DA + "enabled"] == "true"
    # Serverless runs at least two executors; Databricks autoscales instead.
    serverless = tune(app, analysis, "dataproc-serverless").config
    assert int(serverless[DA + "minExecutors"]) >= 2
    assert int(serverless[DA + "maxExecutors"]) >= int(serverless[DA + "initialExecutors"])
    cluster = json.loads(tune(app, analysis, "databricks").rendered)
    assert not any(k.startswith(DA) for k in cluster["spark_conf"])
    assert cluster["autoscale"] == {"min_workers": low, "max_workers": high}
    # Fewer executors cost less for the same work, and start cold fewer times.
    predicted = tune(app, analysis).predicted
    assert predicted.cost_usd_after < predicted.cost_usd_before / 2
    assert predicted.wall_ms_before * 0.8 < predicted.wall_ms_after < predicted.wall_ms_before


def test_a_healthy_log_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    out = _tune_json(capsys, str(HEALTHY))
    assert out["config"] == {}
    predicted = out["predicted"]
    assert isinstance(predicted, dict)
    assert predicted["wall_ms_after"] == predicted["wall_ms_before"]
    assert main(["tune", str(HEALTHY)]) == 0
    assert "No setting to change" in capsys.readouterr().out


def test_goal_cost_gives_fewer_executors_only_when_time_barely_grows() -> None:
    app = read_application(IDLE)
    analysis = analyze(app, explained=False)
    time_goal, cost_goal = (tune(app, analysis, goal=g) for g in ("time", "cost"))
    assert cost_goal.predicted.cost_usd_after <= time_goal.predicted.cost_usd_after
    assert cost_goal.predicted.wall_ms_after <= time_goal.predicted.wall_ms_after * 1.1
