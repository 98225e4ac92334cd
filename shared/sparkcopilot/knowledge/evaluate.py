"""Retrieval quality on a query set: ``python -m sparkcopilot.knowledge.evaluate QUERIES.toml``.

A query set is a TOML file of ``[[case]]`` tables, each a finding as the rules would write it
(``kind``, ``title``, ``evidence`` names, ``config`` keys) and the entries that must come back
(``expect``). It prints recall@k (the share of expected entries among the top k, averaged over
cases) and the mean reciprocal rank of the first expected entry.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..analysis.findings import Kind
from .retrieve import Query, Retriever, local_retriever, make_query


@dataclass(frozen=True, slots=True)
class Case:
    query: Query
    expect: frozenset[str]


@dataclass(frozen=True, slots=True)
class Scores:
    recall: float
    mrr: float
    #: (query kind, expected ids missing from the top k, the top k) per imperfect case.
    misses: tuple[tuple[Kind, tuple[str, ...], tuple[str, ...]], ...]


def load_cases(path: Path) -> tuple[Case, ...]:
    raw: list[dict[str, Any]] = tomllib.loads(path.read_text())["case"]
    return tuple(
        Case(
            make_query(
                c["kind"],
                c.get("title", ""),
                dict.fromkeys(c.get("evidence", []), 0),
                dict.fromkeys(c.get("config", []), ""),
            ),
            frozenset(c["expect"]),
        )
        for c in raw
    )


def evaluate(cases: Sequence[Case], retriever: Retriever, k: int = 3) -> Scores:
    recalls, ranks, misses = [], [], []
    for case in cases:
        ranked = [p.entry.id for p in retriever.search(case.query, 10)]
        top = ranked[:k]
        recalls.append(len(case.expect & set(top)) / len(case.expect))
        first = next((i for i, kb_id in enumerate(ranked, 1) if kb_id in case.expect), None)
        ranks.append(1 / first if first else 0.0)
        missing = tuple(sorted(case.expect - set(top)))
        if missing:
            misses.append((case.query.kind, missing, tuple(top)))
    return Scores(sum(recalls) / len(cases), sum(ranks) / len(cases), tuple(misses))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkcopilot.knowledge.evaluate")
    parser.add_argument("queries", type=Path)
    parser.add_argument("-k", type=int, default=3)
    args = parser.parse_args(argv)
    cases = load_cases(args.queries)
    scores = evaluate(cases, local_retriever(), args.k)
    print(f"{len(cases)} queries: recall@{args.k} {scores.recall:.3f}, MRR {scores.mrr:.3f}")
    for kind, missing, top in scores.misses:
        print(f"  {kind}: missing {', '.join(missing)}; top {', '.join(top)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
