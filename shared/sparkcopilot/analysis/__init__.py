"""Finding what makes an application slow or expensive (DESIGN.md §4).

The engine is imported on first use: ``config`` reads ``analysis.thresholds``, and reading
a log must not pay for importing every rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._engine import Analysis, analyze, merge

__all__ = ["Analysis", "analyze", "merge"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import _engine  # noqa: PLC0415 - deferred on purpose, see above

        return getattr(_engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
