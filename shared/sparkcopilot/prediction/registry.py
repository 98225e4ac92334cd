"""Where trained models live: :class:`ModelRegistry` is the port, :class:`LocalModelRegistry`
the embedded adapter (a directory; Cloud Storage comes with the pipeline).

An artifact is a directory ``<version>/`` holding ``model.joblib`` (the fitted
scikit-learn estimator) and ``meta.json`` (version, kind, features version and schema,
interval, metrics). ``CURRENT`` names the published version. Artifacts are written to a
temporary directory and renamed, and ``CURRENT`` is replaced atomically. Models are
loaded with joblib (pickle): load only registries you wrote.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol, cast

import joblib

from ..errors import BadInputError
from .predictor import ModelKind, RuntimeModel


class ModelRegistry(Protocol):
    def current(self) -> RuntimeModel | None:
        """The published model, if any."""

    def publish(self, model: RuntimeModel) -> None:
        """Store ``model`` (its ``version`` set) and make it the current one."""


def model_meta(model: RuntimeModel) -> dict[str, Any]:
    """``meta.json`` of an artifact: everything of the model but its estimator."""
    return {
        "version": model.version,
        "kind": model.kind,
        "features_version": model.features_version,
        "feature_names": list(model.feature_names),
        "interval": list(model.interval),
        "metrics": model.metrics,
    }


def model_from(meta: dict[str, Any], estimator: Any) -> RuntimeModel:
    return RuntimeModel(
        kind=cast(ModelKind, meta["kind"]),
        estimator=estimator,
        feature_names=tuple(meta["feature_names"]),
        features_version=meta["features_version"],
        interval=(float(meta["interval"][0]), float(meta["interval"][1])),
        metrics={k: float(v) for k, v in meta["metrics"].items()},
        version=meta["version"],
    )


class LocalModelRegistry:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def current(self) -> RuntimeModel | None:
        pointer = self.directory / "CURRENT"
        if not pointer.is_file():
            return None
        return self.load(pointer.read_text().strip())

    def load(self, version: str) -> RuntimeModel:
        where = self.directory / version
        try:
            meta = json.loads((where / "meta.json").read_text())
            estimator = joblib.load(where / "model.joblib")
        except (OSError, ValueError, KeyError) as exc:
            raise BadInputError(str(where), f"cannot load model: {exc}") from exc
        return model_from(meta, estimator)

    def publish(self, model: RuntimeModel) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{model.version}.", dir=self.directory))
        joblib.dump(model.estimator, staging / "model.joblib")
        meta = json.dumps(model_meta(model), indent=2) + "\n"
        (staging / "meta.json").write_text(meta)
        os.replace(staging, self.directory / model.version)
        fd, tmp = tempfile.mkstemp(prefix=".CURRENT.", dir=self.directory)
        with os.fdopen(fd, "w") as out:
            out.write(model.version + "\n")
        os.replace(tmp, self.directory / "CURRENT")
