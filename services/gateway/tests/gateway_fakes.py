"""Named fakes of the agent and ingestion servicers on real grpc.aio servers, and helpers to
build a gateway wired to them (driven in-process through httpx's ASGI transport)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from veritas.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    common_pb2,
    ingestion_pb2,
    ingestion_pb2_grpc,
    retrieval_pb2,
)
from veritas_common.errors import InvalidArgument, NotFound
from veritas_common.logs import request_id_var
from veritas_common.server import start_server
from veritas_common.settings import VeritasSettings
from veritas_common.testing import free_port
from veritas_gateway.app import create_app
from veritas_gateway.config import GatewaySettings

API_KEY = "test-key-0123456789"
ACME_KEY = "acme-key-9876543210"
MAX_UPLOAD = 64 * 1024

DOC_TEXT = "Acme Instruments reported total revenue of $41.2 million in fiscal 2024."


def sample_answer(question: str) -> agent_pb2.Answer:
    quote = DOC_TEXT[:71]
    return agent_pb2.Answer(
        answer_id="ans-1",
        question=question,
        status=agent_pb2.ANSWER_STATUS_ANSWERED,
        answer=quote,
        claims=[
            agent_pb2.Claim(
                text=quote, citations=["E1"], support=agent_pb2.SUPPORT_SUPPORTED, score=0.875
            )
        ],
        evidence=[
            common_pb2.Evidence(
                id="E1",
                chunk_id="doc1:0000",
                doc_id="doc1",
                source="acme.md",
                title="Acme annual report",
                section_path=["Results", "Revenue"],
                page=3,
                char_start=0,
                char_end=71,
                quote=quote,
                retrieval_score=0.5,
                rerank_score=0.25,
            )
        ],
        data_json=json.dumps({"metric": "revenue", "value": 41.2}),
        usage=agent_pb2.Usage(prompt_tokens=120, completion_tokens=30, total_ms=42.5),
        trace=[agent_pb2.TraceStep(name="retrieve", detail="5 chunks", duration_ms=3.25)],
    )


class FakeAgent(agent_pb2_grpc.AgentServiceServicer):
    """Fake agent: records what it was asked; the question picks the behaviour."""

    def __init__(self) -> None:
        self.asks: list[agent_pb2.AskRequest] = []
        self.searches: list[agent_pb2.AgentServiceSearchRequest] = []
        self.verifies: list[agent_pb2.VerifyRequest] = []
        self.calculations: list[agent_pb2.CalculateRequest] = []
        self.request_ids: list[str] = []

    async def Ask(self, request, context):
        self.asks.append(request)
        self.request_ids.append(request_id_var.get())
        if request.question == "hang":
            await asyncio.sleep(30)
        if request.question == "bad":
            raise InvalidArgument("question is not answerable as asked")
        if request.question == "refuse":
            return agent_pb2.AskResponse(
                answer=agent_pb2.Answer(
                    answer_id="ans-2",
                    question=request.question,
                    status=agent_pb2.ANSWER_STATUS_REFUSED,
                    refusal_reason="no evidence above threshold",
                )
            )
        return agent_pb2.AskResponse(answer=sample_answer(request.question))

    async def Search(self, request, context):
        self.searches.append(request)
        self.request_ids.append(request_id_var.get())
        chunk = common_pb2.Chunk(
            chunk_id="doc1:0000",
            doc_id="doc1",
            source="acme.md",
            title="Acme annual report",
            section_path=["Results"],
            page=1,
            char_start=0,
            char_end=len(DOC_TEXT),
            text=DOC_TEXT,
        )
        return agent_pb2.AgentServiceSearchResponse(
            results=[retrieval_pb2.ScoredChunk(chunk=chunk, score=0.75)]
        )

    async def Verify(self, request, context):
        """SUPPORTED when the claim is one of the texts, CONTRADICTED when a text is "not "
        followed by the claim, UNSPECIFIED (a broken agent) for the claim "no verdict"."""
        self.verifies.append(request)
        if request.claim == "no verdict":
            return agent_pb2.VerifyResponse(verifier="fake-verifier")
        if request.claim in request.evidence:
            support, score = agent_pb2.SUPPORT_SUPPORTED, 0.9
        elif f"not {request.claim}" in request.evidence:
            support, score = agent_pb2.SUPPORT_CONTRADICTED, 0.1
        else:
            support, score = agent_pb2.SUPPORT_UNSUPPORTED, 0.25
        return agent_pb2.VerifyResponse(
            support=support, score=score, verifier="fake-verifier", reason="fake"
        )

    async def Calculate(self, request, context):
        """Knows two expressions; anything else is refused as the real calculator would."""
        self.calculations.append(request)
        if request.expression == "(3,233 - 2,977) / 2,977":
            return agent_pb2.CalculateResponse(
                value=256 / 2977, expression="(3233 - 2977) / 2977", steps=[256 / 2977]
            )
        if request.expression == "subtract(5829, 5735), divide(#0, 5735)":
            return agent_pb2.CalculateResponse(
                value=94 / 5735, expression=request.expression, steps=[94.0, 94 / 5735]
            )
        raise InvalidArgument("division by zero")


class FakeIngestion(ingestion_pb2_grpc.IngestionServiceServicer):
    """Fake ingestion keeping documents in memory; rejects PDFs without an EOF marker."""

    def __init__(self) -> None:
        self.docs: dict[str, common_pb2.Document] = {}
        self.received: list[ingestion_pb2.IngestRequest] = []

    async def Ingest(self, request_iterator, context):
        async for request in request_iterator:
            self.received.append(request)
            if request.source.endswith(".pdf") and b"%%EOF" not in request.content:
                raise InvalidArgument(f"{request.source}: not a valid PDF (no EOF marker)")
            doc_id = hashlib.sha256(request.content).hexdigest()[:16]
            status = ingestion_pb2.INGEST_STATUS_INGESTED
            if doc_id in self.docs:
                status = ingestion_pb2.INGEST_STATUS_UNCHANGED
            text = request.content.decode(errors="replace")
            self.docs[doc_id] = common_pb2.Document(
                doc_id=doc_id,
                tenant=request.tenant,
                collection=request.collection or "default",
                source=request.source,
                title=request.source,
                mime_type=request.mime_type or "text/plain",
                text=text,
                chunk_count=2,
                ingested_at="2025-01-01T00:00:00Z",
                page_count=1,
            )
            yield ingestion_pb2.IngestResponse(
                source=request.source, doc_id=doc_id, status=status, chunks=2
            )

    def _owned(self, doc_id: str, tenant: str) -> common_pb2.Document:
        doc = self.docs.get(doc_id)
        if doc is None or doc.tenant != tenant:
            raise NotFound(f"no document {doc_id}")
        return doc

    async def GetDocument(self, request, context):
        return ingestion_pb2.GetDocumentResponse(
            document=self._owned(request.doc_id, request.tenant)
        )

    async def ListDocuments(self, request, context):
        docs = [
            common_pb2.Document(**{**_fields(d), "text": ""})
            for d in self.docs.values()
            if d.tenant == request.tenant
            and (not request.collection or d.collection == request.collection)
        ]
        return ingestion_pb2.ListDocumentsResponse(documents=docs)

    async def DeleteDocument(self, request, context):
        doc = self._owned(request.doc_id, request.tenant)
        del self.docs[doc.doc_id]
        return ingestion_pb2.DeleteDocumentResponse(deleted_chunks=doc.chunk_count)


def _fields(doc: common_pb2.Document) -> dict:
    return {f.name: v for f, v in doc.ListFields()}


@dataclass
class FakeServer:
    """A fake servicer on a real grpc.aio server, with its health status under test control."""

    addr: str
    server: grpc.aio.Server
    health: health_aio.HealthServicer
    servicer: Any

    async def set_serving(self, serving: bool) -> None:
        state = health_pb2.HealthCheckResponse
        await self.health.set("", state.SERVING if serving else state.NOT_SERVING)

    async def stop(self) -> None:
        await self.server.stop(0)


async def start_fake(name: str, servicer: Any, add: Callable[[Any, Any], None]) -> FakeServer:
    def register(srv: grpc.aio.Server) -> list[str]:
        add(servicer, srv)
        return []

    settings = VeritasSettings(port=free_port(), metrics_port=-1)
    server, health, _names, port = await start_server(name, settings, register)
    fake = FakeServer(f"127.0.0.1:{port}", server, health, servicer)
    await fake.set_serving(True)
    return fake


def gateway_settings(agent_addr: str, ingestion_addr: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "agent_addr": agent_addr,
        "ingestion_addr": ingestion_addr,
        "api_keys": f"{API_KEY}, acme:{ACME_KEY}",
        "max_upload_bytes": MAX_UPLOAD,
        "ask_timeout_s": 1.0,
        "peer_timeout_s": 2.0,
        "peer_retries": 0,
        **overrides,
    }
    return GatewaySettings(**values)


@asynccontextmanager
async def gateway_client(
    settings: GatewaySettings, api_key: str | None = API_KEY
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a freshly built gateway app, its lifespan entered as uvicorn would."""
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway", headers=headers) as c,
    ):
        yield c
