"""HTTP request schemas of the gateway: what clients send. Separate from the protos; the field
names here are the public contract (ARCHITECTURE §2). What the gateway answers is the shared
answer schema (`veritas_common.schemas`), the same JSON the MCP server and the CLI return."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from veritas_common.contract import (
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    MAX_VERIFY_EVIDENCE,
    AnswerMode,
    Modality,
    SearchMode,
)

# A question or search query: the agent's limit, so every front door refuses the same texts.
QuestionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS)
]
NonEmptyText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)
]
# A passage, table or quote a claim is checked against.
EvidenceText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50_000)
]


class RequestModel(BaseModel):
    # Misspelled fields are errors, not silently ignored options.
    model_config = ConfigDict(extra="forbid")


class Filters(RequestModel):
    """Restricts retrieval to chunks whose metadata match; empty lists match everything."""

    sources: list[str] = Field(default_factory=list, description="File names or URIs.")
    doc_ids: list[str] = Field(default_factory=list)
    modalities: list[Modality] = Field(default_factory=list)


class AskRequest(RequestModel):
    """A question to answer from the ingested documents."""

    question: QuestionText
    collection: str = Field(default="", description="Collection to search; all when empty.")
    filters: Filters | None = None
    data_schema: dict[str, Any] | None = Field(
        default=None,
        description="JSON Schema the answer's `data` must conform to (structured output).",
    )
    mode: AnswerMode | None = Field(default=None, description="Service default when unset.")
    rerank: bool | None = Field(
        default=None,
        description="Rerank the candidates; unset follows the server default "
        "(VERITAS_ASK_RERANK: off where no cross-encoder is configured).",
    )
    verify: bool = Field(default=True, description="Verify claims (ablation switch).")
    selector: bool = Field(
        default=True,
        description="Rank evidence with the evidence judge; false uses the bi-encoder fallback "
        "(ablation switch).",
    )
    gate: bool = Field(
        default=True,
        description="Refuse when no sentence clears the answerability gate (ablation switch).",
    )
    search_mode: SearchMode = SearchMode.HYBRID

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

    query: QuestionText
    top_k: int = Field(default=10, ge=1, le=MAX_TOP_K)
    collection: str = ""
    mode: SearchMode = SearchMode.HYBRID
    rerank: bool = False
    filters: Filters | None = None


class VerifyRequest(RequestModel):
    """A claim to check against evidence texts with the verifier `/v1/ask` uses."""

    claim: NonEmptyText
    evidence: list[EvidenceText] = Field(
        min_length=1, max_length=MAX_VERIFY_EVIDENCE, description="Texts the claim rests on."
    )


class CalculateRequest(RequestModel):
    """An arithmetic expression or a FinQA / ConvFinQA program."""

    expression: NonEmptyText = Field(
        description='"(3,233 - 2,977) / 2,977", "subtract(5829, 5735), divide(#0, 5735)" or '
        '"x0 = 60.94 - 25.14; ans = x0 / 25.14".',
        examples=["(3,233 - 2,977) / 2,977"],
    )


class ErrorBody(BaseModel):
    detail: str


class NotReadyBody(BaseModel):
    detail: str
    unavailable: list[str]


class ReadyBody(BaseModel):
    status: Literal["ready"]
    peers: dict[str, str]
