"""Evidence selection: which sentences of the retrieved chunks bear on the question.

Each sentence of the top chunks is scored by
    relevance = w * cosine(question, sentence in context) + (1 - w) * content-word overlap
and is a candidate only when relevance >= `relevance_threshold` and the cosine reaches
`min_similarity`. A sentence is read in its context: its document title and section headings.
"Quarterly revenue was $88.4 million" answers a question about Northwind only because it sits
in Northwind's report, and "contraindicated in ..." answers "who should not take it" partly
through its "Contraindications" heading. Overlap is the IDF-weighted share of the question's
content words (numbers included) found in the sentence or its context; IDF is taken over the
sentences being scored, so words every sentence of a document shares through its title weigh
little when choosing among that document's sentences. All sentences go in one embedding call.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from veritas.v1 import common_pb2
from veritas_agent.lexical import content_words
from veritas_agent.models import Hit
from veritas_agent.sentences import Sentence, split_sentences
from veritas_common.clients import TextEmbedder
from veritas_common.contract import EmbedKind


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
    """A sentence above the relevance bar, with the id the model ranks it by ("S1" is best)."""

    id: str
    hit: Hit
    sentence: Sentence
    similarity: float
    overlap: float
    score: float

    @property
    def text(self) -> str:
        """What the sentence says, as a claim would state it."""
        return self.sentence.claim_text()

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
    # Chunks left out because their offsets do not match their text (they cannot be cited).
    inconsistent_chunks: list[str] = field(default_factory=list)


def chunk_offsets_consistent(chunk: common_pb2.Chunk) -> bool:
    """Whether `chunk.text` can be the document slice [char_start:char_end]."""
    return chunk.char_start >= 0 and chunk.char_end - chunk.char_start == len(chunk.text)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norm if norm else 0.0


def in_context(hit: Hit, sentence: Sentence) -> str:
    """The sentence prefixed with the headings it sits under (title first, without repeats)."""
    headings = [hit.chunk.title, *hit.chunk.section_path]
    context = [h for i, h in enumerate(headings) if h and h not in headings[:i]]
    claim = sentence.claim_text()
    return f"{' > '.join(context)}: {claim}" if context else claim


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


class EvidenceSelector:
    """Splits the top chunks into sentences and keeps those relevant to the question."""

    def __init__(
        self,
        embedder: TextEmbedder,
        *,
        context_chunks: int = 5,
        similarity_weight: float = 0.6,
        relevance_threshold: float = 0.40,
        min_similarity: float = 0.30,
        relevance_margin: float = 0.12,
        max_candidates: int = 8,
    ) -> None:
        self.embedder = embedder
        self.context_chunks = context_chunks
        self.similarity_weight = similarity_weight
        self.relevance_threshold = relevance_threshold
        self.min_similarity = min_similarity
        self.relevance_margin = relevance_margin
        self.max_candidates = max_candidates

    def sentences(self, hits: Sequence[Hit]) -> tuple[list[tuple[Hit, Sentence]], list[str]]:
        """Claimable sentences of the top chunks, without repeats of the same document span
        (overlapping chunks), and the ids of chunks that cannot be cited."""
        out: list[tuple[Hit, Sentence]] = []
        inconsistent: list[str] = []
        seen: set[tuple[str, int, int]] = set()
        for hit in hits[: self.context_chunks]:
            chunk = hit.chunk
            if not chunk_offsets_consistent(chunk):
                inconsistent.append(chunk.chunk_id)
                continue
            table = chunk.modality == common_pb2.MODALITY_TABLE
            for sentence in split_sentences(chunk.text, table=table):
                doc_span = (
                    chunk.doc_id,
                    chunk.char_start + sentence.start,
                    chunk.char_start + sentence.end,
                )
                if sentence.claimable and doc_span not in seen:
                    seen.add(doc_span)
                    out.append((hit, sentence))
        return out, inconsistent

    async def select(self, question: str, hits: Sequence[Hit]) -> Selection:
        pairs, inconsistent = self.sentences(hits)
        chunks_used = min(len(hits), self.context_chunks) - len(inconsistent)
        if not pairs:
            return Selection([], 0, chunks_used, 0.0, inconsistent)
        texts = [sentence.claim_text() for _, sentence in pairs]
        contexts = [in_context(hit, sentence) for hit, sentence in pairs]
        # Queries and passages are embedded with their own kind (asymmetric models prefix
        # them differently); the passages go in one batch.
        query, passages = await asyncio.gather(
            self.embedder.embed([question], EmbedKind.QUERY),
            self.embedder.embed(texts + contexts, EmbedKind.PASSAGE),
        )
        query_vec, vectors = query.vectors[0], passages.vectors
        question_words = content_words(question)
        sentence_words = [content_words(text) for text in texts]
        context_words = [content_words(text) for text in contexts]
        weights = idf_weights(question_words, context_words)
        scored = []
        for i, (hit, sentence) in enumerate(pairs):
            # The sentence alone says what it asserts; in context it says what it is about.
            # Each view is half of the evidence.
            sim = (cosine(query_vec, vectors[i]) + cosine(query_vec, vectors[len(pairs) + i])) / 2
            lex = (
                weighted_overlap(question_words, sentence_words[i], weights)
                + weighted_overlap(question_words, context_words[i], weights)
            ) / 2
            score = self.similarity_weight * sim + (1 - self.similarity_weight) * lex
            scored.append((score, sim, lex, hit, sentence))
        best = max(s[0] for s in scored)
        kept = [
            s for s in scored if s[0] >= self.relevance_threshold and s[1] >= self.min_similarity
        ]
        # Only sentences nearly as relevant as the best one: a weaker neighbour ("cost of
        # revenue" next to "revenue") clears the absolute bar but does not answer the question.
        if kept:
            floor = max(s[0] for s in kept) - self.relevance_margin
            kept = [s for s in kept if s[0] >= floor]
        kept.sort(key=lambda s: s[0], reverse=True)  # stable: ties keep document order
        candidates = [
            Candidate(f"S{i}", hit, sentence, sim, lex, score)
            for i, (score, sim, lex, hit, sentence) in enumerate(
                kept[: self.max_candidates], start=1
            )
        ]
        return Selection(candidates, len(pairs), chunks_used, best, inconsistent)
