"""RerankService over a real grpc.aio server, and the service process."""

from __future__ import annotations

import pytest

from veritas.v1 import rerank_pb2, rerank_pb2_grpc
from veritas_common.client import Peer, wait_healthy
from veritas_common.clients import EmbeddingClient
from veritas_common.errors import InvalidArgument, TooLarge
from veritas_common.server import start_server
from veritas_common.settings import VeritasSettings
from veritas_common.testing import ServiceProcess, free_port
from veritas_embedding.testing import embedding_server
from veritas_rerank import metrics
from veritas_rerank.reranker import CrossEncoderReranker, EmbeddingSimilarityReranker, Reranker
from veritas_rerank.servicer import registrar

CANDIDATES = [
    ("c-fox", "The quick brown fox jumps over the lazy dog."),
    ("c-dose", "The recommended adult dose of ibuprofen is 200 to 400 mg every four hours."),
    ("c-rev", "Revenue grew 12 percent in fiscal year 2023."),
]


async def serve(reranker: Reranker):
    settings = VeritasSettings(port=free_port(), metrics_port=-1)
    server, _health, _names, port = await start_server("rerank", settings, registrar(reranker))
    peer = Peer("rerank", f"127.0.0.1:{port}", rerank_pb2_grpc.RerankServiceStub, retries=0)
    return server, peer


def request(query, candidates=CANDIDATES):
    return rerank_pb2.RerankRequest(
        query=query, candidates=[rerank_pb2.RerankCandidate(id=i, text=t) for i, t in candidates]
    )


@pytest.fixture
async def fallback_peer(minilm):
    async with embedding_server(minilm) as addr:
        client = EmbeddingClient(addr)
        reranker = EmbeddingSimilarityReranker(client, peer_wait_s=10)
        await reranker.warm_up()
        server, peer = await serve(reranker)
        yield peer
        await peer.close()
        await server.stop(0)
        await client.close()


async def test_results_come_back_in_request_order_with_ids_and_model(fallback_peer):
    reply = await fallback_peer.call("Rerank", request("How much ibuprofen can an adult take?"))
    assert [r.id for r in reply.results] == ["c-fox", "c-dose", "c-rev"]
    best = max(reply.results, key=lambda r: r.score)
    assert best.id == "c-dose"
    assert reply.model == "fallback:bi-encoder-cosine(sentence-transformers/all-MiniLM-L6-v2)"


async def test_empty_candidates_and_bad_requests(fallback_peer):
    empty = await fallback_peer.call("Rerank", request("anything", candidates=[]))
    assert list(empty.results) == [] and empty.model
    with pytest.raises(InvalidArgument, match="query is empty"):
        await fallback_peer.call("Rerank", request(""))
    with pytest.raises(TooLarge, match="candidates"):
        await fallback_peer.call("Rerank", request("q", candidates=[("x", "t")] * 513))


async def test_cross_encoder_backend_behind_the_same_servicer(tiny_cross_encoder):
    reranker = CrossEncoderReranker(str(tiny_cross_encoder), max_length=64)
    await reranker.warm_up()
    server, peer = await serve(reranker)
    reply = await peer.call("Rerank", request("ibuprofen dose"))
    assert [r.id for r in reply.results] == ["c-fox", "c-dose", "c-rev"]
    assert reply.model == str(tiny_cross_encoder)
    await peer.close()
    await server.stop(0)


def test_metrics_are_declared_with_units_and_labels():
    assert metrics.RERANK_DURATION._labelnames == ("backend",)
    assert metrics.RERANK_DURATION._name.endswith("_seconds")
    assert metrics.RERANK_CANDIDATES._labelnames == ("backend",)


@pytest.mark.integration
@pytest.mark.slow
async def test_service_process_waits_for_embedding_then_serves(tmp_path, minilm):
    async with embedding_server(minilm) as addr:
        env = {
            "VERITAS_DATA_DIR": str(tmp_path),
            "VERITAS_EMBEDDING_ADDR": addr,
            "VERITAS_RERANK_BACKEND": "embedding_similarity",
        }
        proc = ServiceProcess("rerank", env, tmp_path)
        try:
            await wait_healthy("rerank", proc.addr, timeout_s=90)
            peer = Peer("rerank", proc.addr, rerank_pb2_grpc.RerankServiceStub)
            reply = await peer.call("Rerank", request("adult ibuprofen dose"))
            await peer.close()
            assert reply.model.startswith("fallback:bi-encoder-cosine(")
            assert max(reply.results, key=lambda r: r.score).id == "c-dose"
        finally:
            proc.stop()
