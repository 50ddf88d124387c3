"""IngestionService: proto <-> domain translation only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import cast

import grpc

from veritas.v1 import common_pb2, ingestion_pb2, ingestion_pb2_grpc
from veritas_ingestion.ingestor import DocumentIngestor, IngestItem
from veritas_ingestion.store import StoredDocument


def document_to_proto(document: StoredDocument) -> common_pb2.Document:
    return common_pb2.Document(
        doc_id=document.doc_id,
        tenant=document.tenant,
        collection=document.collection,
        source=document.source,
        title=document.title,
        mime_type=document.mime_type,
        text=document.text,
        chunk_count=document.chunk_count,
        published_at=document.published_at,
        ingested_at=document.ingested_at,
        page_count=document.page_count,
    )


class IngestionServicer(ingestion_pb2_grpc.IngestionServiceServicer):
    def __init__(
        self, ingestor: DocumentIngestor, *, ingest_concurrency: int = 1, index_batch_size: int = 64
    ) -> None:
        self.ingestor = ingestor
        self.ingest_concurrency = ingest_concurrency
        self.index_batch_size = index_batch_size

    async def Ingest(
        self,
        request_iterator: AsyncIterator[ingestion_pb2.IngestRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[ingestion_pb2.IngestResponse]:
        # One response per file, in order; the first error ends the stream (files already
        # answered stay ingested) with a message naming the file.
        async def items() -> AsyncIterator[IngestItem]:
            async for request in request_iterator:
                yield IngestItem(
                    source=request.source,
                    content=request.content,
                    mime_type=request.mime_type,
                    tenant=request.tenant,
                    collection=request.collection,
                    published_at=request.published_at,
                )

        # aclosing: a stream that ends early (client gone) stops its files now, not at GC.
        results = self.ingestor.ingest_stream(
            items(),
            concurrency=self.ingest_concurrency,
            # Files indexed together add up to one Upsert batch at most: no Upsert waits
            # behind more embedding than a full batch of its own.
            max_chunks_indexing=self.index_batch_size,
        )
        async with contextlib.aclosing(results):
            async for result in results:
                yield ingestion_pb2.IngestResponse(
                    source=result.source,
                    doc_id=result.doc_id,
                    status=cast(ingestion_pb2.IngestStatus, result.status.value),  # same numbering
                    chunks=result.chunks,
                    title=result.title,
                )

    async def GetDocument(
        self, request: ingestion_pb2.GetDocumentRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.GetDocumentResponse:
        document = await self.ingestor.get(request.doc_id, request.tenant)
        return ingestion_pb2.GetDocumentResponse(document=document_to_proto(document))

    async def ListDocuments(
        self, request: ingestion_pb2.ListDocumentsRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.ListDocumentsResponse:
        documents = await self.ingestor.list(request.tenant, request.collection)
        return ingestion_pb2.ListDocumentsResponse(
            documents=[document_to_proto(d) for d in documents]
        )

    async def DeleteDocument(
        self, request: ingestion_pb2.DeleteDocumentRequest, context: grpc.aio.ServicerContext
    ) -> ingestion_pb2.DeleteDocumentResponse:
        deleted = await self.ingestor.delete(request.doc_id, request.tenant)
        return ingestion_pb2.DeleteDocumentResponse(deleted_chunks=deleted)


def registrar(
    ingestor: DocumentIngestor, *, ingest_concurrency: int = 1, index_batch_size: int = 64
):
    """Returns the `register` callable `run_service`/`start_server` expect."""

    def register(server: grpc.aio.Server) -> list[str]:
        servicer = IngestionServicer(
            ingestor, ingest_concurrency=ingest_concurrency, index_batch_size=index_batch_size
        )
        ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(servicer, server)
        return [ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"].full_name]

    return register
