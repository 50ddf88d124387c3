"""Retrieve-then-rerank: the first stage of every answer and the public Search RPC."""

from __future__ import annotations

import time
from dataclasses import dataclass

from veritas.v1 import common_pb2
from veritas_agent.models import Hit, Retrieved
from veritas_agent.peers import Reranker, Retriever
from veritas_common.contract import SearchMode


@dataclass
class SearchOutcome:
    """Hits best first, cut to top_k, and what it took to get them."""

    hits: list[Hit]
    retrieved: int
    reranked: bool
    rerank_model: str
    retrieve_ms: float
    rerank_ms: float


class SearchPipeline:
    """Fetches `candidates` chunks from retrieval, optionally reorders them by the reranker's
    scores, and cuts to `top_k`."""

    def __init__(self, retriever: Retriever, reranker: Reranker) -> None:
        self.retriever = retriever
        self.reranker = reranker

    async def retrieve(
        self,
        query: str,
        *,
        top_k: int,
        tenant: str = "",
        collection: str = "",
        mode: SearchMode | None = None,
        filter: common_pb2.Filter | None = None,
    ) -> Retrieved:
        """Hits best first by retrieval score, one per chunk id."""
        retrieved = await self.retriever.search(
            query, top_k=top_k, tenant=tenant, collection=collection, mode=mode, filter=filter
        )
        retrieved.hits = _unique(retrieved.hits)
        return retrieved

    async def rerank(self, query: str, hits: list[Hit]) -> str:
        """Scores `hits` with the reranker and sorts them by that score, in place; returns the
        reranker's model name."""
        if not hits:
            return ""
        ranked = await self.reranker.rerank(query, [(h.chunk.chunk_id, h.chunk.text) for h in hits])
        for hit, score in zip(hits, ranked.scores, strict=True):
            hit.rerank_score = score
        hits.sort(key=lambda h: h.score, reverse=True)  # stable: ties keep retrieval order
        return ranked.model

    async def run(
        self,
        query: str,
        *,
        top_k: int,
        candidates: int,
        rerank: bool,
        tenant: str = "",
        collection: str = "",
        mode: SearchMode | None = None,
        filter: common_pb2.Filter | None = None,
    ) -> SearchOutcome:
        start = time.perf_counter()
        found = await self.retrieve(
            query,
            top_k=max(top_k, candidates) if rerank else top_k,
            tenant=tenant,
            collection=collection,
            mode=mode,
            filter=filter,
        )
        hits = found.hits
        retrieve_ms = (time.perf_counter() - start) * 1000
        retrieved = len(hits)
        rerank_ms, model = 0.0, ""
        if rerank and hits:
            start = time.perf_counter()
            model = await self.rerank(query, hits)
            rerank_ms = (time.perf_counter() - start) * 1000
        return SearchOutcome(
            hits=hits[:top_k],
            retrieved=retrieved,
            reranked=rerank and bool(hits),
            rerank_model=model,
            retrieve_ms=retrieve_ms,
            rerank_ms=rerank_ms,
        )


def _unique(hits: list[Hit]) -> list[Hit]:
    """Drops repeated chunk ids (keeping the best-ranked), so ids identify hits downstream."""
    seen: set[str] = set()
    out = []
    for hit in hits:
        if hit.chunk.chunk_id not in seen:
            seen.add(hit.chunk.chunk_id)
            out.append(hit)
    return out
