"""Domain types of retrieval: a stored chunk, the scope a search may see and a scored result.

Plain data shared by the servicer, the retriever and every `ChunkIndex` backend, so none of them
depends on another to name a chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from veritas_common.contract import Modality

DEFAULT_TENANT = "default"
# UNSPECIFIED (0) is stored as TEXT, as the proto says it is treated.
MODALITY_TEXT = int(Modality.TEXT.to_proto())


@dataclass
class SentenceRecord:
    """A sentence of a chunk as stored: offsets into the chunk text, kind and header link as
    ingestion sent them (`veritas.v1.ChunkSentence`), and the vector the retriever computed."""

    start: int
    end: int
    kind: int = 0
    header: int = 0
    vector: list[float] = field(default_factory=list)


@dataclass
class ChunkRecord:
    """A chunk as stored; mirrors `veritas.v1.Chunk` field for field."""

    chunk_id: str
    doc_id: str
    text: str
    ordinal: int = 0
    tenant: str = DEFAULT_TENANT
    collection: str = ""
    source: str = ""
    title: str = ""
    section_path: list[str] = field(default_factory=list)
    page: int = 0
    char_start: int = 0
    char_end: int = 0
    published_at: str = ""
    ingested_at: str = ""
    modality: int = MODALITY_TEXT
    confidence: float = 0.0
    language: str = ""
    sentences: list[SentenceRecord] = field(default_factory=list)


# The scalar fields, copied one for one between the proto, the record and the index row.
CHUNK_FIELDS = tuple(f.name for f in fields(ChunkRecord) if f.name != "sentences")


@dataclass(frozen=True)
class SearchScope:
    """Which chunks a search may see: one tenant, optionally one collection, and filters
    (empty tuples match everything)."""

    tenant: str = DEFAULT_TENANT
    collection: str = ""
    sources: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    modalities: tuple[int, ...] = ()


@dataclass
class ScoredChunk:
    """A search result: `score` ranks (fused, BM25 or cosine by mode); `bm25_score` is 0 for
    chunks that were not among the lexical matches; `dense_score` is the exact cosine."""

    chunk: ChunkRecord
    score: float
    bm25_score: float
    dense_score: float
