"""The retriever: validates requests, embeds chunks and queries through the embedding service
(so one service owns vector consistency) and runs the index off the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import numpy as np

from veritas_common.clients import TextEmbedder
from veritas_common.contract import EmbedKind, SearchMode
from veritas_common.errors import FailedPrecondition, InvalidArgument, TooLarge
from veritas_common.judge import judge_text
from veritas_common.sentences import sentences_from_proto
from veritas_retrieval import metrics
from veritas_retrieval.chunk_index import ChunkIndex
from veritas_retrieval.models import (
    DEFAULT_TENANT,
    MODALITY_TEXT,
    ChunkRecord,
    ScoredChunk,
    SearchScope,
    SentenceRecord,
)


class Retriever:
    """Upsert, Delete and Search over a `ChunkIndex`, with the service's limits."""

    def __init__(
        self,
        index: ChunkIndex,
        embedder: TextEmbedder,
        *,
        default_top_k: int = 10,
        max_top_k: int = 200,
        max_query_chars: int = 4_000,
        max_upsert_chunks: int = 4_096,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.default_top_k = default_top_k
        self.max_top_k = max_top_k
        self.max_query_chars = max_query_chars
        self.max_upsert_chunks = max_upsert_chunks

    async def warm_up(self) -> None:
        await asyncio.to_thread(self.index.open)
        metrics.INDEX_CHUNKS.set(await asyncio.to_thread(self.index.count))

    async def upsert(self, chunks: Sequence[ChunkRecord]) -> int:
        """Embeds and writes `chunks` in one commit: either all are written or none."""
        if len(chunks) > self.max_upsert_chunks:
            raise TooLarge(
                f"{len(chunks)} chunks in one upsert; the limit is {self.max_upsert_chunks}"
            )
        for i, chunk in enumerate(chunks):
            if not chunk.chunk_id or not chunk.doc_id:
                raise InvalidArgument(f"chunks[{i}] needs a chunk_id and a doc_id")
            if not chunk.text.strip():
                raise InvalidArgument(f"chunks[{i}] ({chunk.chunk_id}) has no text")
            chunk.tenant = chunk.tenant or DEFAULT_TENANT
            chunk.modality = chunk.modality or MODALITY_TEXT
        if not chunks:
            return 0
        # Chunks and their claimable sentences (read in context) go in one embedding call.
        owners: list[SentenceRecord] = []
        texts = [c.text for c in chunks]
        for i, chunk in enumerate(chunks):
            split = sentences_from_proto(chunk.text, chunk.sentences)
            if split is None:
                raise InvalidArgument(
                    f"chunks[{i}] ({chunk.chunk_id}) has sentence spans outside its text"
                )
            for record, sentence in zip(chunk.sentences, split, strict=True):
                record.vector = []
                if sentence.claimable:
                    owners.append(record)
                    texts.append(judge_text(sentence.claim_text(), chunk.title, chunk.section_path))
        embeddings = await self.embedder.embed(texts, EmbedKind.PASSAGE)
        vectors = embeddings.vectors
        for record, vector in zip(owners, vectors[len(chunks) :], strict=True):
            record.vector = vector.astype(np.float32).tolist()
        written = await asyncio.to_thread(
            self.index.upsert, chunks, vectors[: len(chunks)], embeddings.model
        )
        metrics.UPSERTED_CHUNKS.inc(written)
        metrics.INDEX_CHUNKS.set(await asyncio.to_thread(self.index.count))
        return written

    async def delete(self, tenant: str, doc_id: str) -> int:
        if not doc_id:
            raise InvalidArgument("doc_id is required")
        deleted = await asyncio.to_thread(self.index.delete, tenant or DEFAULT_TENANT, doc_id)
        metrics.DELETED_CHUNKS.inc(deleted)
        metrics.INDEX_CHUNKS.set(await asyncio.to_thread(self.index.count))
        return deleted

    async def search(
        self, query: str, *, top_k: int, scope: SearchScope, mode: SearchMode
    ) -> tuple[list[ScoredChunk], list[float]]:
        """Best chunks first, and the query's vector (empty when nothing is indexed); no
        results (not an error) when the index or the scope is empty."""
        if not query.strip():
            raise InvalidArgument("query is empty")
        if len(query) > self.max_query_chars:
            raise TooLarge(
                f"query has {len(query)} characters; the limit is {self.max_query_chars}"
            )
        if top_k < 0:
            raise InvalidArgument(f"top_k must not be negative, got {top_k}")
        if top_k > self.max_top_k:
            raise TooLarge(f"top_k {top_k} exceeds the limit of {self.max_top_k}")
        start = time.perf_counter()
        results: list[ScoredChunk] = []
        vector: list[float] = []
        if self.index.embedding_model is not None:  # nothing indexed yet: skip the embed call
            embeddings = await self.embedder.embed([query], EmbedKind.QUERY)
            if embeddings.model != self.index.embedding_model:
                raise FailedPrecondition(
                    f"index was built with {self.index.embedding_model} but the embedding "
                    f"service serves {embeddings.model}; re-index or restore that model"
                )
            query_vector: np.ndarray = embeddings.vectors[0]
            vector = query_vector.astype(np.float32).tolist()
            results = await asyncio.to_thread(
                self.index.search, query, query_vector, scope, mode, top_k or self.default_top_k
            )
        metrics.SEARCH_DURATION.labels(mode.value).observe(time.perf_counter() - start)
        metrics.SEARCH_RESULTS.labels(mode.value).observe(len(results))
        return results, vector
