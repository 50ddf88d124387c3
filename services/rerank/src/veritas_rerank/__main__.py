"""Entry point: `veritas-rerank` / `python -m veritas_rerank`."""

from __future__ import annotations

from veritas_common.clients import EmbeddingClient
from veritas_common.judge import EvidenceJudge
from veritas_common.server import ServiceApp
from veritas_rerank.config import RerankSettings
from veritas_rerank.reranker import (
    CrossEncoderReranker,
    EmbeddingSimilarityReranker,
    JudgeReranker,
    Reranker,
)
from veritas_rerank.servicer import registrar


def build_reranker(settings: RerankSettings) -> tuple[Reranker, EmbeddingClient | None]:
    """The backend VERITAS_RERANK_BACKEND names (and, for the embedding-similarity fallback,
    the embedding client it owns)."""
    limits = {
        "max_candidates": settings.rerank_max_candidates,
        "max_chars": settings.rerank_max_chars,
    }
    if settings.rerank_backend == "evidence_judge":
        judge = EvidenceJudge(
            settings.rerank_model, max_length=min(settings.rerank_max_length, 512)
        )
        return JudgeReranker(judge, max_sentences=settings.rerank_judge_sentences, **limits), None
    if settings.rerank_backend == "cross_encoder":
        if not settings.rerank_model:
            raise ValueError("VERITAS_RERANK_BACKEND=cross_encoder needs VERITAS_RERANK_MODEL")
        reranker = CrossEncoderReranker(
            settings.rerank_model,
            device=settings.rerank_device,
            batch_size=settings.rerank_batch_size,
            max_length=settings.rerank_max_length,
            **limits,
        )
        return reranker, None
    client = EmbeddingClient(settings.embedding_addr, settings=settings)
    return EmbeddingSimilarityReranker(
        client, peer_wait_s=settings.rerank_peer_wait_s, **limits
    ), client


def build_app(settings: RerankSettings) -> ServiceApp:
    """The service as `main` runs it; building does no I/O (the model loads in warm-up)."""
    reranker, client = build_reranker(settings)

    async def on_stop() -> None:
        if client is not None:
            await client.close()

    return ServiceApp("rerank", settings, registrar(reranker), reranker.warm_up, on_stop)


def main() -> None:
    build_app(RerankSettings()).run()


if __name__ == "__main__":
    main()
