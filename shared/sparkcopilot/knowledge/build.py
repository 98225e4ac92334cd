"""Validate the knowledge base and build its index: ``python -m sparkcopilot.knowledge.build``.

``--check`` validates every entry and builds the index in memory without writing it;
``--out PATH`` writes the index file (the package build writes it into the wheel);
``--publish`` embeds every passage with the configured embedder and upserts it into the
configured vector index (Vertex AI Vector Search, ``[knowledge]`` settings).
Any invalid entry prints one line naming the file and the problem, and exits with status 3.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import SparkCopilotError
from .entries import KB_DIR
from .index import INDEX_FILE, build_index, fill, save_index


def write_index(path: Path, directory: Path = KB_DIR) -> str:
    """Build the index from ``directory`` into ``path``; return a one-line summary."""
    knowledge = build_index(directory)
    save_index(knowledge, path)
    return f"{len(knowledge.entries)} entries, {len(knowledge.chunks)} passages -> {path}"


def _publish() -> str:
    from ..config import load_settings  # noqa: PLC0415 - only this command reads settings
    from .retrieve import retriever_from  # noqa: PLC0415

    settings = load_settings().knowledge
    knowledge = build_index()
    retriever = retriever_from(settings)
    fill(retriever.index, retriever.embedder, knowledge)
    return f"{len(knowledge.chunks)} passages upserted ({settings.embedder} embedder)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkcopilot.knowledge.build")
    parser.add_argument("--kb", type=Path, default=KB_DIR, help="entries directory")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="validate only, write nothing")
    action.add_argument("--out", type=Path, default=INDEX_FILE, help="index file to write")
    action.add_argument("--publish", action="store_true", help="upsert into the configured index")
    args = parser.parse_args(argv)
    try:
        if args.check:
            knowledge = build_index(args.kb)
            print(f"{len(knowledge.entries)} entries, {len(knowledge.chunks)} passages: valid")
        elif args.publish:
            print(_publish())
        else:
            print(write_index(args.out, args.kb))
    except SparkCopilotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
