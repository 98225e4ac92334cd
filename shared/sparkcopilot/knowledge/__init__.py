"""Knowledge retrieval: official documentation behind every recommendation (DESIGN.md §1).

``explain(findings)`` returns the findings with ``references`` (title, official url, kb id)
and an ``explanation`` assembled from the retrieved passages. The entries live in ``kb/``;
the index over them is built with the package (see ``index.py``). Modules load on first
use: the settings import this package, and reading a log must not pay for scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .reasoning import explain
    from .retrieve import Retriever, local_retriever, retriever_from

__all__ = ["Retriever", "explain", "local_retriever", "retriever_from"]

_HOME = {
    "explain": "reasoning",
    "Retriever": "retrieve",
    "local_retriever": "retrieve",
    "retriever_from": "retrieve",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        from importlib import import_module  # noqa: PLC0415 - deferred on purpose, see above

        return getattr(import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
