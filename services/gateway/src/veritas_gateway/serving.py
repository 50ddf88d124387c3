"""What each endpoint does, between the HTTP request schemas and the peers' typed clients.
Responses are the shared answer schema (`veritas_common.schemas`), built from the protos there,
so the JSON is the same whichever door a user came in by."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from starlette.datastructures import UploadFile

from veritas.v1 import agent_pb2, common_pb2, ingestion_pb2
from veritas_common import schemas
from veritas_common.client import check_health
from veritas_common.clients import (
    AgentClient,
    GenerationClient,
    IngestionClient,
    ask_request,
    document_filter,
    search_request,
)
from veritas_gateway import protocol
from veritas_gateway.auth import Caller
from veritas_gateway.chat import ChatService
from veritas_gateway.config import GatewaySettings
from veritas_gateway.metrics import UPLOADED_BYTES, UPLOADED_FILES

log = logging.getLogger(__name__)


@dataclass
class Upload:
    """One file of a multipart upload."""

    source: str
    mime_type: str
    file: UploadFile


class GatewayService:
    """The gateway's work: requests to the agent and ingestion peers, answers as schemas."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.agent = AgentClient(settings.agent_addr, settings)
        self.ingestion = IngestionClient(settings.ingestion_addr, settings)
        self.generation = GenerationClient(
            settings.generation_addr, settings, timeout_s=settings.generation_timeout_s
        )
        self.chat = ChatService(self.generation)

    async def close(self) -> None:
        await asyncio.gather(self.agent.close(), self.ingestion.close(), self.generation.close())

    async def ask(self, body: protocol.AskRequest, caller: Caller) -> schemas.Answer:
        request = ask_request(
            body.question,
            tenant=caller.tenant,
            caller=caller.key_id,
            collection=body.collection,
            filter=_filter(body.filters),
            data_schema=body.data_schema_json(),
            mode=body.mode,
            rerank=body.rerank,
            verify=body.verify,
            search_mode=body.search_mode,
            selector=body.selector,
            gate=body.gate,
        )
        reply = await self.agent.ask(request, timeout_s=self.settings.ask_timeout_s)
        return schemas.Answer.from_proto(reply.answer)

    async def search(self, body: protocol.SearchRequest, caller: Caller) -> schemas.SearchResponse:
        request = search_request(
            body.query,
            top_k=body.top_k,
            tenant=caller.tenant,
            collection=body.collection,
            mode=body.mode,
            rerank=body.rerank,
            filter=_filter(body.filters),
        )
        reply = await self.agent.search(request)
        return schemas.SearchResponse(
            results=[schemas.SearchResult.from_proto(r) for r in reply.results]
        )

    async def verify(self, body: protocol.VerifyRequest) -> schemas.VerifyResponse:
        request = agent_pb2.VerifyRequest(claim=body.claim, evidence=body.evidence)
        return schemas.VerifyResponse.from_proto(await self.agent.verify(request))

    async def calculate(self, body: protocol.CalculateRequest) -> schemas.CalculateResponse:
        request = agent_pb2.CalculateRequest(expression=body.expression)
        return schemas.CalculateResponse.from_proto(await self.agent.calculate(request))

    async def ingest(
        self, uploads: Sequence[Upload], collection: str, caller: Caller
    ) -> schemas.UploadResponse:
        """Streams the files to ingestion one at a time (each read only when its turn comes)."""

        async def requests() -> AsyncIterator[ingestion_pb2.IngestRequest]:
            for upload in uploads:
                content = await upload.file.read()
                UPLOADED_FILES.inc()
                UPLOADED_BYTES.inc(len(content))
                yield ingestion_pb2.IngestRequest(
                    source=upload.source,
                    content=content,
                    mime_type=upload.mime_type,
                    tenant=caller.tenant,
                    collection=collection,
                )

        documents = []
        async for reply in self.ingestion.ingest(
            requests(), timeout_s=self.settings.ingest_timeout_s
        ):
            documents.append(schemas.IngestedDocument.from_proto(reply))
            log.info(
                "document ingested",
                extra={"doc_id": reply.doc_id, "source": reply.source, "chunks": reply.chunks},
            )
        return schemas.UploadResponse(documents=documents)

    async def list_documents(self, collection: str, caller: Caller) -> schemas.DocumentList:
        request = ingestion_pb2.ListDocumentsRequest(tenant=caller.tenant, collection=collection)
        reply = await self.ingestion.list_documents(request)
        return schemas.DocumentList(
            documents=[schemas.DocumentSummary.from_proto(d) for d in reply.documents]
        )

    async def get_document(self, doc_id: str, caller: Caller) -> schemas.Document:
        request = ingestion_pb2.GetDocumentRequest(doc_id=doc_id, tenant=caller.tenant)
        reply = await self.ingestion.get_document(request)
        return schemas.Document.from_proto(reply.document)

    async def delete_document(self, doc_id: str, caller: Caller) -> schemas.DeletedDocument:
        request = ingestion_pb2.DeleteDocumentRequest(doc_id=doc_id, tenant=caller.tenant)
        reply = await self.ingestion.delete_document(request)
        return schemas.DeletedDocument(doc_id=doc_id, deleted_chunks=reply.deleted_chunks)

    async def peer_health(self) -> dict[str, str]:
        """gRPC health status of each peer ("SERVING", "NOT_SERVING", "UNREACHABLE")."""
        # Not the generation service: only the OpenAI-compatible routes need it directly.
        names = ("agent", "ingestion")
        addrs = (self.settings.agent_addr, self.settings.ingestion_addr)
        timeout = self.settings.ready_timeout_s
        statuses = await asyncio.gather(*(check_health(addr, timeout) for addr in addrs))
        return dict(zip(names, statuses, strict=True))


def _filter(filters: protocol.Filters | None) -> common_pb2.Filter | None:
    if filters is None:
        return None
    return document_filter(filters.sources, filters.doc_ids, filters.modalities)
