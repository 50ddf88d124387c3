"""/v1/documents against a fake ingestion service: upload (limits, malformed files), list,
read, delete."""

from __future__ import annotations

import pytest
from gateway_fakes import ACME_KEY, MAX_UPLOAD, gateway_client, gateway_settings

TEXT = b"Acme Instruments reported total revenue of $41.2 million in fiscal 2024.\n"


async def test_upload_reports_each_file_then_unchanged_on_reupload(gateway, ingestion):
    files = [
        ("file", ("acme.md", TEXT, "text/markdown")),
        ("file", ("notes.txt", b"Second document.", "text/plain")),
    ]
    reply = await gateway.post("/v1/documents", files=files, data={"collection": "filings"})
    assert reply.status_code == 200, reply.text
    docs = reply.json()["documents"]
    assert [d["source"] for d in docs] == ["acme.md", "notes.txt"]
    assert [d["status"] for d in docs] == ["ingested", "ingested"]
    assert all(set(d) == {"doc_id", "source", "status", "chunks"} for d in docs)
    assert docs[0]["chunks"] == 2
    sent = ingestion.servicer.received
    assert [r.collection for r in sent] == ["filings", "filings"]
    assert sent[0].content == TEXT and sent[0].mime_type == "text/markdown"
    assert sent[0].tenant == "default"

    again = await gateway.post("/v1/documents", files=[("file", ("acme.md", TEXT, "text/md"))])
    (entry,) = again.json()["documents"]
    assert entry["doc_id"] == docs[0]["doc_id"]
    assert entry["status"] == "unchanged"


async def test_source_is_the_file_name_without_directories(gateway, ingestion):
    reply = await gateway.post(
        "/v1/documents", files=[("file", ("C:\\Users\\ann\\report.txt", TEXT, "text/plain"))]
    )
    assert reply.json()["documents"][0]["source"] == "report.txt"
    assert ingestion.servicer.received[0].mime_type == "text/plain"


async def test_malformed_file_is_400_naming_it(gateway, ingestion):
    reply = await gateway.post(
        "/v1/documents",
        files=[("file", ("broken.pdf", b"%PDF-1.7 not really", "application/pdf"))],
    )
    assert reply.status_code == 400
    assert "broken.pdf" in reply.json()["detail"]
    assert ingestion.servicer.docs == {}


async def test_oversized_upload_is_413_and_never_reaches_ingestion(gateway, ingestion):
    big = b"a" * (MAX_UPLOAD + 1)
    reply = await gateway.post("/v1/documents", files=[("file", ("big.txt", big, "text/plain"))])
    assert reply.status_code == 413
    assert f"{MAX_UPLOAD} bytes" in reply.json()["detail"]
    assert ingestion.servicer.received == []


async def test_upload_without_file_is_422(gateway):
    reply = await gateway.post(
        "/v1/documents", data={"collection": "x"}, files=[("other", ("a.txt", b"x"))]
    )
    assert reply.status_code == 422
    assert "other" in reply.json()["detail"]
    reply = await gateway.post("/v1/documents", files={"collection": (None, b"only text")})
    assert reply.status_code == 422


async def test_upload_must_be_multipart(gateway):
    reply = await gateway.post("/v1/documents", json={"file": "text"})
    assert reply.status_code == 415


async def test_unauthenticated_upload_is_401_before_the_body_is_read(gateway, ingestion):
    reply = await gateway.post(
        "/v1/documents",
        files=[("file", ("a.txt", TEXT, "text/plain"))],
        headers={"Authorization": "Bearer nope"},
    )
    assert reply.status_code == 401
    assert ingestion.servicer.received == []


async def test_get_document_returns_text_that_offsets_index_into(gateway):
    up = await gateway.post("/v1/documents", files=[("file", ("acme.md", TEXT, "text/plain"))])
    doc_id = up.json()["documents"][0]["doc_id"]
    reply = await gateway.get(f"/v1/documents/{doc_id}")
    assert reply.status_code == 200
    doc = reply.json()
    assert set(doc) == {
        "doc_id",
        "source",
        "title",
        "collection",
        "mime_type",
        "text",
        "chunks",
        "page_count",
        "ingested_at",
        "published_at",
    }
    assert doc["text"] == TEXT.decode()
    assert doc["collection"] == "default" and doc["chunks"] == 2 and doc["published_at"] is None


async def test_unknown_document_is_404(gateway):
    for method in ("GET", "DELETE"):
        reply = await gateway.request(method, "/v1/documents/0123456789abcdef")
        assert reply.status_code == 404
        assert "0123456789abcdef" in reply.json()["detail"]


async def test_list_filters_by_collection_and_omits_text(gateway):
    await gateway.post(
        "/v1/documents", files=[("file", ("a.txt", b"aaa"))], data={"collection": "x"}
    )
    await gateway.post(
        "/v1/documents", files=[("file", ("b.txt", b"bbb"))], data={"collection": "y"}
    )
    everything = (await gateway.get("/v1/documents")).json()["documents"]
    assert sorted(d["source"] for d in everything) == ["a.txt", "b.txt"]
    assert all("text" not in d for d in everything)
    only_x = (await gateway.get("/v1/documents", params={"collection": "x"})).json()
    assert [d["source"] for d in only_x["documents"]] == ["a.txt"]


async def test_delete_removes_the_document(gateway):
    up = await gateway.post("/v1/documents", files=[("file", ("a.txt", TEXT))])
    doc_id = up.json()["documents"][0]["doc_id"]
    reply = await gateway.delete(f"/v1/documents/{doc_id}")
    assert reply.status_code == 200
    assert reply.json() == {"doc_id": doc_id, "deleted_chunks": 2}
    assert (await gateway.get(f"/v1/documents/{doc_id}")).status_code == 404


async def test_documents_are_scoped_to_the_key_tenant(gateway, agent, ingestion):
    up = await gateway.post("/v1/documents", files=[("file", ("a.txt", TEXT))])
    doc_id = up.json()["documents"][0]["doc_id"]
    async with gateway_client(gateway_settings(agent.addr, ingestion.addr), ACME_KEY) as acme:
        assert (await acme.get(f"/v1/documents/{doc_id}")).status_code == 404
        assert (await acme.get("/v1/documents")).json() == {"documents": []}


async def test_ingestion_down_is_503_naming_it(agent):
    async with gateway_client(gateway_settings(agent.addr, "127.0.0.1:1")) as client:
        reply = await client.post("/v1/documents", files=[("file", ("a.txt", TEXT))])
        assert reply.status_code == 503
        assert reply.json()["detail"].startswith("ingestion service unavailable")
        reply = await client.get("/v1/documents")
        assert reply.status_code == 503


@pytest.mark.parametrize("path", ["/v1/documents", "/v1/documents/abc"])
async def test_document_routes_need_a_key(gateway, path):
    reply = await gateway.get(path, headers={"Authorization": ""})
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == "Bearer"
