"""Claims in the making and the ledger that turns their spans into numbered evidence.

The ledger holds the hits retrieved for one question and is the only way a span becomes
`Evidence`: a span of any other chunk, or outside its chunk, is refused. That is the rule
"a citation can only point at evidence retrieved for this question", enforced in code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from veritas_agent.evidence import Span, chunk_offsets_consistent
from veritas_agent.models import Evidence, Hit
from veritas_common.contract import Support


class CitationError(Exception):
    """A span that was not retrieved for this question; reaching it is a bug."""


@dataclass
class DraftClaim:
    """A claim before its evidence is numbered: text, cited spans, verdict."""

    text: str
    spans: list[Span]
    support: Support = Support.UNSPECIFIED
    score: float = 0.0
    reason: str = ""
    # Candidate id the claim came from (extractive) or "C<n>" (abstractive), for the trace.
    label: str = ""
    # Extractive: the sentence in its context, as the judge read it at selection.
    context: str = ""


class CitationLedger:
    """The spans one question may cite."""

    def __init__(self, hits: Sequence[Hit]) -> None:
        self._hits = {hit.chunk.chunk_id: hit for hit in hits}

    def check(self, span: Span) -> None:
        hit = self._hits.get(span.hit.chunk.chunk_id)
        if hit is None or hit is not span.hit:
            raise CitationError(
                f"chunk {span.hit.chunk.chunk_id} was not retrieved for this question"
            )
        if not chunk_offsets_consistent(hit.chunk):
            raise CitationError(f"chunk {hit.chunk.chunk_id} offsets do not match its text")
        if not 0 <= span.start < span.end <= len(hit.chunk.text):
            raise CitationError(f"span {span.start}:{span.end} outside chunk {hit.chunk.chunk_id}")

    def number(self, claims: Sequence[DraftClaim]) -> tuple[list[Evidence], list[list[str]]]:
        """Evidence "E1", "E2", ... in order of first citation, and each claim's ids."""
        ids: dict[tuple[str, int, int], str] = {}
        evidence: list[Evidence] = []
        citations: list[list[str]] = []
        for claim in claims:
            cited: list[str] = []
            for span in claim.spans:
                self.check(span)
                if span.key not in ids:
                    ids[span.key] = f"E{len(ids) + 1}"
                    evidence.append(_evidence(ids[span.key], span))
                if ids[span.key] not in cited:
                    cited.append(ids[span.key])
            citations.append(cited)
        return evidence, citations


def _evidence(evidence_id: str, span: Span) -> Evidence:
    chunk = span.hit.chunk
    return Evidence(
        id=evidence_id,
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        source=chunk.source,
        title=chunk.title,
        section_path=tuple(chunk.section_path),
        page=chunk.page,
        char_start=span.char_start,
        char_end=span.char_end,
        quote=span.quote,
        retrieval_score=span.hit.retrieval_score,
        rerank_score=span.hit.rerank_score or 0.0,
    )
