"""One typed client per service: every caller of a service goes through its client here.

Each method takes and returns the service's proto messages, so mypy checks every call across a
service boundary (a misspelt request field or a wrong message type is a type error). Transport
concerns (a channel opened lazily in the running event loop, deadlines, retries on UNAVAILABLE,
the request id, errors that name the peer) live once, in `veritas_common.client.Peer`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from veritas.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    generation_pb2,
    generation_pb2_grpc,
    ingestion_pb2,
    ingestion_pb2_grpc,
    rerank_pb2,
    rerank_pb2_grpc,
    retrieval_pb2,
    retrieval_pb2_grpc,
    vision_pb2,
    vision_pb2_grpc,
)
from veritas_common.client import Peer, wait_healthy
from veritas_common.contract import AnswerMode, EmbedKind, Modality, SearchMode
from veritas_common.errors import VeritasError
from veritas_common.settings import VeritasSettings


class ServiceClient:
    """A client of one service at `addr`; subclasses name the service and add typed methods.

    Safe to build before an event loop runs: the channel opens on the first call."""

    service: ClassVar[str]
    stub: ClassVar[type]

    def __init__(
        self, addr: str, settings: VeritasSettings | None = None, *, timeout_s: float | None = None
    ) -> None:
        settings = settings or VeritasSettings()
        self.addr = addr
        self.peer: Peer[Any] = Peer(
            self.service,
            addr,
            self.stub,
            timeout_s=timeout_s or settings.peer_timeout_s,
            retries=settings.peer_retries,
            max_message_bytes=settings.max_message_bytes,
        )

    async def wait_ready(self, timeout_s: float) -> None:
        """Waits until the service reports SERVING; raises `PeerUnavailable` on timeout."""
        await wait_healthy(self.service, self.addr, timeout_s)

    async def close(self) -> None:
        await self.peer.close()


def document_filter(
    sources: Sequence[str] = (), doc_ids: Sequence[str] = (), modalities: Sequence[Modality] = ()
) -> common_pb2.Filter:
    """Restricts retrieval to chunks whose metadata match; empty sequences match everything."""
    return common_pb2.Filter(
        sources=sources, doc_ids=doc_ids, modalities=[m.to_proto() for m in modalities]
    )


def ask_request(
    question: str,
    *,
    tenant: str,
    caller: str,
    collection: str = "",
    filter: common_pb2.Filter | None = None,
    data_schema: str = "",
    mode: AnswerMode | None = None,
    rerank: bool | None = None,
    verify: bool = True,
    search_mode: SearchMode | None = None,
    selector: bool = True,
    gate: bool = True,
) -> agent_pb2.AskRequest:
    """The agent's Ask request, as every front door (HTTP, MCP, CLI) builds it. None leaves an
    option to the agent's default."""
    return agent_pb2.AskRequest(
        question=question,
        tenant=tenant,
        collection=collection,
        filter=filter,
        data_schema=data_schema,
        mode=mode.to_proto() if mode else agent_pb2.ANSWER_MODE_UNSPECIFIED,
        rerank=rerank,
        disable_verify=not verify,
        disable_selector=not selector,
        disable_gate=not gate,
        search_mode=search_mode.to_proto()
        if search_mode
        else retrieval_pb2.SEARCH_MODE_UNSPECIFIED,
        caller=caller,
    )


def search_request(
    query: str,
    *,
    top_k: int,
    tenant: str,
    collection: str = "",
    mode: SearchMode | None = None,
    rerank: bool = False,
    filter: common_pb2.Filter | None = None,
) -> agent_pb2.AgentServiceSearchRequest:
    """The agent's Search request (retrieve, optionally rerank), as every front door builds it."""
    return agent_pb2.AgentServiceSearchRequest(
        query=query,
        top_k=top_k,
        tenant=tenant,
        collection=collection,
        mode=mode.to_proto() if mode else retrieval_pb2.SEARCH_MODE_UNSPECIFIED,
        rerank=rerank,
        filter=filter,
    )


class AgentClient(ServiceClient):
    service = "agent"
    stub = agent_pb2_grpc.AgentServiceStub

    async def ask(
        self, request: agent_pb2.AskRequest, *, timeout_s: float | None = None
    ) -> agent_pb2.AskResponse:
        return await self.peer.call("Ask", request, timeout_s=timeout_s)

    def ask_stream(
        self, request: agent_pb2.AskStreamRequest, *, timeout_s: float | None = None
    ) -> AsyncIterator[agent_pb2.AskStreamResponse]:
        return self.peer.stream("AskStream", request, timeout_s=timeout_s)

    async def search(
        self, request: agent_pb2.AgentServiceSearchRequest
    ) -> agent_pb2.AgentServiceSearchResponse:
        return await self.peer.call("Search", request)

    async def verify(self, request: agent_pb2.VerifyRequest) -> agent_pb2.VerifyResponse:
        return await self.peer.call("Verify", request)

    async def calculate(self, request: agent_pb2.CalculateRequest) -> agent_pb2.CalculateResponse:
        return await self.peer.call("Calculate", request)


class IngestionClient(ServiceClient):
    service = "ingestion"
    stub = ingestion_pb2_grpc.IngestionServiceStub

    def ingest(
        self,
        requests: AsyncIterator[ingestion_pb2.IngestRequest],
        *,
        timeout_s: float | None = None,
    ) -> AsyncIterator[ingestion_pb2.IngestResponse]:
        """One response per document, as each is stored and indexed."""
        return self.peer.stream("Ingest", requests, timeout_s=timeout_s)

    async def get_document(
        self, request: ingestion_pb2.GetDocumentRequest
    ) -> ingestion_pb2.GetDocumentResponse:
        return await self.peer.call("GetDocument", request)

    async def list_documents(
        self, request: ingestion_pb2.ListDocumentsRequest
    ) -> ingestion_pb2.ListDocumentsResponse:
        return await self.peer.call("ListDocuments", request)

    async def delete_document(
        self, request: ingestion_pb2.DeleteDocumentRequest
    ) -> ingestion_pb2.DeleteDocumentResponse:
        return await self.peer.call("DeleteDocument", request)


class RetrievalClient(ServiceClient):
    service = "retrieval"
    stub = retrieval_pb2_grpc.RetrievalServiceStub

    async def upsert(
        self, request: retrieval_pb2.UpsertRequest, *, timeout_s: float | None = None
    ) -> retrieval_pb2.UpsertResponse:
        return await self.peer.call("Upsert", request, timeout_s=timeout_s)

    async def delete(self, request: retrieval_pb2.DeleteRequest) -> retrieval_pb2.DeleteResponse:
        return await self.peer.call("Delete", request)

    async def search(self, request: retrieval_pb2.SearchRequest) -> retrieval_pb2.SearchResponse:
        return await self.peer.call("Search", request)


class RerankClient(ServiceClient):
    service = "rerank"
    stub = rerank_pb2_grpc.RerankServiceStub

    async def rerank(self, request: rerank_pb2.RerankRequest) -> rerank_pb2.RerankResponse:
        return await self.peer.call("Rerank", request)


class GenerationClient(ServiceClient):
    service = "generation"
    stub = generation_pb2_grpc.GenerationServiceStub

    async def generate(
        self, request: generation_pb2.GenerateRequest
    ) -> generation_pb2.GenerateResponse:
        return await self.peer.call("Generate", request)

    def generate_stream(
        self, request: generation_pb2.GenerateStreamRequest
    ) -> AsyncGenerator[generation_pb2.GenerateStreamResponse, None]:
        return self.peer.stream("GenerateStream", request)

    async def get_stats(
        self, request: generation_pb2.GetStatsRequest
    ) -> generation_pb2.GetStatsResponse:
        return await self.peer.call("GetStats", request)


class VisionClient(ServiceClient):
    service = "vision"
    stub = vision_pb2_grpc.VisionServiceStub

    async def analyze(self, request: vision_pb2.AnalyzeRequest) -> vision_pb2.AnalyzeResponse:
        return await self.peer.call("Analyze", request)


@dataclass(frozen=True)
class Embeddings:
    """Vectors (one unit-norm row per text) and the model that produced them."""

    vectors: np.ndarray
    model: str
    dim: int


class TextEmbedder(Protocol):
    """What a service that scores or indexes with vectors needs: `EmbeddingClient` is one."""

    async def embed(self, texts: Sequence[str], kind: EmbedKind) -> Embeddings: ...


class EmbeddingClient(ServiceClient):
    """Embeds texts through the embedding service, `batch_size` texts per request."""

    service = "embedding"
    stub = embedding_pb2_grpc.EmbeddingServiceStub

    def __init__(
        self,
        addr: str,
        settings: VeritasSettings | None = None,
        *,
        timeout_s: float | None = None,
        batch_size: int = 64,
    ) -> None:
        super().__init__(addr, settings, timeout_s=timeout_s)
        self.batch_size = batch_size

    async def embed_batch(self, request: embedding_pb2.EmbedRequest) -> embedding_pb2.EmbedResponse:
        return await self.peer.call("Embed", request)

    async def embed(self, texts: Sequence[str], kind: EmbedKind) -> Embeddings:
        """Vectors for `texts` in order; raises the service's errors as `VeritasError`s."""
        starts = range(0, len(texts), self.batch_size) if texts else [0]
        parts: list[np.ndarray] = []
        model, dim = "", 0
        for start in starts:
            request = embedding_pb2.EmbedRequest(
                texts=list(texts[start : start + self.batch_size]), kind=kind.to_proto()
            )
            reply = await self.embed_batch(request)
            if model and (reply.model, reply.dim) != (model, dim):
                raise VeritasError("embedding service changed model in the middle of a request")
            model, dim = reply.model, reply.dim
            if len(reply.vectors) != len(request.texts):
                raise VeritasError(
                    f"embedding service returned {len(reply.vectors)} vectors "
                    f"for {len(request.texts)} texts"
                )
            parts.append(
                np.array([v.values for v in reply.vectors], dtype=np.float32).reshape(-1, dim)
            )
        return Embeddings(np.concatenate(parts), model, dim)
