"""The shared vocabulary of the contract: one name and one definition per concept.

Each enum here is its proto enum (protos/veritas/v1) by member name, minus the proto's prefix:
`SearchMode.BM25` is `SEARCH_MODE_BM25`. Domain code and the HTTP/MCP front doors use these;
`to_proto`/`from_proto` are the only translations (a test holds the names equal to the proto's).
The request limits every front door enforces live here too, so HTTP, MCP and gRPC agree.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Self, cast

from veritas.v1 import agent_pb2, common_pb2, embedding_pb2, ingestion_pb2, retrieval_pb2
from veritas_common.errors import InvalidArgument

# Limits of a request, the same at every front door (HTTP, MCP, gRPC).
MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 100
MAX_VERIFY_EVIDENCE = 50


class ProtoEnum(StrEnum):
    """A proto enum by member name (its prefix dropped); PROTO_ENUMS pairs each with its proto.
    Subclasses add `to_proto` typed with their proto enum."""

    def _proto_value(self) -> int:
        proto_enum, prefix = PROTO_ENUMS[type(self)]
        return int(proto_enum.Value(prefix + self.name))

    @classmethod
    def from_proto(cls, value: int) -> Self | None:
        """The member for a proto value; None for UNSPECIFIED or a value this build lacks."""
        proto_enum, prefix = PROTO_ENUMS[cls]
        try:
            name = proto_enum.Name(value).removeprefix(prefix)
        except ValueError:
            return None
        return cls.__members__.get(name)

    @classmethod
    def from_request(cls, value: int) -> Self | None:
        """A request's option: None when unset; a value this build does not know is an
        InvalidArgument (a newer caller's option must not be silently ignored)."""
        member = cls.from_proto(value)
        if member is None and value != 0:  # 0 is every proto enum's UNSPECIFIED
            words = re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()
            raise InvalidArgument(f"unknown {words} {value}")
        return member


class SearchMode(ProtoEnum):
    """How retrieval ranks chunks; unset means the server's default (hybrid)."""

    HYBRID = "hybrid"
    BM25 = "bm25"
    DENSE = "dense"

    def to_proto(self) -> retrieval_pb2.SearchMode:
        return cast(retrieval_pb2.SearchMode, self._proto_value())


class AnswerStatus(ProtoEnum):
    ANSWERED = "ANSWERED"
    PARTIAL = "PARTIAL"
    REFUSED = "REFUSED"

    def to_proto(self) -> agent_pb2.AnswerStatus:
        return cast(agent_pb2.AnswerStatus, self._proto_value())


class Support(ProtoEnum):
    """Whether a claim's cited evidence supports it; UNSPECIFIED: not checked."""

    UNSPECIFIED = "UNSPECIFIED"
    SUPPORTED = "SUPPORTED"
    UNSUPPORTED = "UNSUPPORTED"
    CONTRADICTED = "CONTRADICTED"

    def to_proto(self) -> agent_pb2.Support:
        return cast(agent_pb2.Support, self._proto_value())

    @classmethod
    def from_proto(cls, value: int) -> Support:
        """UNSPECIFIED (not checked) for an unset or unknown value."""
        return super().from_proto(value) or cls.UNSPECIFIED


class AnswerMode(ProtoEnum):
    """Extractive: claims are evidence spans; abstractive: the model writes cited claims."""

    EXTRACTIVE = "extractive"
    ABSTRACTIVE = "abstractive"

    def to_proto(self) -> agent_pb2.AnswerMode:
        return cast(agent_pb2.AnswerMode, self._proto_value())


class IngestStatus(ProtoEnum):
    INGESTED = "INGESTED"
    UNCHANGED = "UNCHANGED"

    def to_proto(self) -> ingestion_pb2.IngestStatus:
        return cast(ingestion_pb2.IngestStatus, self._proto_value())


class EmbedKind(ProtoEnum):
    """Whether texts are search queries or passages; asymmetric models embed them differently."""

    QUERY = "query"
    PASSAGE = "passage"

    def to_proto(self) -> embedding_pb2.EmbedKind:
        return cast(embedding_pb2.EmbedKind, self._proto_value())


class Modality(ProtoEnum):
    """What a chunk was read from; unset is treated as text."""

    TEXT = "text"
    TABLE = "table"
    OCR = "ocr"

    def to_proto(self) -> common_pb2.Modality:
        return cast(common_pb2.Modality, self._proto_value())


class SentenceKind(ProtoEnum):
    """What a sentence of a chunk is; unset is treated as prose."""

    PROSE = "prose"
    LIST_ITEM = "list_item"
    TABLE_ROW = "table_row"
    TABLE_HEADER = "table_header"
    HEADING = "heading"

    def to_proto(self) -> common_pb2.SentenceKind:
        return cast(common_pb2.SentenceKind, self._proto_value())


# Each enum above with its proto enum and prefix (the contract test walks this).
PROTO_ENUMS: dict[type[ProtoEnum], tuple[Any, str]] = {
    SearchMode: (retrieval_pb2.SearchMode, "SEARCH_MODE_"),
    AnswerStatus: (agent_pb2.AnswerStatus, "ANSWER_STATUS_"),
    Support: (agent_pb2.Support, "SUPPORT_"),
    AnswerMode: (agent_pb2.AnswerMode, "ANSWER_MODE_"),
    IngestStatus: (ingestion_pb2.IngestStatus, "INGEST_STATUS_"),
    EmbedKind: (embedding_pb2.EmbedKind, "EMBED_KIND_"),
    Modality: (common_pb2.Modality, "MODALITY_"),
    SentenceKind: (common_pb2.SentenceKind, "SENTENCE_KIND_"),
}
