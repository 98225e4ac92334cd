"""The parsed-application artifact: every bundled log round-trips to the same analysis."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkcopilot.analysis import analyze
from sparkcopilot.analysis.report import analysis_report
from sparkcopilot.errors import BadInputError
from sparkcopilot.eventlog import read_application
from sparkcopilot.model_codec import decode_application, encode_application
from tests.conftest import DATA, LOGS, bundled_labels

BUNDLED = sorted(LOGS / name for name in bundled_labels())


@pytest.mark.parametrize("log", BUNDLED, ids=lambda p: Path(p).name)
def test_decoded_application_analyzes_like_the_original(log: Path) -> None:
    original = read_application(log)
    artifact = encode_application(original)
    decoded = decode_application(artifact)
    assert analysis_report(decoded, analyze(decoded, explained=False)) == analysis_report(
        original, analyze(original, explained=False)
    )
    assert decoded.app == original.app and decoded.stages == original.stages
    assert decoded.sql_executions == original.sql_executions
    assert not decoded.tasks.run_ms.flags.writeable


def test_the_artifact_is_smaller_than_the_log() -> None:
    log = DATA / "logs" / "healthy_narrow_v35"
    assert len(encode_application(read_application(log))) < log.stat().st_size / 4


@pytest.mark.parametrize(
    "artifact",
    [b"not an artifact", b"SCAPP" + b"\x28\xb5\x2f\xfd garbage"],
    ids=["bad magic", "corrupt frame"],
)
def test_a_damaged_artifact_is_bad_input(artifact: bytes) -> None:
    with pytest.raises(BadInputError, match="parsed/x"):
        decode_application(artifact, "parsed/x")
