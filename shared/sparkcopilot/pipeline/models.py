"""The model registry in a blob store (Cloud Storage in the cloud), laid out as the local
one: ``<prefix><version>/model.joblib`` and ``meta.json``, and ``<prefix>CURRENT`` naming
the published version, written last. Models are pickles: load only a bucket you write."""

from __future__ import annotations

import io
import json

import joblib

from .. import resources
from ..errors import BadInputError
from ..prediction.history import HistoryReader
from ..prediction.predictor import RuntimeModel
from ..prediction.registry import model_from, model_meta
from ..prediction.training import TrainingResult, train
from .logs import LOGGER
from .ports import BlobStore


class BlobModelRegistry:
    def __init__(self, blobs: BlobStore, bucket: str, prefix: str = resources.PREFIX_MODELS):
        self.blobs, self.bucket, self.prefix = blobs, bucket, prefix

    def current(self) -> RuntimeModel | None:
        if self.blobs.stat(self.bucket, self.prefix + "CURRENT") is None:
            return None
        version = self.blobs.read(self.bucket, self.prefix + "CURRENT").decode().strip()
        where = f"{self.prefix}{version}/"
        try:
            meta = json.loads(self.blobs.read(self.bucket, where + "meta.json"))
            estimator = joblib.load(
                io.BytesIO(self.blobs.read(self.bucket, where + "model.joblib"))
            )
        except (OSError, ValueError, KeyError) as exc:
            raise BadInputError(f"{self.bucket}/{where}", f"cannot load model: {exc}") from exc
        return model_from(meta, estimator)

    def publish(self, model: RuntimeModel) -> None:
        where = f"{self.prefix}{model.version}/"
        packed = io.BytesIO()
        joblib.dump(model.estimator, packed)
        self.blobs.write(self.bucket, where + "model.joblib", packed.getvalue())
        meta = json.dumps(model_meta(model), indent=2) + "\n"
        self.blobs.write(self.bucket, where + "meta.json", meta.encode())
        self.blobs.write(self.bucket, self.prefix + "CURRENT", model.version.encode() + b"\n")


def train_from_history(
    history: HistoryReader, registry: BlobModelRegistry
) -> TrainingResult | None:
    """The scheduled training run; None (logged) while history is too short to train on."""
    try:
        result = train(history, registry)
    except BadInputError as exc:
        LOGGER.warning(f"not trained: {exc}")
        return None
    LOGGER.info(
        f"trained {result.model_version} on {result.rows} run(s); published: {result.published}"
    )
    return result
