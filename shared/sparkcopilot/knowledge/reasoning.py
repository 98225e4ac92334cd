"""The reasoning agent: each finding gets its official references and a short explanation.

The explanation is assembled, deterministically, from the finding's own evidence numbers and
the retrieved passages (their first sentences, quoted with the page they come from). An LLM
rewrite is optional: only when configured, and the references stay the retrieved ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from ..analysis.findings import Finding, Reference
from .retrieve import Passage, Retriever, query_for, retriever_from
from .settings import KnowledgeSettings

# Evidence numbers quoted in an explanation: the first ones a rule records are its proof.
EVIDENCE_QUOTED = 4
# Passages quoted: the best two pages; the third stays a reference only.
PASSAGES_QUOTED = 2
# A quoted passage stops at the sentence that crosses this many characters.
SENTENCE_CHARS = 160

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


class Rewriter(Protocol):
    def rewrite(self, finding: Finding, explanation: str, passages: Sequence[Passage]) -> str: ...


def _size(n: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,.0f} B"


def _quantity(name: str, value: int | float) -> str:
    if name.endswith("_ms"):
        label, text = name[:-3], (f"{value / 1000:,.1f} s" if value >= 1000 else f"{value:,} ms")
    elif name.endswith("_bytes"):
        label, text = name[:-6], _size(value)
    else:
        label, text = name, (f"{value:,}" if isinstance(value, int) else f"{value:,.3g}")
    return f"{label.replace('_', ' ')} {text}"


def _evidence(finding: Finding) -> str:
    numbers = [
        _quantity(name, value)
        for name, value in finding.evidence.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    return ", ".join(numbers[:EVIDENCE_QUOTED])


def _lead(text: str) -> str:
    """The passage's first sentences, up to about ``SENTENCE_CHARS``."""
    out = ""
    for sentence in _SENTENCE_END.split(text):
        out = f"{out} {sentence}".strip()
        if len(out) >= SENTENCE_CHARS:
            break
    return out


def explanation(finding: Finding, passages: Sequence[Passage]) -> str:
    parts = []
    measured = _evidence(finding)
    if measured:
        parts.append(f"Measured: {measured}.")
    parts += [f"{_lead(p.chunk.text)} ({p.entry.title})" for p in passages[:PASSAGES_QUOTED]]
    documented = [key for key in finding.config if any(key in p.entry.config for p in passages)]
    if documented:
        parts.append(f"The cited pages document {', '.join(documented)}.")
    return " ".join(parts)


def explain(
    findings: Sequence[Finding],
    settings: KnowledgeSettings | None = None,
    retriever: Retriever | None = None,
    rewriter: Rewriter | None = None,
) -> tuple[Finding, ...]:
    """Copies of ``findings`` with ``references`` and ``explanation`` filled in.

    The rule's own explanation (the physics of the problem) comes first, the passages'
    after it. Findings that already carry references are returned as they are, so
    explaining twice changes nothing."""
    settings = settings or KnowledgeSettings()
    retriever = retriever or retriever_from(settings)
    if rewriter is None and settings.rewrite == "gemini":
        from .vertex import GeminiRewriter  # noqa: PLC0415 - the cloud adapter only when configured

        rewriter = GeminiRewriter.from_settings(settings.vertex)
    explained = []
    for finding in findings:
        if finding.references:
            explained.append(finding)
            continue
        passages = retriever.search(query_for(finding), settings.references)
        text = explanation(finding, passages)
        if finding.explanation:
            text = f"{finding.explanation}\n\n{text}" if text else finding.explanation
        if rewriter is not None and passages:
            text = rewriter.rewrite(finding, text, passages)
        references = tuple(
            Reference(title=p.entry.title, url=p.entry.url, kb_id=p.entry.id) for p in passages
        )
        explained.append(finding.model_copy(update={"references": references, "explanation": text}))
    return tuple(explained)
