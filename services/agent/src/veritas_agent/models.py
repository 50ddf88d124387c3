"""Domain types of the agent: the question, retrieved hits and the answer contract.

Chunks and filters travel as their proto messages (they are the shared data contract); the
answer is built from these dataclasses and translated to protos by the servicer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from veritas.v1 import common_pb2
from veritas_common.contract import AnswerMode, AnswerStatus, SearchMode, Support

# Refusal reasons, part of the public contract (clients match on them).
REFUSAL_NO_EVIDENCE = "no evidence above threshold"
REFUSAL_NOT_ANSWERABLE = "no sentence of the evidence answers the question"
REFUSAL_NO_SUPPORTED_CLAIM = "no claim supported by its cited evidence"
REFUSAL_CONTRADICTED = "evidence contradicts"


@dataclass
class Question:
    """A question and the options it was asked with."""

    text: str
    tenant: str = ""
    collection: str = ""
    filter: common_pb2.Filter | None = None
    data_schema: str = ""
    mode: AnswerMode | None = None  # None: the service default
    rerank: bool | None = None  # None: the service default
    disable_verify: bool = False
    disable_selector: bool = False  # rank evidence by the bi-encoder fallback (ablation)
    disable_gate: bool = False  # answer even below the answerability gate (ablation)
    search_mode: SearchMode | None = None  # None: the retrieval default
    caller: str = ""


@dataclass
class Hit:
    """A retrieved chunk with its scores."""

    chunk: common_pb2.Chunk
    retrieval_score: float
    bm25_score: float = 0.0
    dense_score: float = 0.0
    rerank_score: float | None = None  # None when not reranked

    @property
    def score(self) -> float:
        """The final ranking score: the reranker's when there is one."""
        return self.rerank_score if self.rerank_score is not None else self.retrieval_score


@dataclass
class Retrieved:
    """Hits best first, and the query's vector retrieval searched with (None when nothing
    was indexed), comparable with the hits' stored sentence vectors."""

    hits: list[Hit]
    query_vector: np.ndarray | None = None


@dataclass
class Evidence:
    """A cited span; `quote == document_text[char_start:char_end]`."""

    id: str
    chunk_id: str
    doc_id: str
    source: str
    title: str
    section_path: tuple[str, ...]
    page: int
    char_start: int
    char_end: int
    quote: str
    retrieval_score: float
    rerank_score: float


@dataclass
class Claim:
    text: str
    citations: list[str]
    support: Support = Support.UNSPECIFIED
    score: float = 0.0


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retrieve_ms: float = 0.0
    rerank_ms: float = 0.0
    prefill_ms: float = 0.0
    decode_ms: float = 0.0
    verify_ms: float = 0.0
    total_ms: float = 0.0


@dataclass
class TraceStep:
    name: str
    detail: str
    duration_ms: float


@dataclass
class Answer:
    answer_id: str
    question: str
    status: AnswerStatus
    answer: str = ""
    claims: list[Claim] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    refusal_reason: str = ""
    data_json: str = ""
    usage: Usage = field(default_factory=Usage)
    trace: list[TraceStep] = field(default_factory=list)
