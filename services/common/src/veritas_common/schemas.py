"""The public JSON of the answer contract (ARCHITECTURE §2), built from the protos in one place.

The gateway serves these models (they are its OpenAPI response schemas), the MCP server and the
CLI return them as JSON, and the evaluation harness reads the gateway's JSON back into them, so
an answer looks the same whichever door a user came in by. `from_proto` is the only translation
from the agent's and ingestion's messages; field names and enum spellings here are the contract.
"""

from __future__ import annotations

import json
from typing import Any, Literal, cast

from pydantic import BaseModel, Field

from veritas.v1 import agent_pb2, common_pb2, ingestion_pb2, retrieval_pb2
from veritas_common.contract import AnswerStatus, IngestStatus, Support
from veritas_common.errors import VeritasError

SupportName = Literal["SUPPORTED", "UNSUPPORTED", "CONTRADICTED"]
IngestStatusName = Literal["ingested", "unchanged"]


def _score(value: float) -> float:
    return round(value, 6)


def _ms(value: float) -> float:
    return round(value, 3)


def _location(span: common_pb2.Evidence | common_pb2.Chunk) -> dict[str, Any]:
    """Where a cited span or a chunk sits: its chunk, document, headings, page, characters."""
    return {
        "chunk_id": span.chunk_id,
        "doc_id": span.doc_id,
        "source": span.source,
        "title": span.title,
        "section_path": list(span.section_path),
        "page": span.page,
        "char_start": span.char_start,
        "char_end": span.char_end,
    }


class Claim(BaseModel):
    text: str
    citations: list[str] = Field(description="Ids of the evidence the claim cites.")
    support: SupportName | None = Field(
        description="Verifier verdict; null when verification was skipped."
    )
    score: float

    @classmethod
    def from_proto(cls, claim: agent_pb2.Claim) -> Claim:
        support = Support.from_proto(claim.support)
        return cls(
            text=claim.text,
            citations=list(claim.citations),
            support=None if support is Support.UNSPECIFIED else cast(SupportName, support.value),
            score=_score(claim.score),
        )


class Evidence(BaseModel):
    id: str
    chunk_id: str
    doc_id: str
    source: str
    title: str
    section_path: list[str]
    page: int
    char_start: int = Field(description="Offset into the document's normalised text.")
    char_end: int
    quote: str = Field(description="Equals the document's text[char_start:char_end].")
    retrieval_score: float
    rerank_score: float

    @classmethod
    def from_proto(cls, ev: common_pb2.Evidence) -> Evidence:
        return cls(
            id=ev.id,
            **_location(ev),
            quote=ev.quote,
            retrieval_score=_score(ev.retrieval_score),
            rerank_score=_score(ev.rerank_score),
        )


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    retrieve_ms: float
    rerank_ms: float
    prefill_ms: float
    decode_ms: float
    verify_ms: float
    total_ms: float

    @classmethod
    def from_proto(cls, usage: agent_pb2.Usage) -> Usage:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            retrieve_ms=_ms(usage.retrieve_ms),
            rerank_ms=_ms(usage.rerank_ms),
            prefill_ms=_ms(usage.prefill_ms),
            decode_ms=_ms(usage.decode_ms),
            verify_ms=_ms(usage.verify_ms),
            total_ms=_ms(usage.total_ms),
        )


class TraceStep(BaseModel):
    name: str
    detail: str
    duration_ms: float


class Answer(BaseModel):
    """The answer contract: claims with citations down to the character span."""

    answer_id: str = Field(description="Also the audit id.")
    question: str
    status: AnswerStatus
    answer: str
    claims: list[Claim]
    evidence: list[Evidence]
    refusal_reason: str | None
    data: Any = Field(description="Structured output conforming to `data_schema`, or null.")
    usage: Usage
    trace: list[TraceStep]

    @classmethod
    def from_proto(cls, answer: agent_pb2.Answer) -> Answer:
        status = AnswerStatus.from_proto(answer.status)
        if status is None:
            raise VeritasError(f"agent sent an answer without a status ({answer.answer_id!r})")
        return cls(
            answer_id=answer.answer_id,
            question=answer.question,
            status=status,
            answer=answer.answer,
            claims=[Claim.from_proto(c) for c in answer.claims],
            evidence=[Evidence.from_proto(e) for e in answer.evidence],
            refusal_reason=answer.refusal_reason or None,
            data=json.loads(answer.data_json) if answer.data_json else None,
            usage=Usage.from_proto(answer.usage),
            trace=[
                TraceStep(name=s.name, detail=s.detail, duration_ms=_ms(s.duration_ms))
                for s in answer.trace
            ],
        )


class SearchResult(BaseModel):
    chunk_id: str
    doc_id: str
    source: str
    title: str
    section_path: list[str]
    page: int
    char_start: int
    char_end: int
    text: str
    score: float

    @classmethod
    def from_proto(cls, result: retrieval_pb2.ScoredChunk) -> SearchResult:
        return cls(**_location(result.chunk), text=result.chunk.text, score=_score(result.score))


class SearchResponse(BaseModel):
    results: list[SearchResult]


class VerifyResponse(BaseModel):
    support: SupportName
    score: float = Field(ge=0.0, le=1.0, description="Confidence the evidence supports it.")
    verifier: str = Field(description='Verifier backend, e.g. "similarity-polarity".')

    @classmethod
    def from_proto(cls, reply: agent_pb2.VerifyResponse) -> VerifyResponse:
        support = Support.from_proto(reply.support)
        if support is Support.UNSPECIFIED:
            raise VeritasError("agent sent no verdict")
        return cls(
            support=cast(SupportName, support.value),
            score=_score(reply.score),
            verifier=reply.verifier,
        )


class CalculateResponse(BaseModel):
    value: float = Field(description="Value of the expression (of a program's last step).")
    expression: str = Field(description="The expression as evaluated.")
    steps: list[float] = Field(description="Each step's value; one for a plain expression.")

    @classmethod
    def from_proto(cls, reply: agent_pb2.CalculateResponse) -> CalculateResponse:
        return cls(value=reply.value, expression=reply.expression, steps=list(reply.steps))


class IngestedDocument(BaseModel):
    doc_id: str
    source: str = Field(description="The uploaded file name.")
    status: IngestStatusName
    chunks: int

    @classmethod
    def from_proto(cls, reply: ingestion_pb2.IngestResponse) -> IngestedDocument:
        status = IngestStatus.from_proto(reply.status)
        if status is None:
            raise VeritasError(f"ingestion sent no status for {reply.source!r}")
        return cls(
            doc_id=reply.doc_id,
            source=reply.source,
            status=cast(IngestStatusName, status.value.lower()),
            chunks=reply.chunks,
        )


class UploadResponse(BaseModel):
    documents: list[IngestedDocument]


class DocumentSummary(BaseModel):
    doc_id: str
    source: str
    title: str
    collection: str
    mime_type: str
    chunks: int
    page_count: int
    ingested_at: str
    published_at: str | None

    @classmethod
    def from_proto(cls, doc: common_pb2.Document) -> DocumentSummary:
        return cls(**_document_fields(doc))


class Document(DocumentSummary):
    text: str = Field(description="Normalised text; every char_start/char_end indexes into it.")

    @classmethod
    def from_proto(cls, doc: common_pb2.Document) -> Document:
        return cls(**_document_fields(doc), text=doc.text)


def _document_fields(doc: common_pb2.Document) -> dict[str, Any]:
    return {
        "doc_id": doc.doc_id,
        "source": doc.source,
        "title": doc.title,
        "collection": doc.collection,
        "mime_type": doc.mime_type,
        "chunks": doc.chunk_count,
        "page_count": doc.page_count,
        "ingested_at": doc.ingested_at,
        "published_at": doc.published_at or None,
    }


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class DeletedDocument(BaseModel):
    doc_id: str
    deleted_chunks: int
