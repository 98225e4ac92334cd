"""Package build hook: validate the knowledge base and ship its index inside the wheel.

Everything else is declared in pyproject.toml. An invalid entry fails the build with one line
naming the file and the problem.
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHARED = Path(__file__).resolve().parent / "shared"


class BuildPyWithKnowledgeIndex(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # editable installs build the index on first use instead
            return
        sys.path.insert(0, str(SHARED))
        # The package being built, from its source tree: imported once its path is known.
        from sparkcopilot.errors import SparkCopilotError  # noqa: PLC0415
        from sparkcopilot.knowledge.build import write_index  # noqa: PLC0415

        out = Path(self.build_lib) / "sparkcopilot" / "knowledge" / "_index.npz"
        try:
            print(f"knowledge index: {write_index(out)}")
        except SparkCopilotError as exc:
            raise SystemExit(f"error: knowledge base: {exc}") from exc


setup(cmdclass={"build_py": BuildPyWithKnowledgeIndex})
