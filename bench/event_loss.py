"""Event-loss detection on the corpus: recall on copies with lines deleted at random, and
false alarms on the intact complete logs.

    PYTHONPATH=shared:. python bench/event_loss.py [--seeds 5]

Every complete log of ``../shared/eventlogs`` is decoded, and for each seed a plain copy
loses 1 % and 10 % of its lines (at least one). Recall = copies reported with
``event_loss`` ÷ copies. A deleted line that the reader can miss without any trace (an
UnpersistRDD, a second BlockManagerAdded) counts against recall all the same; a deleted
ApplicationEnd makes the log incomplete, which is what the report then says (counted
apart: "reported incomplete").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from sparkcopilot.eventlog import read_application
from sparkcopilot.quality import data_quality
from tests.conftest import CORPUS, corpus_labels
from tests.lossy import log_lines, lossy_copy

FRACTIONS = (0.01, 0.10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    labels = {k: v for k, v in corpus_labels().items() if v["complete"]}
    if not labels:
        sys.exit(f"no corpus at {CORPUS}")
    flagged_intact = []
    hits = dict.fromkeys(FRACTIONS, 0)
    incomplete = dict.fromkeys(FRACTIONS, 0)
    tries = dict.fromkeys(FRACTIONS, 0)
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(labels):
            log = CORPUS / name
            if data_quality(read_application(log)).event_loss:
                flagged_intact.append(name)
            lines = log_lines(log)
            for fraction in FRACTIONS:
                for seed in range(args.seeds):
                    copy = Path(tmp) / "lossy"
                    deleted = lossy_copy(lines, fraction, seed, copy)
                    tries[fraction] += 1
                    quality = data_quality(read_application(copy))
                    if quality.event_loss:
                        hits[fraction] += 1
                    elif not quality.complete:
                        incomplete[fraction] += 1
                    else:
                        kinds = [lines[i][:60].decode(errors="replace") for i in deleted[:3]]
                        missed.append(f"{name} {fraction:.0%} seed {seed}: {kinds}")
    print(f"complete logs: {len(labels)}; intact ones flagged: {len(flagged_intact)}")
    for name in flagged_intact:
        print(f"  flagged intact: {name}")

    def recall_miss(fraction: float) -> int:
        return tries[fraction] - hits[fraction] - incomplete[fraction]

    for fraction in FRACTIONS:
        print(
            f"{fraction:4.0%} of lines deleted: recall {hits[fraction] / tries[fraction]:.3f} "
            f"({hits[fraction]}/{tries[fraction]}); reported incomplete instead: "
            f"{incomplete[fraction]}; neither: {recall_miss(fraction)}"
        )
    for line in missed:
        print(f"  missed: {line}")


if __name__ == "__main__":
    main()
