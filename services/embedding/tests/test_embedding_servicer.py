"""EmbeddingService over a real grpc.aio server, the peer client, metrics and the process."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from prometheus_client import REGISTRY

from veritas.v1 import embedding_pb2
from veritas_common.clients import EmbeddingClient
from veritas_common.contract import EmbedKind
from veritas_common.errors import InvalidArgument, TooLarge
from veritas_common.settings import VeritasSettings
from veritas_common.testing import ServiceProcess, free_port
from veritas_embedding import metrics
from veritas_embedding.embedder import BUNDLED_MODEL_ID
from veritas_embedding.testing import embedding_server


@pytest.fixture
async def peer(minilm):
    async with embedding_server(minilm) as addr:
        peer = EmbeddingClient(addr, VeritasSettings(peer_retries=0))
        yield peer
        await peer.close()


async def test_embed_returns_unit_vectors_with_model_and_dim(peer):
    reply = await peer.embed_batch(
        embedding_pb2.EmbedRequest(
            texts=["revenue grew", "dose of aspirin"], kind=embedding_pb2.EMBED_KIND_QUERY
        ),
    )
    assert (reply.model, reply.dim) == (BUNDLED_MODEL_ID, 384)
    vectors = np.array([v.values for v in reply.vectors])
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_empty_request_gets_an_empty_response(peer):
    reply = await peer.embed_batch(embedding_pb2.EmbedRequest())
    assert list(reply.vectors) == []
    assert reply.dim == 384


async def test_limits_map_to_status_codes(peer):
    with pytest.raises(TooLarge, match="limit is 512"):
        await peer.embed_batch(embedding_pb2.EmbedRequest(texts=["x"] * 513))
    with pytest.raises(TooLarge, match="characters"):
        await peer.embed_batch(embedding_pb2.EmbedRequest(texts=["x" * 20_001]))
    with pytest.raises(InvalidArgument, match="is empty"):
        await peer.embed_batch(embedding_pb2.EmbedRequest(texts=["ok", ""]))


async def test_concurrent_rpcs_are_batched_together(minilm):
    async with embedding_server(minilm, max_wait_ms=100) as addr:
        client = EmbeddingClient(addr)
        before = REGISTRY.get_sample_value("veritas_embedding_batch_size_texts_count") or 0.0
        replies = await asyncio.gather(
            *(client.embed([f"text {i}"], EmbedKind.PASSAGE) for i in range(6))
        )
        after = REGISTRY.get_sample_value("veritas_embedding_batch_size_texts_count") or 0.0
        await client.close()
    assert all(r.vectors.shape == (1, 384) for r in replies)
    assert after - before < 6  # six RPCs, fewer forward passes


async def test_client_splits_large_requests_and_keeps_order(peer, minilm):
    client = EmbeddingClient(peer.addr, batch_size=3)
    texts = [f"passage {i} mentions item {i * 7}" for i in range(7)]
    result = await client.embed(texts, EmbedKind.PASSAGE)
    assert (result.model, result.dim) == (BUNDLED_MODEL_ID, 384)
    np.testing.assert_allclose(result.vectors, minilm.embed(texts, EmbedKind.PASSAGE), atol=1e-5)
    empty = await client.embed([], EmbedKind.QUERY)
    assert empty.vectors.shape == (0, 384)
    await client.close()


def test_client_can_be_built_before_the_event_loop_runs(minilm):
    """Services build their clients in main(), before asyncio.run starts the loop; a client
    used from a second loop opens a channel there (grpc.aio channels belong to one loop)."""
    port = free_port()
    client = EmbeddingClient(f"127.0.0.1:{port}")

    async def use() -> tuple[int, ...]:
        async with embedding_server(minilm, port=port):
            result = await client.embed(["hello"], EmbedKind.QUERY)
            return result.vectors.shape

    assert asyncio.run(use()) == (1, 384)
    assert asyncio.run(use()) == (1, 384)


def test_metrics_are_declared_with_units_and_labels():
    assert metrics.TEXTS._labelnames == ("kind",)
    assert metrics.BATCH_SIZE._name.endswith("_texts")
    assert metrics.INFERENCE_DURATION._name.endswith("_seconds")
    assert metrics.QUEUE_WAIT._name.endswith("_seconds")


@pytest.mark.integration
@pytest.mark.slow
def test_service_process_serves_embed(tmp_path):
    proc = ServiceProcess("embedding", {"VERITAS_DATA_DIR": str(tmp_path)}, tmp_path)
    try:
        proc.wait_serving(timeout_s=120)

        async def call() -> embedding_pb2.EmbedResponse:
            peer = EmbeddingClient(proc.addr)
            try:
                return await peer.embed_batch(embedding_pb2.EmbedRequest(texts=["hello"]))
            finally:
                await peer.close()

        reply = asyncio.run(call())
        assert reply.dim == 384 and len(reply.vectors[0].values) == 384
    finally:
        proc.stop()
