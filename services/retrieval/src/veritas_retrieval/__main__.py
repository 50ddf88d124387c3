"""Entry point: `veritas-retrieval` / `python -m veritas_retrieval`."""

from __future__ import annotations

from veritas_common.clients import EmbeddingClient
from veritas_common.server import ServiceApp
from veritas_retrieval.config import RetrievalSettings
from veritas_retrieval.lance_index import LanceChunkIndex
from veritas_retrieval.retriever import Retriever
from veritas_retrieval.servicer import registrar


def build_app(settings: RetrievalSettings) -> ServiceApp:
    """The service as `main` runs it; building does no I/O (the model loads in warm-up)."""
    index = LanceChunkIndex(
        settings.data_dir / "retrieval",
        alpha=settings.retrieval_hybrid_alpha,
        candidate_pool=settings.retrieval_candidate_pool,
        optimize_every=settings.retrieval_optimize_every,
    )
    embeddings = EmbeddingClient(
        settings.embedding_addr, settings=settings, batch_size=settings.retrieval_embed_batch_size
    )
    retriever = Retriever(
        index,
        embeddings,
        default_top_k=settings.retrieval_default_top_k,
        max_top_k=settings.retrieval_max_top_k,
        max_query_chars=settings.retrieval_max_query_chars,
        max_upsert_chunks=settings.retrieval_max_upsert_chunks,
    )

    async def on_stop() -> None:
        await embeddings.close()
        index.close()

    return ServiceApp("retrieval", settings, registrar(retriever), retriever.warm_up, on_stop)


def main() -> None:
    build_app(RetrievalSettings()).run()


if __name__ == "__main__":
    main()
