"""IngestionService over a real grpc.aio server, wired as in production (`service()`), with
in-process fake retrieval and vision servers: stream semantics and status codes."""

from __future__ import annotations

import grpc
import pytest
from ingestion_fakes import SAMPLES

from veritas.v1 import (
    common_pb2,
    ingestion_pb2,
    ingestion_pb2_grpc,
    retrieval_pb2,
    retrieval_pb2_grpc,
    vision_pb2,
    vision_pb2_grpc,
)
from veritas_common.errors import InvalidArgument
from veritas_common.server import start_server
from veritas_common.settings import VeritasSettings
from veritas_common.testing import free_port
from veritas_ingestion.__main__ import build_app
from veritas_ingestion.config import IngestionSettings

ACME = (SAMPLES / "acme-annual-report-2024.md").read_bytes()
LABEL = (SAMPLES / "zentrivex-label.html").read_bytes()


class FakeRetrievalServicer(retrieval_pb2_grpc.RetrievalServiceServicer):
    """Keeps upserted chunks in memory, keyed by (tenant, chunk_id)."""

    def __init__(self) -> None:
        self.chunks: dict[tuple[str, str], common_pb2.Chunk] = {}

    async def Upsert(self, request, context):
        for chunk in request.chunks:
            self.chunks[(chunk.tenant, chunk.chunk_id)] = chunk
        return retrieval_pb2.UpsertResponse(upserted=len(request.chunks))

    async def Delete(self, request, context):
        keys = [
            k
            for k, c in self.chunks.items()
            if c.doc_id == request.doc_id and c.tenant == request.tenant
        ]
        for key in keys:
            del self.chunks[key]
        return retrieval_pb2.DeleteResponse(deleted=len(keys))


class FakeVisionServicer(vision_pb2_grpc.VisionServiceServicer):
    """Answers every image with two lines; images starting with b"BAD" are undecodable."""

    async def Analyze(self, request, context):
        if request.image.startswith(b"BAD"):
            raise InvalidArgument("cannot decode image: not an image")
        box = vision_pb2.BoundingBox
        return vision_pb2.AnalyzeResponse(
            blocks=[
                vision_pb2.TextBlock(
                    text="Glucose 98 mg/dL", box=box(x0=1, y0=10, x1=90, y1=30), confidence=0.97
                ),
                vision_pb2.TextBlock(
                    text="Potassium 4.2 mmol/L", box=box(x0=1, y0=60, x1=90, y1=80), confidence=0.88
                ),
            ],
            width=100,
            height=100,
            model="fake-ocr",
        )


async def _fake_server(name: str, add, servicer) -> tuple[grpc.aio.Server, str]:
    settings = VeritasSettings(port=free_port(), metrics_port=-1)

    def register(server):
        add(servicer, server)
        return []

    server, _health, _names, port = await start_server(name, settings, register)
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def system(tmp_path):
    retrieval = FakeRetrievalServicer()
    retrieval_server, retrieval_addr = await _fake_server(
        "retrieval", retrieval_pb2_grpc.add_RetrievalServiceServicer_to_server, retrieval
    )
    vision_server, vision_addr = await _fake_server(
        "vision", vision_pb2_grpc.add_VisionServiceServicer_to_server, FakeVisionServicer()
    )
    settings = IngestionSettings(
        port=free_port(),
        metrics_port=-1,
        data_dir=tmp_path,
        retrieval_addr=retrieval_addr,
        vision_addr=vision_addr,
        max_document_bytes=100_000,
        peer_retries=0,
        peer_timeout_s=5,
    )
    app = build_app(settings)
    server, _health, _names, port = await start_server("ingestion", settings, app.register)
    assert app.warm_up is not None and app.on_stop is not None
    await app.warm_up()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield ingestion_pb2_grpc.IngestionServiceStub(channel), retrieval, retrieval_server
    await channel.close()
    await server.stop(0)
    await app.on_stop()
    await retrieval_server.stop(0)
    await vision_server.stop(0)


async def _ingest(stub, *requests: ingestion_pb2.IngestRequest) -> list:
    async def gen():
        for request in requests:
            yield request

    return [reply async for reply in stub.Ingest(gen())]


async def test_stream_answers_each_file_in_order(system):
    stub, retrieval, _ = system
    replies = await _ingest(
        stub,
        ingestion_pb2.IngestRequest(source="acme.md", content=ACME),
        ingestion_pb2.IngestRequest(source="label.html", content=LABEL, collection="pharma"),
        ingestion_pb2.IngestRequest(source="lab.png", content=b"\x89PNG\r\n\x1a\n..."),
        ingestion_pb2.IngestRequest(source="again.md", content=ACME),
    )
    assert [r.source for r in replies] == ["acme.md", "label.html", "lab.png", "again.md"]
    assert [r.status for r in replies] == [
        ingestion_pb2.INGEST_STATUS_INGESTED,
        ingestion_pb2.INGEST_STATUS_INGESTED,
        ingestion_pb2.INGEST_STATUS_INGESTED,
        ingestion_pb2.INGEST_STATUS_UNCHANGED,
    ]
    assert replies[3].doc_id == replies[0].doc_id and replies[3].chunks == replies[0].chunks
    assert replies[1].title == "Zentrivex (velorapine tablets) Prescribing Information"

    document = (
        await stub.GetDocument(ingestion_pb2.GetDocumentRequest(doc_id=replies[0].doc_id))
    ).document
    indexed = sorted(
        (c for c in retrieval.chunks.values() if c.doc_id == replies[0].doc_id),
        key=lambda c: c.ordinal,
    )
    assert len(indexed) == replies[0].chunks == document.chunk_count
    for chunk in indexed:
        assert chunk.text == document.text[chunk.char_start : chunk.char_end]
        assert chunk.tenant == "default" and chunk.collection == "default"
    assert any(c.modality == common_pb2.MODALITY_TABLE for c in indexed)
    ocr = [c for c in retrieval.chunks.values() if c.doc_id == replies[2].doc_id]
    assert [c.modality for c in ocr] == [common_pb2.MODALITY_OCR]
    assert ocr[0].confidence == pytest.approx(0.88)
    label = [c for c in retrieval.chunks.values() if c.doc_id == replies[1].doc_id]
    assert {c.collection for c in label} == {"pharma"}


async def test_an_error_aborts_the_stream_naming_the_file_and_keeps_earlier_files(system):
    stub, _, _ = system
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for reply in stub.Ingest(
            iter(
                [
                    ingestion_pb2.IngestRequest(source="acme.md", content=ACME),
                    ingestion_pb2.IngestRequest(source="broken.pdf", content=b"%PDF-1.5 junk"),
                    ingestion_pb2.IngestRequest(source="label.html", content=LABEL),
                ]
            )
        ):
            received.append(reply.source)
    assert received == ["acme.md"]
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.value.details() or "").startswith("broken.pdf: malformed PDF")
    listed = await stub.ListDocuments(ingestion_pb2.ListDocumentsRequest())
    assert [d.source for d in listed.documents] == ["acme.md"]
    assert all(d.text == "" for d in listed.documents)


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            ingestion_pb2.IngestRequest(source="huge.txt", content=b"x" * 100_001),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "huge.txt: file is 100001 bytes",
        ),
        (
            ingestion_pb2.IngestRequest(
                source="a.xlsx", content=b"x", mime_type="application/vnd.ms-excel"
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "a.xlsx: unsupported type 'application/vnd.ms-excel'",
        ),
        (
            ingestion_pb2.IngestRequest(source="scan.png", content=b"BAD image"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "scan.png: cannot decode image",
        ),
    ],
)
async def test_bad_files_get_the_right_status(system, request_, code, message):
    stub, retrieval, _ = system
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _ingest(stub, request_)
    assert err.value.code() == code
    assert (err.value.details() or "").startswith(message)
    assert retrieval.chunks == {}


async def test_retrieval_down_is_unavailable_naming_file_and_peer(system):
    stub, _, retrieval_server = system
    await retrieval_server.stop(0)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _ingest(stub, ingestion_pb2.IngestRequest(source="acme.md", content=ACME))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (err.value.details() or "").startswith("acme.md: retrieval service unavailable")
    listed = await stub.ListDocuments(ingestion_pb2.ListDocumentsRequest())
    assert list(listed.documents) == []


async def test_get_list_and_delete_documents(system):
    stub, retrieval, _ = system
    (reply,) = await _ingest(
        stub, ingestion_pb2.IngestRequest(source="label.html", content=LABEL, tenant="clinic")
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetDocument(ingestion_pb2.GetDocumentRequest(doc_id=reply.doc_id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND  # another tenant's document
    got = await stub.GetDocument(
        ingestion_pb2.GetDocumentRequest(doc_id=reply.doc_id, tenant="clinic")
    )
    assert got.document.mime_type == "text/html" and "Zentrivex" in got.document.text
    assert got.document.page_count == 1 and got.document.ingested_at.endswith("Z")

    deleted = await stub.DeleteDocument(
        ingestion_pb2.DeleteDocumentRequest(doc_id=reply.doc_id, tenant="clinic")
    )
    assert deleted.deleted_chunks == reply.chunks > 0
    assert retrieval.chunks == {}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.DeleteDocument(
            ingestion_pb2.DeleteDocumentRequest(doc_id=reply.doc_id, tenant="clinic")
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
