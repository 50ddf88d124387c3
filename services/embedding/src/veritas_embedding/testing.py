"""Test helpers other services use to run a real embedding service in-process."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from veritas_common.server import start_server
from veritas_common.settings import VeritasSettings
from veritas_common.testing import free_port
from veritas_embedding.batcher import DynamicBatcher
from veritas_embedding.embedder import Embedder, SentenceTransformerEmbedder


@functools.cache
def bundled_embedder() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once per process (tests share it)."""
    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    return embedder


@asynccontextmanager
async def embedding_server(
    embedder: Embedder, *, max_batch_size: int = 64, max_wait_ms: float = 2.0, port: int = 0
) -> AsyncIterator[str]:
    """A real EmbeddingService on `port` (default: a free loopback port), SERVING; yields its
    address."""
    from grpc_health.v1 import health_pb2

    from veritas_embedding.servicer import registrar

    batcher = DynamicBatcher(embedder, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms)
    settings = VeritasSettings(port=port or free_port(), metrics_port=-1)
    register = registrar(batcher, max_texts=512, max_chars=20_000)
    server, health, names, port = await start_server("embedding", settings, register)
    batcher.start()
    for name in ["", *names]:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)
        await batcher.stop()
