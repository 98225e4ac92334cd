"""``spark-copilot compare`` on real runs of one ETL (DESIGN.md §8)."""

from __future__ import annotations

import json
import re

import pytest

from sparkcopilot.cli import main
from sparkcopilot.comparison import compare
from sparkcopilot.eventlog import read_application
from tests.conftest import CORPUS, LOGS

P200 = read_application(LOGS / "rt_etl_s1_p200_r1.zstd")
P8 = read_application(LOGS / "rt_etl_s1_p8_r1.zstd")
RUNTIME = CORPUS / "generated" / "runtime"


def test_attribution_sums_to_the_difference_and_names_the_shuffle() -> None:
    c = compare(P200, P8)
    assert c.wall_ms_delta == (P8.app.duration_ms or 0) - (P200.app.duration_ms or 0) < 0
    assert sum(a.delta_ms for a in c.attribution) == c.wall_ms_delta
    assert c.config_diff == {"spark.sql.shuffle.partitions": ("200", "8")}
    top = c.attribution[0]
    assert top.stage_ids == (4,)
    assert "200 → 8 tasks" in top.why
    assert c.likely_cause.startswith("spark.sql.shuffle.partitions 200 → 8")
    assert "stage(s) 4" in c.likely_cause
    assert any(a.label == "driver" for a in c.attribution)


def test_swapping_the_runs_swaps_the_signs() -> None:
    forward, backward = compare(P200, P8), compare(P8, P200)
    assert backward.wall_ms_delta == -forward.wall_ms_delta
    by_label = {a.label: a.delta_ms for a in forward.attribution}
    for a in backward.attribution:
        assert abs(a.delta_ms + by_label[a.label]) <= 1


def test_a_run_against_itself_differs_nowhere() -> None:
    c = compare(P8, P8)
    assert c.wall_ms_delta == 0
    assert {a.delta_ms for a in c.attribution} == {0}
    assert c.config_diff == {}
    assert c.likely_cause == "the runs took the same time"


def test_cli_json_text_and_html(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compare", str(LOGS / "rt_etl_s1_p200_r1.zstd"), str(LOGS / "rt_etl_s1_p8_r1.zstd")]
    assert main([*args, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == "spark-copilot/comparison/v1"
    assert set(out) >= {
        "baseline",
        "new",
        "wall_ms_delta",
        "attribution",
        "config_diff",
        "likely_cause",
    }
    assert set(out["attribution"][0]) == {"label", "stage_ids", "delta_ms", "why"}
    assert out["config_diff"] == {"spark.sql.shuffle.partitions": ["200", "8"]}
    assert main(args) == 0
    assert "likely cause: spark.sql.shuffle.partitions 200 → 8" in capsys.readouterr().out
    assert main([*args, "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "spark.sql.shuffle.partitions" in page


def _series() -> list[tuple[str, str, str]]:
    """(baseline, new, what differs) over the corpus' runtime series."""
    pairs = [
        (f"rt_etl_s{s}_p200_r{r}.zstd", f"rt_etl_s{s}_p8_r{r}.zstd", "partitions")
        for s in (1, 2, 4, 8)
        for r in (1, 2, 3)
    ]
    pairs += [
        (f"rt_etl_s{a}_p{p}_r1.zstd", f"rt_etl_s{b}_p{p}_r1.zstd", "input")
        for p in (200, 8)
        for a, b in ((1, 2), (2, 4), (4, 8))
    ]
    return pairs


@pytest.mark.corpus
@pytest.mark.skipif(not RUNTIME.is_dir(), reason="corpus absent")
@pytest.mark.parametrize(("baseline", "new", "differs"), _series())
def test_runtime_series_pairs(baseline: str, new: str, differs: str) -> None:
    c = compare(read_application(RUNTIME / baseline), read_application(RUNTIME / new))
    assert sum(a.delta_ms for a in c.attribution) == c.wall_ms_delta
    if differs == "partitions":
        assert c.likely_cause.startswith("spark.sql.shuffle.partitions 200 → 8")
        named = re.search(r"stage\(s\) ([\d, ]+) ran", c.likely_cause)
        assert named is not None
        stages = {s.stage_id: s for s in read_application(RUNTIME / new).stages}
        for stage_id in map(int, named.group(1).split(", ")):
            tasks = read_application(RUNTIME / new).stage_tasks(stages[stage_id])
            assert int(tasks.shuffle_read_bytes.sum()) > 0, "a shuffle stage"
    else:
        assert c.wall_ms_delta > 0
        assert c.likely_cause.startswith("the input grew 100%")
