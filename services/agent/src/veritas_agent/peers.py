"""The agent's peers: small interfaces the pipeline depends on, and their implementations over
the typed clients of `veritas_common.clients` (the embedding client serves as is).

A peer that cannot be reached raises `PeerUnavailable` naming it; nothing here swallows a peer
failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from veritas.v1 import common_pb2, generation_pb2, rerank_pb2, retrieval_pb2
from veritas_agent.config import AgentSettings
from veritas_agent.models import Hit, Retrieved
from veritas_common.clients import (
    EmbeddingClient,
    GenerationClient,
    RerankClient,
    RetrievalClient,
)
from veritas_common.contract import SearchMode
from veritas_common.errors import VeritasError


@dataclass
class Generation:
    """One completion with its token counts and timings."""

    text: str
    finish_reason: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prefill_ms: float = 0.0
    decode_ms: float = 0.0


@dataclass
class Ranked:
    """Reranker scores in the order of the candidates sent, and the model that gave them."""

    scores: list[float]
    model: str


class Retriever(Protocol):
    async def search(
        self,
        query: str,
        *,
        top_k: int,
        tenant: str = "",
        collection: str = "",
        mode: SearchMode | None = None,
        filter: common_pb2.Filter | None = None,
    ) -> Retrieved: ...


class Reranker(Protocol):
    async def rerank(self, query: str, candidates: Sequence[tuple[str, str]]) -> Ranked: ...


class Generator(Protocol):
    async def generate(
        self,
        messages: Sequence[tuple[str, str]],
        *,
        json_schema: str = "",
        max_new_tokens: int = 256,
    ) -> Generation: ...


class RemoteRetriever:
    """`Retriever` over RetrievalService.Search."""

    def __init__(self, client: RetrievalClient) -> None:
        self.client = client

    async def search(
        self,
        query: str,
        *,
        top_k: int,
        tenant: str = "",
        collection: str = "",
        mode: SearchMode | None = None,
        filter: common_pb2.Filter | None = None,
    ) -> Retrieved:
        request = retrieval_pb2.SearchRequest(
            query=query,
            top_k=top_k,
            tenant=tenant,
            collection=collection,
            mode=mode.to_proto() if mode else retrieval_pb2.SEARCH_MODE_UNSPECIFIED,
            filter=filter,
        )
        reply = await self.client.search(request)
        hits = [
            Hit(
                chunk=result.chunk,
                retrieval_score=result.score,
                bm25_score=result.bm25_score,
                dense_score=result.dense_score,
            )
            for result in reply.results
        ]
        vector = np.asarray(reply.query_vector, dtype=np.float32) if reply.query_vector else None
        return Retrieved(hits, vector)


class RemoteReranker:
    """`Reranker` over RerankService.Rerank."""

    def __init__(self, client: RerankClient) -> None:
        self.client = client

    async def rerank(self, query: str, candidates: Sequence[tuple[str, str]]) -> Ranked:
        request = rerank_pb2.RerankRequest(
            query=query,
            candidates=[rerank_pb2.RerankCandidate(id=cid, text=text) for cid, text in candidates],
        )
        reply = await self.client.rerank(request)
        sent = [cid for cid, _ in candidates]
        by_id = {r.id: r.score for r in reply.results}
        if len(reply.results) != len(sent) or set(by_id) != set(sent):
            # One result per candidate is the contract; anything else would attach scores to
            # the wrong chunks. (Ids are unique: the search stage de-duplicates chunks.)
            raise VeritasError(
                f"rerank returned {len(reply.results)} results not matching the "
                f"{len(sent)} candidates sent"
            )
        return Ranked(scores=[by_id[cid] for cid in sent], model=reply.model)


class RemoteGenerator:
    """`Generator` over GenerationService.Generate (greedy, so rankings are reproducible)."""

    def __init__(self, client: GenerationClient, adapter_id: str = "") -> None:
        self.client = client
        self.adapter_id = adapter_id

    async def generate(
        self,
        messages: Sequence[tuple[str, str]],
        *,
        json_schema: str = "",
        max_new_tokens: int = 256,
    ) -> Generation:
        params = generation_pb2.GenerationParams(
            messages=[generation_pb2.ChatMessage(role=r, content=c) for r, c in messages],
            max_new_tokens=max_new_tokens,
            temperature=0.0,
            json_schema=json_schema,
            adapter_id=self.adapter_id,
        )
        reply = await self.client.generate(generation_pb2.GenerateRequest(params=params))
        return Generation(
            text=reply.text,
            finish_reason=reply.finish_reason,
            model=reply.model,
            prompt_tokens=reply.usage.prompt_tokens,
            completion_tokens=reply.usage.completion_tokens,
            prefill_ms=reply.usage.prefill_ms,
            decode_ms=reply.usage.decode_ms,
        )


@dataclass
class Peers:
    """The four peers the agent uses, built from settings (channels open on first use)."""

    retrieval: RemoteRetriever
    rerank: RemoteReranker
    generation: RemoteGenerator
    embedding: EmbeddingClient

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> Peers:
        return cls(
            retrieval=RemoteRetriever(RetrievalClient(settings.retrieval_addr, settings)),
            rerank=RemoteReranker(RerankClient(settings.rerank_addr, settings)),
            generation=RemoteGenerator(
                GenerationClient(
                    settings.generation_addr, settings, timeout_s=settings.generation_timeout_s
                ),
                settings.generation_adapter_id,
            ),
            embedding=EmbeddingClient(settings.embedding_addr, settings),
        )

    async def close(self) -> None:
        await self.retrieval.client.close()
        await self.rerank.client.close()
        await self.generation.client.close()
        await self.embedding.close()
