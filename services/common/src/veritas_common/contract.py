"""The shared vocabulary of the contract: one name and one definition per concept.

Each enum here is its proto enum (protos/veritas/v1) by member name, minus the proto's prefix:
`SearchMode.BM25` is `SEARCH_MODE_BM25`. Domain code and the HTTP/MCP front doors use these;
`to_proto`/`from_proto` are the only translations (a test holds the names equal to the proto's).
The request limits every front door enforces live here too, so HTTP, MCP and gRPC agree.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar, cast

from veritas.v1 import agent_pb2, embedding_pb2, ingestion_pb2, retrieval_pb2

E = TypeVar("E", bound=StrEnum)

# Limits of a request, the same at every front door (HTTP, MCP, gRPC).
MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 100
MAX_VERIFY_EVIDENCE = 50
MAX_CLAIM_CHARS = 2000


def _to_proto(member: StrEnum, proto_enum: Any, prefix: str) -> int:
    return int(proto_enum.Value(prefix + member.name))


def _from_proto(cls: type[E], proto_enum: Any, prefix: str, value: int) -> E | None:
    """The member for a proto value; None for UNSPECIFIED or a value this build does not know."""
    try:
        name = proto_enum.Name(value).removeprefix(prefix)
    except ValueError:
        return None
    return cls.__members__.get(name)


class SearchMode(StrEnum):
    """How retrieval ranks chunks; unset means the server's default (hybrid)."""

    HYBRID = "hybrid"
    BM25 = "bm25"
    DENSE = "dense"

    def to_proto(self) -> retrieval_pb2.SearchMode:
        return cast(
            retrieval_pb2.SearchMode, _to_proto(self, retrieval_pb2.SearchMode, "SEARCH_MODE_")
        )

    @classmethod
    def from_proto(cls, value: int) -> SearchMode | None:
        return _from_proto(cls, retrieval_pb2.SearchMode, "SEARCH_MODE_", value)


class AnswerStatus(StrEnum):
    ANSWERED = "ANSWERED"
    PARTIAL = "PARTIAL"
    REFUSED = "REFUSED"

    def to_proto(self) -> agent_pb2.AnswerStatus:
        return cast(
            agent_pb2.AnswerStatus, _to_proto(self, agent_pb2.AnswerStatus, "ANSWER_STATUS_")
        )

    @classmethod
    def from_proto(cls, value: int) -> AnswerStatus | None:
        return _from_proto(cls, agent_pb2.AnswerStatus, "ANSWER_STATUS_", value)


class Support(StrEnum):
    """Whether a claim's cited evidence supports it; UNSPECIFIED: not checked."""

    UNSPECIFIED = "UNSPECIFIED"
    SUPPORTED = "SUPPORTED"
    UNSUPPORTED = "UNSUPPORTED"
    CONTRADICTED = "CONTRADICTED"

    def to_proto(self) -> agent_pb2.Support:
        return cast(agent_pb2.Support, _to_proto(self, agent_pb2.Support, "SUPPORT_"))

    @classmethod
    def from_proto(cls, value: int) -> Support:
        return _from_proto(cls, agent_pb2.Support, "SUPPORT_", value) or cls.UNSPECIFIED


class AnswerMode(StrEnum):
    """Extractive: claims are evidence spans; abstractive: the model writes cited claims."""

    EXTRACTIVE = "extractive"
    ABSTRACTIVE = "abstractive"

    def to_proto(self) -> agent_pb2.AnswerMode:
        return cast(agent_pb2.AnswerMode, _to_proto(self, agent_pb2.AnswerMode, "ANSWER_MODE_"))

    @classmethod
    def from_proto(cls, value: int) -> AnswerMode | None:
        return _from_proto(cls, agent_pb2.AnswerMode, "ANSWER_MODE_", value)


class IngestStatus(StrEnum):
    INGESTED = "INGESTED"
    UNCHANGED = "UNCHANGED"

    def to_proto(self) -> ingestion_pb2.IngestStatus:
        return cast(
            ingestion_pb2.IngestStatus,
            _to_proto(self, ingestion_pb2.IngestStatus, "INGEST_STATUS_"),
        )

    @classmethod
    def from_proto(cls, value: int) -> IngestStatus | None:
        return _from_proto(cls, ingestion_pb2.IngestStatus, "INGEST_STATUS_", value)


class EmbedKind(StrEnum):
    """Whether texts are search queries or passages; asymmetric models embed them differently."""

    QUERY = "query"
    PASSAGE = "passage"

    def to_proto(self) -> embedding_pb2.EmbedKind:
        return cast(
            embedding_pb2.EmbedKind, _to_proto(self, embedding_pb2.EmbedKind, "EMBED_KIND_")
        )

    @classmethod
    def from_proto(cls, value: int) -> EmbedKind | None:
        return _from_proto(cls, embedding_pb2.EmbedKind, "EMBED_KIND_", value)


# Each enum above with its proto enum and prefix (the contract test walks this).
PROTO_ENUMS: dict[type[StrEnum], tuple[Any, str]] = {
    SearchMode: (retrieval_pb2.SearchMode, "SEARCH_MODE_"),
    AnswerStatus: (agent_pb2.AnswerStatus, "ANSWER_STATUS_"),
    Support: (agent_pb2.Support, "SUPPORT_"),
    AnswerMode: (agent_pb2.AnswerMode, "ANSWER_MODE_"),
    IngestStatus: (ingestion_pb2.IngestStatus, "INGEST_STATUS_"),
    EmbedKind: (embedding_pb2.EmbedKind, "EMBED_KIND_"),
}
