"""The agent graph: every rule has one agent, dependencies order the waves."""

from __future__ import annotations

import pytest

from sparkcopilot.analysis import analyze
from sparkcopilot.analysis.agents import AGENTS, Agent, run_agent, waves
from sparkcopilot.analysis.rules import RULES
from sparkcopilot.analysis.thresholds import Thresholds
from sparkcopilot.eventlog import read_application
from tests.conftest import DATA, LOGS


def test_every_rule_runs_in_exactly_one_agent() -> None:
    placed = [rule for agent in AGENTS for rule in agent.rules]
    assert sorted(r.__name__ for r in placed) == sorted(r.__name__ for r in RULES)


def test_waves_respect_needs() -> None:
    seen: set[str] = set()
    for wave in waves():
        for agent in wave:
            assert set(agent.needs) <= seen, agent.name
        seen.update(a.name for a in wave)
    assert seen == {a.name for a in AGENTS}


def test_agents_waiting_on_each_other_are_refused() -> None:
    loop = (Agent("delta", (), needs=("cost",)), Agent("cost", (), needs=("delta",)))
    with pytest.raises(ValueError, match="wait on each other"):
        waves(loop)


def test_an_agent_without_its_needs_does_not_run() -> None:
    app = read_application(LOGS / "skew_join_v4.zstd")
    cost = next(a for a in AGENTS if a.name == "cost")
    with pytest.raises(ValueError, match="needs"):
        run_agent(cost, app, Thresholds(), {})


@pytest.mark.parametrize(
    "log",
    [
        LOGS / "skew_join_v4.zstd",
        DATA / "codecs" / "disk_spill_v4.snappy",
        DATA / "codecs" / "python_udf_v4.lzf",
    ],
)
def test_findings_carry_the_agent_that_found_them(log: object) -> None:
    result = analyze(read_application(log))  # type: ignore[arg-type]
    assert set(result.agents) == {a.name for a in AGENTS}
    for name, agent_result in result.agents.items():
        assert all(f.agent == name for f in agent_result.findings)
    assert result.findings, "each of these logs has a real problem"
