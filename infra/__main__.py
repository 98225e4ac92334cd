"""The Pulumi program (``pulumi up`` in this directory; see README.md).

It builds the deploy bundles first — the same sources give the same archives, so only a
changed function is redeployed — then declares the pipeline from the stack's configuration.
"""

import json
import sys
from pathlib import Path

# Pulumi runs this file as a script; the repository root makes ``infra`` the package the
# tests import rather than a directory of loose modules.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from infra.bundle import build_bundles
from infra.config import NAMESPACE, StackConfig, load
from infra.program import declare


def _stack_values() -> dict[str, object]:
    provider = pulumi.Config("gcp")
    ours = pulumi.Config(NAMESPACE)
    values: dict[str, object] = {
        "project": provider.require("project"),
        "region": provider.get("region") or StackConfig.model_fields["region"].default,
    }
    for key in StackConfig.model_fields.keys() - values.keys():
        raw = ours.get(key)
        if raw is not None:
            # Structured values (lists, maps, booleans, numbers) arrive as JSON text.
            try:
                values[key] = json.loads(raw)
            except ValueError:
                values[key] = raw
    return values


declare(load(_stack_values()), {b.function: b.path for b in build_bundles()})
