"""Where the pipeline keeps things and which logs it takes (``[pipeline]`` in the
settings file, ``SPARK_COPILOT_PIPELINE__*`` in the environment)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class PipelineSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str = "spark-copilot-local"
    # Deployment prefix of topics and subscriptions (resources.qualified).
    prefix: str = ""
    # Where parsed applications are stored (resources.PREFIX_PARSED inside it).
    artifacts_bucket: str = "spark-copilot-artifacts"
    # Only objects under this prefix of the logs bucket are logs ("" = every object).
    log_prefix: str = ""
    # Objects still being written: Spark renames them when the application ends, and the
    # rename finalizes a new object that is analyzed then.
    skip_suffixes: tuple[str, ...] = (".inprogress",)
    # How long a delivery holds the lease on a message it is sending (steps.py): longer
    # than any publish takes, and how long a crashed sender delays the message.
    claim_lease_s: float = Field(default=120, gt=0)
    # The API keys' hashes in a local file; unset, they are read from Secret Manager.
    api_keys_file: Path | None = None
    # The HTTPS API: the largest log body it takes (a bigger log goes to the bucket).
    api_max_body_bytes: int = Field(default=32 << 20, gt=0)
    # Per-key token bucket: a burst of this many requests, refilled at rate_per_s.
    api_burst: float = Field(default=10, ge=1)
    api_rate_per_s: float = Field(default=1, gt=0)
