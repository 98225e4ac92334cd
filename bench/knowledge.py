"""Knowledge retrieval figures: the query set's recall@3 and MRR, and citations on logs.

Usage: ``python bench/knowledge.py [DIR ...]``

Prints recall@3 and MRR over ``tests/data/knowledge/queries.toml``, then, for every event log
found under each DIR (for instance a held-out set outside the repository), whether each
warning or critical finding cites at least one official page whose entry applies to the
finding's kind, and ``N of M serious findings cite on topic``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sparkcopilot.analysis import analyze
from sparkcopilot.errors import SparkCopilotError
from sparkcopilot.eventlog import read_application
from sparkcopilot.knowledge import explain, local_retriever
from sparkcopilot.knowledge.entries import load_entries
from sparkcopilot.knowledge.evaluate import evaluate, load_cases

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "tests" / "data" / "knowledge" / "queries.toml"
SKIP = {"SOURCES.md", "README.md", "LICENSE", "NOTICE", "labels.json"}


def _logs(directory: Path) -> list[Path]:
    """Each log once: files and log directories directly under a source folder."""
    return sorted(
        p
        for source in sorted(directory.iterdir())
        if source.is_dir()
        for p in source.iterdir()
        if p.name not in SKIP and not p.name.startswith(".")
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dirs", nargs="*", type=Path)
    args = parser.parse_args()
    scores = evaluate(load_cases(QUERIES), local_retriever(), k=3)
    print(f"query set: recall@3 {scores.recall:.3f}, MRR {scores.mrr:.3f}")
    kinds = {e.id: set(e.kinds) for e in load_entries()}
    serious = on_topic = 0
    for directory in args.dirs:
        for log in _logs(directory):
            try:
                findings = explain(analyze(read_application(log)).findings)
            except SparkCopilotError as exc:
                print(f"  {log.relative_to(directory)}: not read ({exc})")
                continue
            for f in findings:
                if f.severity == "info":
                    continue
                serious += 1
                cited = any(f.kind in kinds[r.kb_id] for r in f.references)
                on_topic += cited
                refs = ", ".join(r.kb_id for r in f.references)
                mark = "ok  " if cited else "MISS"
                print(f"  {mark} {log.relative_to(directory)}: {f.kind} -> {refs}")
    if args.dirs:
        print(f"{on_topic} of {serious} serious findings cite on topic")
    return 0 if on_topic == serious else 1


if __name__ == "__main__":
    sys.exit(main())
