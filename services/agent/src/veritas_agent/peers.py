"""The agent's peers: small interfaces the pipeline depends on, and their gRPC clients.

Every client goes through `veritas_common.client.Peer`, so a peer that cannot be reached
raises `PeerUnavailable` naming it; nothing here swallows a peer failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, cast

from veritas.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    generation_pb2,
    generation_pb2_grpc,
    rerank_pb2,
    rerank_pb2_grpc,
    retrieval_pb2,
    retrieval_pb2_grpc,
)
from veritas_agent.config import AgentSettings
from veritas_agent.models import Hit, SearchMode
from veritas_common.client import Peer
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
        mode: SearchMode = SearchMode.UNSPECIFIED,
        filter: common_pb2.Filter | None = None,
    ) -> list[Hit]: ...


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


class Embedder(Protocol):
    async def embed(
        self, texts: Sequence[str], kind: Literal["query", "passage"]
    ) -> list[list[float]]: ...


class RetrievalClient:
    """`Retriever` over RetrievalService.Search."""

    def __init__(self, peer: Peer[retrieval_pb2_grpc.RetrievalServiceStub]) -> None:
        self.peer = peer

    async def search(
        self,
        query: str,
        *,
        top_k: int,
        tenant: str = "",
        collection: str = "",
        mode: SearchMode = SearchMode.UNSPECIFIED,
        filter: common_pb2.Filter | None = None,
    ) -> list[Hit]:
        request = retrieval_pb2.SearchRequest(
            query=query,
            top_k=top_k,
            tenant=tenant,
            collection=collection,
            mode=cast(retrieval_pb2.SearchMode, int(mode)),  # the same numbering
        )
        if filter is not None:
            request.filter.CopyFrom(filter)
        reply = await self.peer.call("Search", request)
        return [
            Hit(
                chunk=result.chunk,
                retrieval_score=result.score,
                bm25_score=result.bm25_score,
                dense_score=result.dense_score,
            )
            for result in reply.results
        ]


class RerankClient:
    """`Reranker` over RerankService.Rerank."""

    def __init__(self, peer: Peer[rerank_pb2_grpc.RerankServiceStub]) -> None:
        self.peer = peer

    async def rerank(self, query: str, candidates: Sequence[tuple[str, str]]) -> Ranked:
        request = rerank_pb2.RerankRequest(
            query=query,
            candidates=[rerank_pb2.RerankCandidate(id=cid, text=text) for cid, text in candidates],
        )
        reply = await self.peer.call("Rerank", request)
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


class GenerationClient:
    """`Generator` over GenerationService.Generate (greedy, so rankings are reproducible)."""

    def __init__(
        self, peer: Peer[generation_pb2_grpc.GenerationServiceStub], adapter_id: str = ""
    ) -> None:
        self.peer = peer
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
        reply = await self.peer.call("Generate", generation_pb2.GenerateRequest(params=params))
        return Generation(
            text=reply.text,
            finish_reason=reply.finish_reason,
            model=reply.model,
            prompt_tokens=reply.usage.prompt_tokens,
            completion_tokens=reply.usage.completion_tokens,
            prefill_ms=reply.usage.prefill_ms,
            decode_ms=reply.usage.decode_ms,
        )


class EmbeddingClient:
    """`Embedder` over EmbeddingService.Embed."""

    def __init__(self, peer: Peer[embedding_pb2_grpc.EmbeddingServiceStub]) -> None:
        self.peer = peer

    async def embed(
        self, texts: Sequence[str], kind: Literal["query", "passage"]
    ) -> list[list[float]]:
        proto_kind = (
            embedding_pb2.EMBED_KIND_QUERY if kind == "query" else embedding_pb2.EMBED_KIND_PASSAGE
        )
        reply = await self.peer.call(
            "Embed", embedding_pb2.EmbedRequest(texts=list(texts), kind=proto_kind)
        )
        if len(reply.vectors) != len(texts):
            raise VeritasError(f"embedding returned {len(reply.vectors)} vectors for {len(texts)}")
        return [list(v.values) for v in reply.vectors]


@dataclass
class Peers:
    """The four clients the agent uses, built from settings."""

    retrieval: RetrievalClient
    rerank: RerankClient
    generation: GenerationClient
    embedding: EmbeddingClient

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> Peers:
        def peer(name: str, addr: str, stub: type, timeout_s: float | None = None) -> Peer:
            return Peer(
                name,
                addr,
                stub,
                timeout_s=timeout_s or settings.peer_timeout_s,
                retries=settings.peer_retries,
                max_message_bytes=settings.max_message_bytes,
            )

        return cls(
            retrieval=RetrievalClient(
                peer("retrieval", settings.retrieval_addr, retrieval_pb2_grpc.RetrievalServiceStub)
            ),
            rerank=RerankClient(
                peer("rerank", settings.rerank_addr, rerank_pb2_grpc.RerankServiceStub)
            ),
            generation=GenerationClient(
                peer(
                    "generation",
                    settings.generation_addr,
                    generation_pb2_grpc.GenerationServiceStub,
                    settings.generation_timeout_s,
                ),
                settings.generation_adapter_id,
            ),
            embedding=EmbeddingClient(
                peer("embedding", settings.embedding_addr, embedding_pb2_grpc.EmbeddingServiceStub)
            ),
        )

    async def close(self) -> None:
        for client in (self.retrieval, self.rerank, self.generation, self.embedding):
            await client.peer.close()
