"""What a function's main.py defines at top level, read without importing it."""

from __future__ import annotations

import ast


def defined_names(main_py: bytes) -> set[str]:
    """Functions, assigned names and imported names: an entry point may be any of them
    (``def ingest``, ``analyze_skew = agent_entry("skew")``, ``from .x import api``)."""
    names: set[str] = set()
    for node in ast.parse(main_py).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {alias.asname or alias.name for alias in node.names}
    return names
