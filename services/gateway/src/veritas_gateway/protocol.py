"""HTTP schemas of the gateway: what clients send and receive. Separate from the protos; the
field names here are the public contract (ARCHITECTURE §2)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

SearchModeName = Literal["hybrid", "bm25", "dense"]
ModalityName = Literal["text", "table", "ocr"]
AnswerModeName = Literal["extractive", "abstractive"]
NonEmptyText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)
]
# A passage, table or quote a claim is checked against.
EvidenceText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50_000)
]
SupportName = Literal["SUPPORTED", "UNSUPPORTED", "CONTRADICTED"]
MAX_VERIFY_EVIDENCE = 50


class RequestModel(BaseModel):
    # Misspelled fields are errors, not silently ignored options.
    model_config = ConfigDict(extra="forbid")


class Filters(RequestModel):
    """Restricts retrieval to chunks whose metadata match; empty lists match everything."""

    sources: list[str] = Field(default_factory=list, description="File names or URIs.")
    doc_ids: list[str] = Field(default_factory=list)
    modalities: list[ModalityName] = Field(default_factory=list)


class AskRequest(RequestModel):
    """A question to answer from the ingested documents."""

    question: NonEmptyText
    collection: str = Field(default="", description="Collection to search; all when empty.")
    filters: Filters | None = None
    data_schema: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema the answer's `data` must conform to (structured output).",
    )
    mode: AnswerModeName | None = Field(default=None, description="Service default when unset.")
    rerank: bool | None = Field(
        default=None,
        description="Rerank the candidates; unset follows the server default "
        "(VERITAS_ASK_RERANK: off where no cross-encoder is configured).",
    )
    verify: bool = Field(default=True, description="Verify claims (ablation switch).")
    search_mode: SearchModeName = "hybrid"

    @field_validator("data_schema")
    @classmethod
    def _valid_json_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None:
            return None
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as err:
            path = "/".join(str(p) for p in err.absolute_path) or "<root>"
            raise ValueError(f"invalid JSON Schema at {path}: {err.message}") from None
        return schema

    def data_schema_json(self) -> str:
        return json.dumps(self.data_schema) if self.data_schema is not None else ""


class SearchRequest(RequestModel):
    """A retrieval query through the agent's retrieve-and-rerank pipeline."""

    query: NonEmptyText
    top_k: int = Field(default=10, ge=1, le=100)
    collection: str = ""
    mode: SearchModeName = "hybrid"
    rerank: bool = False
    filters: Filters | None = None


class VerifyRequest(RequestModel):
    """A claim to check against evidence texts with the verifier `/v1/ask` uses."""

    claim: NonEmptyText
    evidence: list[EvidenceText] = Field(
        min_length=1, max_length=MAX_VERIFY_EVIDENCE, description="Texts the claim rests on."
    )


class VerifyResponse(BaseModel):
    support: SupportName
    score: float = Field(ge=0.0, le=1.0, description="Confidence the evidence supports it.")
    verifier: str = Field(description='Verifier backend, e.g. "similarity-polarity".')


class CalculateRequest(RequestModel):
    """An arithmetic expression or a FinQA / ConvFinQA program."""

    expression: NonEmptyText = Field(
        description='"(3,233 - 2,977) / 2,977", "subtract(5829, 5735), divide(#0, 5735)" or '
        '"x0 = 60.94 - 25.14; ans = x0 / 25.14".',
        examples=["(3,233 - 2,977) / 2,977"],
    )


class CalculateResponse(BaseModel):
    value: float = Field(description="Value of the expression (of a program's last step).")
    expression: str = Field(description="The expression as evaluated.")
    steps: list[float] = Field(description="Each step's value; one for a plain expression.")


class Claim(BaseModel):
    text: str
    citations: list[str] = Field(description="Ids of the evidence the claim cites.")
    support: SupportName | None = Field(
        description="Verifier verdict; null when verification was skipped."
    )
    score: float


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


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    retrieve_ms: float
    rerank_ms: float
    prefill_ms: float
    decode_ms: float
    verify_ms: float
    total_ms: float


class TraceStep(BaseModel):
    name: str
    detail: str
    duration_ms: float


class Answer(BaseModel):
    """The answer contract: claims with citations down to the character span."""

    answer_id: str = Field(description="Also the audit id.")
    question: str
    status: Literal["ANSWERED", "PARTIAL", "REFUSED"]
    answer: str
    claims: list[Claim]
    evidence: list[Evidence]
    refusal_reason: str | None
    data: Any = Field(description="Structured output conforming to `data_schema`, or null.")
    usage: Usage
    trace: list[TraceStep]


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


class SearchResponse(BaseModel):
    results: list[SearchResult]


class IngestedDocument(BaseModel):
    doc_id: str
    source: str = Field(description="The uploaded file name.")
    status: Literal["ingested", "unchanged"]
    chunks: int


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


class Document(DocumentSummary):
    text: str = Field(description="Normalised text; every char_start/char_end indexes into it.")


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class DeletedDocument(BaseModel):
    doc_id: str
    deleted_chunks: int


class ErrorBody(BaseModel):
    detail: str


class NotReadyBody(BaseModel):
    detail: str
    unavailable: list[str]


class ReadyBody(BaseModel):
    status: Literal["ready"]
    peers: dict[str, str]
