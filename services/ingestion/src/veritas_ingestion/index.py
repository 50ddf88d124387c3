"""Writing chunks to the search index: the `IndexWriter` interface and its retrieval-service
backend. The retrieval service embeds the chunks itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from veritas.v1 import common_pb2, retrieval_pb2
from veritas_common.clients import RetrievalClient
from veritas_common.sentences import Sentence, sentences_to_proto
from veritas_ingestion.document import Modality


@dataclass(frozen=True)
class Chunk:
    """A retrievable span of a document with its provenance (mirrors `veritas.v1.Chunk`)."""

    chunk_id: str
    doc_id: str
    ordinal: int
    tenant: str
    collection: str
    source: str
    title: str
    section_path: tuple[str, ...]
    page: int
    char_start: int
    char_end: int
    text: str
    published_at: str
    ingested_at: str
    modality: Modality
    confidence: float
    language: str
    # The chunk's sentences (offsets into `text`), split once here for every reader.
    sentences: tuple[Sentence, ...] = ()


class IndexWriter(Protocol):
    """Where chunks go to become searchable."""

    async def upsert(self, chunks: Sequence[Chunk]) -> int:
        """Adds chunks (replacing any with the same id); returns how many were written."""
        ...

    async def delete(self, doc_id: str, tenant: str) -> int:
        """Removes every chunk of a document; returns how many were removed."""
        ...


def chunk_to_proto(chunk: Chunk) -> common_pb2.Chunk:
    return common_pb2.Chunk(
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        ordinal=chunk.ordinal,
        tenant=chunk.tenant,
        collection=chunk.collection,
        source=chunk.source,
        title=chunk.title,
        section_path=list(chunk.section_path),
        page=chunk.page,
        char_start=chunk.char_start,
        char_end=chunk.char_end,
        text=chunk.text,
        published_at=chunk.published_at,
        ingested_at=chunk.ingested_at,
        modality=chunk.modality.to_proto(),
        confidence=chunk.confidence,
        language=chunk.language,
        sentences=sentences_to_proto(chunk.sentences),
    )


class RetrievalIndexWriter:
    """`RetrievalService.Upsert/Delete`, in batches so that one call stays well inside the
    message size and deadline (the retrieval service embeds each batch)."""

    def __init__(
        self,
        client: RetrievalClient,
        *,
        batch_size: int = 64,
        upsert_timeout_s: float | None = None,
    ) -> None:
        self.client = client
        self.batch_size = max(1, batch_size)
        self.upsert_timeout_s = upsert_timeout_s

    async def upsert(self, chunks: Sequence[Chunk]) -> int:
        written = 0
        for i in range(0, len(chunks), self.batch_size):
            batch = [chunk_to_proto(c) for c in chunks[i : i + self.batch_size]]
            reply = await self.client.upsert(
                retrieval_pb2.UpsertRequest(chunks=batch), timeout_s=self.upsert_timeout_s
            )
            written += reply.upserted
        return written

    async def delete(self, doc_id: str, tenant: str) -> int:
        reply = await self.client.delete(retrieval_pb2.DeleteRequest(doc_id=doc_id, tenant=tenant))
        return int(reply.deleted)
