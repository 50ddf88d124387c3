"""Entry point: `veritas-embedding` / `python -m veritas_embedding`."""

from __future__ import annotations

import asyncio

from veritas_common.server import ServiceApp
from veritas_embedding.batcher import DynamicBatcher
from veritas_embedding.config import EmbeddingSettings
from veritas_embedding.embedder import SentenceTransformerEmbedder
from veritas_embedding.servicer import registrar


def build_app(settings: EmbeddingSettings) -> ServiceApp:
    """The service as `main` runs it; building does no I/O (the model loads in warm-up)."""
    embedder = SentenceTransformerEmbedder(
        settings.embedding_model,
        device=settings.embedding_device,
        batch_size=settings.embedding_max_batch_size,
        max_padding_tokens=settings.embedding_max_padding_tokens,
    )
    batcher = DynamicBatcher(
        embedder,
        max_batch_size=settings.embedding_max_batch_size,
        max_wait_ms=settings.embedding_max_wait_ms,
    )

    async def warm_up() -> None:
        await asyncio.to_thread(embedder.warm_up)
        batcher.start()

    register = registrar(
        batcher, max_texts=settings.embedding_max_texts, max_chars=settings.embedding_max_chars
    )
    return ServiceApp("embedding", settings, register, warm_up, on_stop=batcher.stop)


def main() -> None:
    build_app(EmbeddingSettings()).run()


if __name__ == "__main__":
    main()
