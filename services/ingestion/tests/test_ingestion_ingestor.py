"""The ingestion use cases through `DocumentIngestor` with a fake index: idempotency,
replacement, all-or-nothing writes, limits and errors that name the file."""

from __future__ import annotations

import pytest
from ingestion_fakes import SAMPLES, FakeIndexWriter
from prometheus_client import REGISTRY

from veritas_common.errors import (
    InvalidArgument,
    NotFound,
    PeerUnavailable,
    TooLarge,
    VeritasError,
)
from veritas_ingestion.document import Modality
from veritas_ingestion.ingestor import DocumentIngestor, IngestItem, IngestStatus, document_id

ACME = (SAMPLES / "acme-annual-report-2024.md").read_bytes()
LABEL = (SAMPLES / "zentrivex-label.html").read_bytes()
NORTHWIND = (SAMPLES / "northwind-q3-2024.pdf").read_bytes()


def documents_total(status: str, mime_type: str) -> float:
    value = REGISTRY.get_sample_value(
        "veritas_ingestion_documents_total", {"status": status, "mime_type": mime_type}
    )
    return value or 0.0


async def test_ingest_indexes_chunks_and_stores_the_document(ingestor, index: FakeIndexWriter):
    result = await ingestor.ingest(
        IngestItem("reports/acme-annual-report-2024.md", ACME, published_at="2025-02-28")
    )
    assert result.status is IngestStatus.INGESTED
    assert result.doc_id == document_id(ACME) and len(result.doc_id) == 32
    assert result.title == "Acme Instruments Inc. Annual Report 2024"
    stored = await ingestor.get(result.doc_id)
    chunks = index.of(result.doc_id)
    assert len(chunks) == result.chunks == stored.chunk_count > 1
    assert stored.mime_type == "text/markdown" and stored.collection == "default"
    for ordinal, chunk in enumerate(chunks):
        assert chunk.chunk_id == f"{result.doc_id}:{ordinal:04d}"
        assert chunk.text == stored.text[chunk.char_start : chunk.char_end]
        assert chunk.tenant == "default" and chunk.collection == "default"
        assert chunk.source == "reports/acme-annual-report-2024.md"
        assert chunk.published_at == "2025-02-28" and chunk.ingested_at == stored.ingested_at
        assert chunk.language == "en"
        assert chunk.title == result.title
    table = next(c for c in chunks if c.modality is Modality.TABLE)
    assert "Revenue | 482.6 | 429.4" in table.text


async def test_pdf_chunks_carry_their_page(ingestor, index):
    result = await ingestor.ingest(IngestItem("northwind-q3-2024.pdf", NORTHWIND))
    pages = {c.page for c in index.of(result.doc_id) if "Fuel costs" in c.text}
    assert pages == {2}
    assert (await ingestor.get(result.doc_id)).page_count == 2


async def test_same_bytes_again_is_unchanged_and_writes_nothing(ingestor, index):
    first = await ingestor.ingest(IngestItem("acme.md", ACME))
    calls = list(index.calls)
    before = documents_total("unchanged", "text/markdown")
    again = await ingestor.ingest(IngestItem("copy-of-acme.md", ACME))
    assert again.status is IngestStatus.UNCHANGED
    assert (again.doc_id, again.chunks, again.title) == (first.doc_id, first.chunks, first.title)
    assert index.calls == calls  # the index was not touched
    assert len(await ingestor.list()) == 1
    assert documents_total("unchanged", "text/markdown") == before + 1


async def test_same_bytes_in_another_tenant_is_a_separate_document(ingestor, index):
    await ingestor.ingest(IngestItem("acme.md", ACME))
    other = await ingestor.ingest(IngestItem("acme.md", ACME, tenant="clinic-b"))
    assert other.status is IngestStatus.INGESTED
    assert index.of(other.doc_id, "clinic-b") and index.of(other.doc_id, "default")
    assert [d.tenant for d in await ingestor.list("clinic-b")] == ["clinic-b"]


async def test_new_version_of_a_source_replaces_the_old_one(ingestor, index):
    old = await ingestor.ingest(IngestItem("acme.md", ACME))
    edited = ACME.replace(b"$482.6 million", b"$483.0 million")
    new = await ingestor.ingest(IngestItem("acme.md", edited))
    assert new.status is IngestStatus.INGESTED and new.doc_id != old.doc_id
    assert new.replaced_doc_id == old.doc_id
    assert index.of(old.doc_id) == []  # old chunks gone
    assert len(index.of(new.doc_id)) == new.chunks
    assert index.calls[-2:] == ["upsert", "delete"]  # new chunks first, then the old removed
    assert [d.doc_id for d in await ingestor.list()] == [new.doc_id]
    with pytest.raises(NotFound):
        await ingestor.get(old.doc_id)
    assert "$483.0 million" in (await ingestor.get(new.doc_id)).text


async def test_same_source_in_another_collection_does_not_replace(ingestor, index):
    a = await ingestor.ingest(IngestItem("acme.md", ACME, collection="finance"))
    b = await ingestor.ingest(IngestItem("acme.md", ACME + b"\nAppendix.\n", collection="archive"))
    assert {d.doc_id for d in await ingestor.list()} == {a.doc_id, b.doc_id}
    assert [d.doc_id for d in await ingestor.list(collection="finance")] == [a.doc_id]


async def test_failed_upsert_stores_nothing_and_removes_partial_chunks(ingestor, index):
    index.fail_upsert_after = 2
    with pytest.raises(PeerUnavailable, match=r"^acme\.md: retrieval service unavailable"):
        await ingestor.ingest(IngestItem("acme.md", ACME))
    assert index.chunks == {}  # the two written before the failure were deleted again
    assert await ingestor.list() == []
    index.fail_upsert_after = None
    retry = await ingestor.ingest(IngestItem("acme.md", ACME))
    assert retry.status is IngestStatus.INGESTED  # not mistaken for UNCHANGED


async def test_failed_replacement_keeps_the_old_version_intact(ingestor, index):
    old = await ingestor.ingest(IngestItem("acme.md", ACME))
    old_chunks = index.of(old.doc_id)
    index.fail_delete = True
    with pytest.raises(PeerUnavailable):
        await ingestor.ingest(IngestItem("acme.md", ACME + b"\nMore.\n"))
    index.fail_delete = False
    assert index.of(old.doc_id) == old_chunks
    assert [d.doc_id for d in await ingestor.list()] == [old.doc_id]


async def test_image_goes_through_the_image_reader_as_ocr(ingestor, index):
    result = await ingestor.ingest(IngestItem("lab.png", b"\x89PNG\r\n\x1a\nfake-pixels"))
    assert ingestor.images.seen == [(len(b"\x89PNG\r\n\x1a\nfake-pixels"), "image/png")]
    (chunk,) = index.of(result.doc_id)
    assert chunk.modality is Modality.OCR
    assert "Glucose 98 mg/dL (reference 70-99)" in chunk.text
    assert chunk.confidence == pytest.approx(0.62)  # the weakest line in it
    assert (await ingestor.get(result.doc_id)).mime_type == "image/png"


async def test_delete_removes_chunks_then_the_document(ingestor, index):
    result = await ingestor.ingest(IngestItem("label.html", LABEL))
    assert await ingestor.delete(result.doc_id) == result.chunks
    assert index.of(result.doc_id) == []
    with pytest.raises(NotFound):
        await ingestor.get(result.doc_id)
    with pytest.raises(NotFound):
        await ingestor.delete(result.doc_id)


async def test_list_is_newest_first_and_without_text(ingestor):
    first = await ingestor.ingest(IngestItem("acme.md", ACME))
    second = await ingestor.ingest(IngestItem("label.html", LABEL))
    listed = await ingestor.list()
    assert [d.doc_id for d in listed] == [second.doc_id, first.doc_id]
    assert all(d.text == "" for d in listed)


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        (IngestItem("big.txt", b"x" * 200_001), TooLarge, r"^big\.txt: file is 200001 bytes"),
        (IngestItem("empty.txt", b""), InvalidArgument, r"^empty\.txt: file is empty"),
        (IngestItem("", b"x"), InvalidArgument, "source is required"),
        (IngestItem("a.docx", b"PK\x03\x04\x00\x00"), InvalidArgument, r"^a\.docx: unsupported"),
        (IngestItem("a.zip", b"x", mime_type="application/zip"), InvalidArgument, "zip"),
        (IngestItem("bad.pdf", b"%PDF-1.4 junk"), InvalidArgument, r"^bad\.pdf: malformed PDF"),
        (IngestItem("blank.md", b"  \n\n  "), InvalidArgument, "no text found"),
        (IngestItem("a.md", b"x", tenant="../etc"), InvalidArgument, "invalid tenant"),
        (IngestItem("a.md", b"x", published_at="last week"), InvalidArgument, "ISO 8601"),
    ],
)
async def test_bad_input_is_refused_with_a_clear_error(ingestor, index, item, error, message):
    with pytest.raises(error, match=message):
        await ingestor.ingest(item)
    assert index.calls == [] and await ingestor.list() == []


async def test_failures_are_counted_by_type(ingestor):
    before = documents_total("failed", "application/pdf")
    with pytest.raises(InvalidArgument):
        await ingestor.ingest(IngestItem("bad.pdf", b"%PDF-1.4 junk"))
    assert documents_total("failed", "application/pdf") == before + 1


async def test_images_without_a_vision_reader_are_refused(tmp_path):
    from veritas_ingestion.store import DocumentStore

    service = DocumentIngestor(DocumentStore(tmp_path / "d.sqlite3"), FakeIndexWriter(), None)
    service.warm_up()
    with pytest.raises(InvalidArgument, match="no vision service"):
        await service.ingest(IngestItem("a.png", b"\x89PNG\r\n\x1a\n"))


async def test_unexpected_failure_names_the_file_without_internals(ingestor, index, monkeypatch):
    from veritas_ingestion import parsers

    def broken(content, source):
        raise RuntimeError("secret parser internals")

    monkeypatch.setitem(parsers.TEXT_PARSERS, "text/plain", broken)
    with pytest.raises(VeritasError) as err:
        await ingestor.ingest(IngestItem("notes.txt", b"hello"))
    assert err.value.message == "notes.txt: internal error while ingesting"
    assert err.value.code.name == "INTERNAL"
    assert index.calls == []
