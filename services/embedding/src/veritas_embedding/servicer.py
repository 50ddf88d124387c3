"""EmbeddingService: proto <-> domain translation only."""

from __future__ import annotations

import grpc

from veritas.v1 import embedding_pb2, embedding_pb2_grpc
from veritas_common.contract import EmbedKind
from veritas_embedding.batcher import DynamicBatcher
from veritas_embedding.embedder import validate_texts


class EmbeddingServicer(embedding_pb2_grpc.EmbeddingServiceServicer):
    """Serves `Embed` through the dynamic batcher."""

    def __init__(self, batcher: DynamicBatcher, *, max_texts: int, max_chars: int) -> None:
        self.batcher = batcher
        self.max_texts = max_texts
        self.max_chars = max_chars

    async def Embed(
        self, request: embedding_pb2.EmbedRequest, context: grpc.aio.ServicerContext
    ) -> embedding_pb2.EmbedResponse:
        texts = list(request.texts)
        validate_texts(texts, max_texts=self.max_texts, max_chars=self.max_chars)
        kind = EmbedKind.from_proto(request.kind) or EmbedKind.PASSAGE  # unset: a passage
        vectors = await self.batcher.embed(texts, kind)
        embedder = self.batcher.embedder
        return embedding_pb2.EmbedResponse(
            vectors=[embedding_pb2.Vector(values=row.tolist()) for row in vectors],
            model=embedder.model_id,
            dim=embedder.dim,
        )


def registrar(batcher: DynamicBatcher, *, max_texts: int, max_chars: int):
    """Returns the `register` callable `run_service`/`start_server` expect."""

    def register(server: grpc.aio.Server) -> list[str]:
        servicer = EmbeddingServicer(batcher, max_texts=max_texts, max_chars=max_chars)
        embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(servicer, server)
        return [embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"].full_name]

    return register
