"""The Pulumi program (``pulumi up`` in this directory; see README.md).

It builds the deploy bundles first — the same sources give the same archives, so only a
changed function is redeployed — then declares the pipeline from the stack's configuration.
"""

import sys
from pathlib import Path

# Pulumi runs this file as a script; the repository root makes ``infra`` the package the
# tests import rather than a directory of loose modules.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.bundle import build_bundles
from infra.config import from_pulumi
from infra.program import declare

declare(from_pulumi(), {bundle.function: bundle.path for bundle in build_bundles()})
