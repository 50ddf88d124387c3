"""RerankService: proto <-> domain translation only."""

from __future__ import annotations

import grpc

from veritas.v1 import rerank_pb2, rerank_pb2_grpc
from veritas_rerank.reranker import Reranker


class RerankServicer(rerank_pb2_grpc.RerankServiceServicer):
    """Serves `Rerank`; results come back in request order, not sorted."""

    def __init__(self, reranker: Reranker) -> None:
        self.reranker = reranker

    async def Rerank(
        self, request: rerank_pb2.RerankRequest, context: grpc.aio.ServicerContext
    ) -> rerank_pb2.RerankResponse:
        candidates = list(request.candidates)
        scores = await self.reranker.rerank(request.query, [c.text for c in candidates])
        return rerank_pb2.RerankResponse(
            results=[
                rerank_pb2.RerankResult(id=c.id, score=s)
                for c, s in zip(candidates, scores, strict=True)
            ],
            model=self.reranker.model_id,
        )


def registrar(reranker: Reranker):
    """Returns the `register` callable `run_service`/`start_server` expect."""

    def register(server: grpc.aio.Server) -> list[str]:
        rerank_pb2_grpc.add_RerankServiceServicer_to_server(RerankServicer(reranker), server)
        return [rerank_pb2.DESCRIPTOR.services_by_name["RerankService"].full_name]

    return register
