"""Fixtures of the ingestion tests: a fresh store under tmp_path with the fakes."""

from __future__ import annotations

import pytest
from ingestion_fakes import FakeImageReader, FakeIndexWriter

from veritas_ingestion.chunker import StructureChunker
from veritas_ingestion.ingestor import DocumentIngestor
from veritas_ingestion.store import DocumentStore


@pytest.fixture
def index() -> FakeIndexWriter:
    return FakeIndexWriter()


@pytest.fixture
def ingestor(tmp_path, index) -> DocumentIngestor:
    store = DocumentStore(tmp_path / "ingestion" / "documents.sqlite3")
    service = DocumentIngestor(
        store=store,
        index=index,
        images=FakeImageReader(),
        chunker=StructureChunker(max_words=60),
        max_document_bytes=200_000,
    )
    service.warm_up()
    return service
