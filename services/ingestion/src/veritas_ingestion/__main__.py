"""Entry point: `veritas-ingestion` / `python -m veritas_ingestion`."""

from __future__ import annotations

import asyncio

from veritas_common.clients import RetrievalClient, VisionClient
from veritas_common.server import ServiceApp
from veritas_ingestion.chunker import StructureChunker
from veritas_ingestion.config import IngestionSettings
from veritas_ingestion.images import VisionImageReader
from veritas_ingestion.index import RetrievalIndexWriter
from veritas_ingestion.ingestor import DocumentIngestor
from veritas_ingestion.servicer import registrar
from veritas_ingestion.store import DocumentStore


def build_app(settings: IngestionSettings) -> ServiceApp:
    """The production wiring: SQLite store under the data dir, retrieval and vision peers."""
    retrieval = RetrievalClient(settings.retrieval_addr, settings)
    vision = VisionClient(settings.vision_addr, settings)
    ingestor = DocumentIngestor(
        store=DocumentStore(settings.data_dir / "ingestion" / "documents.sqlite3"),
        index=RetrievalIndexWriter(
            retrieval,
            batch_size=settings.index_batch_size,
            upsert_timeout_s=settings.index_timeout_s,
        ),
        images=VisionImageReader(vision),
        chunker=StructureChunker(settings.chunk_max_words, settings.chunk_overlap_sentences),
        max_document_bytes=settings.max_document_bytes,
    )

    async def warm_up() -> None:
        await asyncio.to_thread(ingestor.warm_up)

    async def on_stop() -> None:
        await asyncio.gather(retrieval.close(), vision.close())

    register = registrar(
        ingestor,
        ingest_concurrency=settings.ingest_concurrency,
        index_batch_size=settings.index_batch_size,
    )
    return ServiceApp("ingestion", settings, register, warm_up, on_stop)


def main() -> None:
    build_app(IngestionSettings()).run()


if __name__ == "__main__":
    main()
