"""What each endpoint does, between the HTTP schemas and the peers' protos. Responses are
rendered by `veritas_common.rendering`, shared with the MCP server and the CLI, so the JSON is
the same whichever door a user came in by."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile

from veritas.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    common_pb2,
    ingestion_pb2,
    ingestion_pb2_grpc,
    retrieval_pb2,
)
from veritas_common.client import Peer, check_health
from veritas_common.errors import VeritasError
from veritas_common.rendering import (
    answer_to_dict,
    calculation_to_dict,
    document_to_dict,
    search_result_to_dict,
)
from veritas_gateway import protocol
from veritas_gateway.auth import Caller
from veritas_gateway.config import GatewaySettings
from veritas_gateway.metrics import UPLOADED_BYTES, UPLOADED_FILES

log = logging.getLogger(__name__)

_SEARCH_MODES = {
    "hybrid": retrieval_pb2.SEARCH_MODE_HYBRID,
    "bm25": retrieval_pb2.SEARCH_MODE_BM25,
    "dense": retrieval_pb2.SEARCH_MODE_DENSE,
}
_MODALITIES = {
    "text": common_pb2.MODALITY_TEXT,
    "table": common_pb2.MODALITY_TABLE,
    "ocr": common_pb2.MODALITY_OCR,
}
_ANSWER_MODES = {
    None: agent_pb2.ANSWER_MODE_UNSPECIFIED,
    "extractive": agent_pb2.ANSWER_MODE_EXTRACTIVE,
    "abstractive": agent_pb2.ANSWER_MODE_ABSTRACTIVE,
}
_SUPPORT_NAMES = {
    agent_pb2.SUPPORT_SUPPORTED: "SUPPORTED",
    agent_pb2.SUPPORT_UNSUPPORTED: "UNSUPPORTED",
    agent_pb2.SUPPORT_CONTRADICTED: "CONTRADICTED",
}
_INGEST_STATUS = {
    ingestion_pb2.INGEST_STATUS_INGESTED: "ingested",
    ingestion_pb2.INGEST_STATUS_UNCHANGED: "unchanged",
}


@dataclass
class Upload:
    """One file of a multipart upload."""

    source: str
    mime_type: str
    file: UploadFile


class GatewayService:
    """The gateway's work: requests to the agent and ingestion peers, answers as JSON dicts."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.agent = Peer.from_settings(
            "agent", settings.agent_addr, agent_pb2_grpc.AgentServiceStub, settings
        )
        self.ingestion = Peer.from_settings(
            "ingestion", settings.ingestion_addr, ingestion_pb2_grpc.IngestionServiceStub, settings
        )

    async def close(self) -> None:
        await asyncio.gather(self.agent.close(), self.ingestion.close())

    async def ask(self, body: protocol.AskRequest, caller: Caller) -> dict[str, Any]:
        request = agent_pb2.AskRequest(
            question=body.question,
            tenant=caller.tenant,
            collection=body.collection,
            filter=_filter(body.filters),
            data_schema=body.data_schema_json(),
            mode=_ANSWER_MODES[body.mode],
            rerank=body.rerank,
            disable_verify=not body.verify,
            search_mode=_SEARCH_MODES[body.search_mode],
            caller=caller.key_id,
        )
        reply = await self.agent.call("Ask", request, timeout_s=self.settings.ask_timeout_s)
        return answer_to_dict(reply.answer)

    async def search(self, body: protocol.SearchRequest, caller: Caller) -> dict[str, Any]:
        request = agent_pb2.AgentServiceSearchRequest(
            query=body.query,
            top_k=body.top_k,
            tenant=caller.tenant,
            collection=body.collection,
            mode=_SEARCH_MODES[body.mode],
            rerank=body.rerank,
            filter=_filter(body.filters),
        )
        reply = await self.agent.call("Search", request)
        return {"results": [search_result_to_dict(r) for r in reply.results]}

    async def verify(self, body: protocol.VerifyRequest) -> dict[str, Any]:
        request = agent_pb2.VerifyRequest(claim=body.claim, evidence=body.evidence)
        reply = await self.agent.call("Verify", request)
        if reply.support not in _SUPPORT_NAMES:
            raise VeritasError("agent sent no verdict")
        return {
            "support": _SUPPORT_NAMES[reply.support],
            "score": round(reply.score, 6),
            "verifier": reply.verifier,
        }

    async def calculate(self, body: protocol.CalculateRequest) -> dict[str, Any]:
        request = agent_pb2.CalculateRequest(expression=body.expression)
        reply = await self.agent.call("Calculate", request)
        return calculation_to_dict(reply)

    async def ingest(
        self, uploads: Sequence[Upload], collection: str, caller: Caller
    ) -> dict[str, Any]:
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
        async for reply in self.ingestion.stream(
            "Ingest", requests(), timeout_s=self.settings.ingest_timeout_s
        ):
            documents.append(
                {
                    "doc_id": reply.doc_id,
                    "source": reply.source,
                    "status": _ingest_status(reply),
                    "chunks": reply.chunks,
                }
            )
            log.info(
                "document ingested",
                extra={"doc_id": reply.doc_id, "source": reply.source, "chunks": reply.chunks},
            )
        return {"documents": documents}

    async def list_documents(self, collection: str, caller: Caller) -> dict[str, Any]:
        request = ingestion_pb2.ListDocumentsRequest(tenant=caller.tenant, collection=collection)
        reply = await self.ingestion.call("ListDocuments", request)
        return {"documents": [document_to_dict(d, with_text=False) for d in reply.documents]}

    async def get_document(self, doc_id: str, caller: Caller) -> dict[str, Any]:
        request = ingestion_pb2.GetDocumentRequest(doc_id=doc_id, tenant=caller.tenant)
        reply = await self.ingestion.call("GetDocument", request)
        return document_to_dict(reply.document)

    async def delete_document(self, doc_id: str, caller: Caller) -> dict[str, Any]:
        request = ingestion_pb2.DeleteDocumentRequest(doc_id=doc_id, tenant=caller.tenant)
        reply = await self.ingestion.call("DeleteDocument", request)
        return {"doc_id": doc_id, "deleted_chunks": reply.deleted_chunks}

    async def peer_health(self) -> dict[str, str]:
        """gRPC health status of each peer ("SERVING", "NOT_SERVING", "UNREACHABLE")."""
        names = ("agent", "ingestion")
        addrs = (self.settings.agent_addr, self.settings.ingestion_addr)
        timeout = self.settings.ready_timeout_s
        statuses = await asyncio.gather(*(check_health(addr, timeout) for addr in addrs))
        return dict(zip(names, statuses, strict=True))


def _ingest_status(reply: ingestion_pb2.IngestResponse) -> str:
    try:
        return _INGEST_STATUS[reply.status]
    except KeyError:
        raise VeritasError(f"ingestion sent no status for {reply.source!r}") from None


def _filter(filters: protocol.Filters | None) -> common_pb2.Filter | None:
    if filters is None:
        return None
    return common_pb2.Filter(
        sources=filters.sources,
        doc_ids=filters.doc_ids,
        modalities=[_MODALITIES[m] for m in filters.modalities],
    )
