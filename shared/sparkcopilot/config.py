"""Typed settings, resolved from defaults, then a TOML file, then the environment.

Each setting says why its default is what it is. Environment variables are named
``SPARK_COPILOT_<SECTION>__<FIELD>`` (for example ``SPARK_COPILOT_READER__MAX_LOG_BYTES``);
the file is ``$SPARK_COPILOT_CONFIG`` when set, with one table per section.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .analysis.thresholds import Thresholds
from .errors import UsageError
from .knowledge.settings import KnowledgeSettings
from .pipeline.settings import PipelineSettings

_ENV_PREFIX = "SPARK_COPILOT_"

GiB = 1 << 30
MiB = 1 << 20


class ReaderSettings(BaseModel):
    """Limits and parallelism of the event-log reader."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A TPC-DS SF200 run writes a 1.1 GB log (apache/spark#31618); 24/7 Databricks
    # clusters reach tens of GB. 64 GiB refuses only what no analysis should try.
    max_log_bytes: int = Field(default=64 * GiB, gt=0)
    # Real logs compress 5-35x (17.6x zstd on TPC-DS SF200, ~35x on a synthetic log,
    # FIELD_NOTES §4); 200x leaves room for repetitive logs and still stops a bomb.
    max_expansion_ratio: float = Field(default=200.0, gt=1)
    # The largest single events are AQE plan updates, around 1 MB in Photon logs;
    # a line of 256 MiB is not an event log.
    max_line_bytes: int = Field(default=256 * MiB, gt=0)
    # Lines are parsed in buffers of this size: big enough to amortise the hand-off
    # to a worker, small enough that memory does not grow with the log.
    chunk_bytes: int = Field(default=4 * MiB, ge=64 * 1024)
    # Worker processes cost ~0.2 s to start: below this many decoded bytes the reader
    # stays in one process.
    parallel_min_bytes: int = Field(default=48 * MiB, ge=0)
    # Parse task lines with the C scanner when it is built. False forces the pure-Python
    # path (same results, a few times slower): for comparison, or should C misbehave.
    accelerated: bool = True
    # 0 = automatic: one process when the C task scanner is built (parsing is then
    # cheaper than moving its results between processes), else one per usable CPU.
    workers: int = Field(default=0, ge=0)


def _user_data_dir() -> Path:
    """``$XDG_DATA_HOME/spark-copilot``, else ``~/.local/share/spark-copilot``."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "spark-copilot"


class HistorySettings(BaseModel):
    """Where analysed runs are recorded and models trained on them are kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The embedded history store (SQLite) that analyze appends to and train reads.
    path: Path = Field(default_factory=lambda: _user_data_dir() / "history.sqlite")
    # analyze records every run it reads, so train has history to learn from; false
    # keeps nothing (analyze --no-history does the same for one run).
    record: bool = True
    # The embedded model registry: one directory per model version, CURRENT names the
    # published one.
    models_dir: Path = Field(default_factory=lambda: _user_data_dir() / "models")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reader: ReaderSettings = ReaderSettings()
    analysis: Thresholds = Thresholds()
    history: HistorySettings = Field(default_factory=HistorySettings)
    knowledge: KnowledgeSettings = KnowledgeSettings()
    pipeline: PipelineSettings = PipelineSettings()


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """``SPARK_COPILOT_A__B__C=v`` → ``{"a": {"b": {"c": "v"}}}``."""
    tree: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(_ENV_PREFIX) or "__" not in key:
            continue
        *path, name = key[len(_ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[name] = value
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, overridden by the TOML file, overridden by the environment."""
    env = os.environ if env is None else env
    layers: dict[str, Any] = {}
    path = env.get(_ENV_PREFIX + "CONFIG")
    if path:
        try:
            layers = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{path}: cannot read settings: {exc}") from exc
    layers = _merge(layers, _from_env(env))
    try:
        return Settings.model_validate(layers)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"setting {where}: {first['msg']}") from exc
