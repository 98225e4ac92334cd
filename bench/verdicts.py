"""Per-kind verdicts of the analysis over a labeled corpus: the table the issue asks for.

    python bench/verdicts.py [CORPUS_DIR]   (default ../shared/eventlogs)

For every log with a label: the warning/critical kinds the analysis reports, against the
label's ``expect_kinds`` (and ``expect_stage_ids`` for data_skew). A kind reported where
it is expected is a true positive; reported on a healthy log, or on a generated log that
does not expect it, a false positive; expected and not reported, a false negative.
Public logs carry no expectations: what fires there is listed for review ("unlabeled"),
as on logs labeled neither healthy nor with a problem (the runtime series).
Also prints, per log, the seconds the analysis took (read + analyze).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

from sparkcopilot.analysis import analyze
from sparkcopilot.eventlog import read_application


def _labels(corpus: Path) -> dict[str, dict[str, object]]:
    labels: dict[str, dict[str, object]] = json.loads((corpus / "labels.json").read_text())
    public = corpus / "public" / "labels_public.json"
    if public.exists():
        labels.update(json.loads(public.read_text()))
    return labels


def main() -> None:
    corpus = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/eventlogs")
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    unlabeled: Counter[str] = Counter()
    lines = []
    for name, label in sorted(_labels(corpus).items()):
        started = time.perf_counter()
        app = read_application(corpus / name)
        findings = [f for f in analyze(app).findings if f.severity != "info"]
        seconds = time.perf_counter() - started
        kinds = {f.kind for f in findings}
        expected = set(label.get("expect_kinds") or [])  # type: ignore[call-overload]
        judged = bool(label.get("healthy")) or (name.startswith("generated/") and bool(expected))
        for kind in kinds:
            if kind in expected:
                tp[kind] += 1
            elif judged:
                fp[kind] += 1
            else:
                unlabeled[kind] += 1
        for kind in expected - kinds:
            fn[kind] += 1
        stages = {s for f in findings if f.kind == "data_skew" for s in f.scope.stage_ids}
        wanted = set(label.get("expect_stage_ids") or [])  # type: ignore[call-overload]
        skew_note = (
            "" if wanted <= stages else f"  SKEW STAGES {sorted(stages)} != {sorted(wanted)}"
        )
        shown = ", ".join(f"{f.kind}[{f.severity[0]}]" for f in findings) or "-"
        lines.append(f"{name[:64]:64} {seconds:6.2f}s  {shown}{skew_note}")
    print("\n".join(lines))
    print()
    print(f"{'kind':24} {'TP':>4} {'FP':>4} {'FN':>4} {'unlabeled':>10}")
    for kind in sorted(set(tp) | set(fp) | set(fn) | set(unlabeled)):
        print(f"{kind:24} {tp[kind]:4} {fp[kind]:4} {fn[kind]:4} {unlabeled[kind]:10}")


if __name__ == "__main__":
    main()
