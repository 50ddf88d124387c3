"""Entry point: `veritas-ingestion` / `python -m veritas_ingestion`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import grpc

from veritas.v1 import retrieval_pb2_grpc, vision_pb2_grpc
from veritas_common.client import Peer
from veritas_common.server import run_service
from veritas_ingestion.chunker import StructureChunker
from veritas_ingestion.config import IngestionSettings
from veritas_ingestion.images import VisionImageReader
from veritas_ingestion.index import RetrievalIndexWriter
from veritas_ingestion.ingestor import DocumentIngestor
from veritas_ingestion.servicer import registrar
from veritas_ingestion.store import DocumentStore


def build_ingestor(
    settings: IngestionSettings,
    retrieval: Peer[retrieval_pb2_grpc.RetrievalServiceStub],
    vision: Peer[vision_pb2_grpc.VisionServiceStub],
) -> DocumentIngestor:
    """The production wiring: SQLite store under the data dir, retrieval and vision peers."""
    return DocumentIngestor(
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


def service(
    settings: IngestionSettings,
) -> tuple[
    Callable[[grpc.aio.Server], list[str]],
    Callable[[], Coroutine[Any, Any, None]],
    Callable[[], Coroutine[Any, Any, None]],
]:
    """`register`, `warm_up` and `on_stop` for `run_service`. Peers are created in `register`,
    which runs inside the server's event loop: gRPC aio channels bind to the loop that
    creates them."""
    peers: list[Peer] = []
    ingestors: list[DocumentIngestor] = []

    def register(server: grpc.aio.Server) -> list[str]:
        retrieval = Peer.from_settings(
            "retrieval", settings.retrieval_addr, retrieval_pb2_grpc.RetrievalServiceStub, settings
        )
        vision = Peer.from_settings(
            "vision", settings.vision_addr, vision_pb2_grpc.VisionServiceStub, settings
        )
        peers.extend([retrieval, vision])
        ingestors.append(build_ingestor(settings, retrieval, vision))
        return registrar(ingestors[0])(server)

    async def warm_up() -> None:
        await asyncio.to_thread(ingestors[0].warm_up)

    async def on_stop() -> None:
        for peer in peers:
            await peer.close()

    return register, warm_up, on_stop


def main() -> None:
    settings = IngestionSettings()
    register, warm_up, on_stop = service(settings)
    run_service("ingestion", settings, register, warm_up, on_stop)


if __name__ == "__main__":
    main()
