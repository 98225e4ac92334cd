"""Starts bqemulator offline: it would download DuckDB's spatial extension at start and
exit without it; skipping that loses only GEOGRAPHY (../shared/EMULATORS.md §4)."""

from __future__ import annotations

import sys

from bqemulator.cli import main  # type: ignore[import-not-found]
from bqemulator.storage import engine  # type: ignore[import-not-found]

engine.DuckDBEngine._load_spatial = lambda self: None

if __name__ == "__main__":
    sys.exit(main())
