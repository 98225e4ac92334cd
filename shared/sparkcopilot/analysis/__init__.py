"""Finding what makes an application slow or expensive (DESIGN.md §4)."""

from ._engine import Analysis, analyze

__all__ = ["Analysis", "analyze"]
