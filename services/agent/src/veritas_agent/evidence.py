"""Evidence selection: which sentences of the retrieved chunks decide the question.

Sentences come as ingestion stored them (spans, kinds, and vectors of each sentence read in
its context, `veritas_common.judge.judge_text`), so selection embeds nothing: the query's
vector comes back with the search results. Two stages:

1. prefilter: every claimable sentence of the top chunks is scored by
       relevance = w * cosine(question, sentence in context) + (1 - w) * content-word overlap
   and the best `judge_limit` go on. Overlap is the IDF-weighted share of the question's
   content words (numbers included) found in the sentence or its context; IDF is taken over
   the sentences being scored, so words every sentence of a document shares through its title
   weigh little when choosing among that document's sentences.
2. the evidence judge (`veritas_common.judge`, a cross-encoder the project trains) reads the
   question with each of those that clear the relevance bar (`relevance_threshold`,
   `min_similarity`) and gives P(decides) = P(SUPPORT) + P(CONTRADICT). The answerability
   gate refuses when no sentence reaches `gate_threshold`; candidates are the sentences within
   `judge_margin` of the best (and above `candidate_floor`), best first.

Without the judge (the `selector` ablation, or no judge configured) the prefilter's relevance
is the score, with its own bars (`relevance_threshold`, `min_similarity`): the bi-encoder
fallback, named as such in the trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from veritas.v1 import common_pb2
from veritas_agent.judging import CachedJudge
from veritas_agent.lexical import content_words
from veritas_agent.models import REFUSAL_NO_EVIDENCE, REFUSAL_NOT_ANSWERABLE, Hit
from veritas_common.judge import NEI, judge_text
from veritas_common.sentences import Sentence, sentences_from_proto, split_sentences


@dataclass(frozen=True)
class Span:
    """A span of a retrieved chunk; `start`/`end` are offsets into the chunk text."""

    hit: Hit
    start: int
    end: int

    @property
    def quote(self) -> str:
        return self.hit.chunk.text[self.start : self.end]

    @property
    def char_start(self) -> int:
        """Offset into the document's normalised text."""
        return self.hit.chunk.char_start + self.start

    @property
    def char_end(self) -> int:
        return self.hit.chunk.char_start + self.end

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.hit.chunk.chunk_id, self.start, self.end)


@dataclass
class Candidate:
    """A sentence chosen as evidence, with the id the model ranks it by ("S1" is best)."""

    id: str
    hit: Hit
    sentence: Sentence
    similarity: float
    overlap: float
    # The ranking score: the judge's P(decides), or the fallback's relevance.
    score: float

    @property
    def text(self) -> str:
        """What the sentence says, as a claim would state it."""
        return self.sentence.claim_text()

    @property
    def context(self) -> str:
        return in_context(self.hit, self.sentence)

    @property
    def spans(self) -> list[Span]:
        """The spans a claim made of this sentence cites: the sentence, and for a table row
        the header its cells are read against."""
        spans = [Span(self.hit, self.sentence.start, self.sentence.end)]
        if self.sentence.header is not None:
            spans.append(Span(self.hit, self.sentence.header.start, self.sentence.header.end))
        return spans


@dataclass
class Selection:
    candidates: list[Candidate]
    sentences_scored: int
    chunks_used: int
    best_score: float
    # Who ranked: the judge's model id, or the fallback's name.
    ranked_by: str = ""
    # Sentences the judge read (0 for the fallback).
    judged: int = 0
    # Why nothing was selected, when nothing was (goes into the refusal reason).
    refusal: str = ""
    # Chunks left out because their offsets do not match their text (they cannot be cited).
    inconsistent_chunks: list[str] = field(default_factory=list)


def chunk_offsets_consistent(chunk: common_pb2.Chunk) -> bool:
    """Whether `chunk.text` can be the document slice [char_start:char_end]."""
    return chunk.char_start >= 0 and chunk.char_end - chunk.char_start == len(chunk.text)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norm if norm else 0.0


def in_context(hit: Hit, sentence: Sentence) -> str:
    """The sentence as the judge and the stored vectors read it: in its document's context."""
    return judge_text(sentence.claim_text(), hit.chunk.title, hit.chunk.section_path)


def idf_weights(words: set[str], pool: Sequence[set[str]]) -> dict[str, float]:
    """BM25-style inverse document frequency of `words` over the sentences in `pool`: a word
    every sentence shares (the company name, the year) tells little; a question word no
    sentence has ("aspirin") weighs most."""
    n = len(pool)
    return {w: math.log((n + 1) / (sum(1 for p in pool if w in p) + 0.5)) for w in words}


def weighted_overlap(words: set[str], reference: set[str], weights: dict[str, float]) -> float:
    """Share of the weight of `words` found in `reference` (0 when `words` is empty)."""
    total = sum(weights[w] for w in words)
    return sum(weights[w] for w in words & reference) / total if total > 0 else 0.0


@dataclass
class _Scored:
    hit: Hit
    sentence: Sentence
    context: str
    similarity: float
    overlap: float
    relevance: float
    # Whether a stored vector gave `similarity` (a chunk indexed before sentences had them
    # has none: its sentences are scored by overlap alone).
    embedded: bool = True
    decides: float = 0.0


def chunk_sentences(chunk: common_pb2.Chunk) -> list[tuple[Sentence, np.ndarray | None]]:
    """The chunk's sentences with their stored vectors; a chunk indexed before sentences were
    stored is split here (and has no vectors)."""
    stored = sentences_from_proto(chunk.text, chunk.sentences) if chunk.sentences else None
    if stored is None:
        table = chunk.modality == common_pb2.MODALITY_TABLE
        return [(s, None) for s in split_sentences(chunk.text, table=table)]
    return [
        (s, np.asarray(p.vector, dtype=np.float32) if p.vector else None)
        for s, p in zip(stored, chunk.sentences, strict=True)
    ]


class EvidenceSelector:
    """Picks the sentences of the top chunks that decide the question (module docstring)."""

    FALLBACK = "fallback:bi-encoder+overlap"

    def __init__(
        self,
        judge: CachedJudge | None,
        *,
        context_chunks: int = 5,
        judge_limit: int = 24,
        gate_threshold: float = 0.5,
        candidate_floor: float = 0.2,
        similarity_weight: float = 0.6,
        relevance_threshold: float = 0.40,
        min_similarity: float = 0.30,
        relevance_margin: float = 0.12,
        judge_margin: float = 0.5,
        max_candidates: int = 8,
    ) -> None:
        self.judge = judge
        self.context_chunks = context_chunks
        self.judge_limit = judge_limit
        self.gate_threshold = gate_threshold
        self.candidate_floor = candidate_floor
        self.similarity_weight = similarity_weight
        self.relevance_threshold = relevance_threshold
        self.min_similarity = min_similarity
        self.relevance_margin = relevance_margin
        self.judge_margin = judge_margin
        self.max_candidates = max_candidates

    def sentences(
        self, hits: Sequence[Hit]
    ) -> tuple[list[tuple[Hit, Sentence, np.ndarray | None]], list[str]]:
        """Claimable sentences of the top chunks, without repeats of the same document span
        (overlapping chunks), and the ids of chunks that cannot be cited."""
        out: list[tuple[Hit, Sentence, np.ndarray | None]] = []
        inconsistent: list[str] = []
        seen: set[tuple[str, int, int]] = set()
        for hit in hits[: self.context_chunks]:
            chunk = hit.chunk
            if not chunk_offsets_consistent(chunk):
                inconsistent.append(chunk.chunk_id)
                continue
            for sentence, vector in chunk_sentences(chunk):
                doc_span = (
                    chunk.doc_id,
                    chunk.char_start + sentence.start,
                    chunk.char_start + sentence.end,
                )
                if sentence.claimable and doc_span not in seen:
                    seen.add(doc_span)
                    out.append((hit, sentence, vector))
        return out, inconsistent

    def _prefilter(
        self,
        question: str,
        query_vector: np.ndarray | None,
        found: list[tuple[Hit, Sentence, np.ndarray | None]],
    ) -> list[_Scored]:
        question_words = content_words(question)
        contexts = [in_context(hit, sentence) for hit, sentence, _ in found]
        sentence_words = [content_words(s.claim_text()) for _, s, _ in found]
        context_words = [content_words(text) for text in contexts]
        weights = idf_weights(question_words, context_words)
        scored = []
        for i, (hit, sentence, vector) in enumerate(found):
            # The sentence alone says what it asserts; in context it says what it is about.
            lex = (
                weighted_overlap(question_words, sentence_words[i], weights)
                + weighted_overlap(question_words, context_words[i], weights)
            ) / 2
            has_vector = vector is not None and query_vector is not None
            sim = cosine(query_vector, vector) if has_vector else 0.0  # type: ignore[arg-type]
            w = self.similarity_weight if has_vector else 0.0
            relevance = w * sim + (1 - w) * lex
            scored.append(_Scored(hit, sentence, contexts[i], sim, lex, relevance, has_vector))
        scored.sort(key=lambda s: s.relevance, reverse=True)  # stable: ties keep document order
        return scored

    async def select(
        self,
        question: str,
        hits: Sequence[Hit],
        query_vector: np.ndarray | None,
        *,
        use_judge: bool = True,
        gate: bool = True,
    ) -> Selection:
        found, inconsistent = self.sentences(hits)
        chunks_used = min(len(hits), self.context_chunks) - len(inconsistent)
        ranked = self._prefilter(question, query_vector, found)
        if self.judge is None or not use_judge:
            return self._fallback(ranked, chunks_used, inconsistent, gate=gate)
        # The judge reads only sentences that clear the bi-encoder's relevance bar: it decides
        # among related sentences, it is not asked about unrelated text (where, trained on
        # related pairs, it is least reliable).
        relevant = [s for s in ranked if self._relevant(s)] if gate else ranked
        judged = relevant[: self.judge_limit]
        if judged:
            probabilities = await self.judge.probabilities(question, [s.context for s in judged])
            for item, p in zip(judged, probabilities, strict=True):
                item.decides = float(1.0 - p[NEI])
        judged.sort(key=lambda s: s.decides, reverse=True)
        best = judged[0].decides if judged else 0.0
        selection = Selection(
            [], len(found), chunks_used, best, self.judge.name, len(judged),
            inconsistent_chunks=inconsistent,
        )  # fmt: skip
        if not judged:
            selection.refusal = REFUSAL_NO_EVIDENCE
            return selection
        if gate and best < self.gate_threshold:
            selection.refusal = (
                f"{REFUSAL_NOT_ANSWERABLE} (best sentence {best:.2f} below the answerability "
                f"gate {self.gate_threshold:.2f})"
            )
            return selection
        floor = max(self.candidate_floor, best - self.judge_margin) if gate else 0.0
        kept = [s for s in judged if s.decides >= floor] or judged[:1]
        selection.candidates = self._candidates(kept, lambda s: s.decides)
        return selection

    def _relevant(self, s: _Scored) -> bool:
        return s.relevance >= self.relevance_threshold and (
            s.similarity >= self.min_similarity or not s.embedded
        )

    def _fallback(
        self, ranked: list[_Scored], chunks_used: int, inconsistent: list[str], *, gate: bool
    ) -> Selection:
        best = ranked[0].relevance if ranked else 0.0
        selection = Selection(
            [], len(ranked), chunks_used, best, self.FALLBACK, inconsistent_chunks=inconsistent
        )
        kept = [s for s in ranked if self._relevant(s)]
        if not kept and not gate:
            kept = ranked[:1]
        if not kept:
            selection.refusal = REFUSAL_NO_EVIDENCE
            return selection
        # Only sentences nearly as relevant as the best one: a weaker neighbour ("cost of
        # revenue" next to "revenue") clears the absolute bar but does not answer the question.
        floor = kept[0].relevance - self.relevance_margin
        kept = [s for s in kept if s.relevance >= floor]
        selection.candidates = self._candidates(kept, lambda s: s.relevance)
        return selection

    def _candidates(
        self, kept: list[_Scored], score: Callable[[_Scored], float]
    ) -> list[Candidate]:
        return [
            Candidate(f"S{i}", s.hit, s.sentence, s.similarity, s.overlap, score(s))
            for i, s in enumerate(kept[: self.max_candidates], start=1)
        ]
