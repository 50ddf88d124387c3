import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from veritas_retrieval.models import ChunkRecord

TEXT, TABLE, OCR = 1, 2, 3


@pytest.fixture
def corpus() -> list[ChunkRecord]:
    """A small finance + medical corpus with clear answers, two tenants, two collections."""

    def chunk(chunk_id, text, *, source, collection, modality=TEXT, tenant="default"):
        doc_id, ordinal = chunk_id.split(":")
        return ChunkRecord(
            chunk_id=chunk_id,
            doc_id=doc_id,
            ordinal=int(ordinal),
            text=text,
            tenant=tenant,
            collection=collection,
            source=source,
            title=source.rsplit(".", 1)[0],
            section_path=["Item 7", "Results"] if collection == "finance" else ["Warnings"],
            page=int(ordinal) + 1,
            char_start=100 * int(ordinal),
            char_end=100 * int(ordinal) + len(text),
            published_at="2024-02-01",
            ingested_at="2024-03-01T10:00:00Z",
            modality=modality,
            confidence=0.9 if modality == OCR else 1.0,
            language="en",
        )

    return [
        chunk(
            "fin:0",
            "Net revenue increased 12% to $4.2 billion in fiscal 2023, driven by cloud "
            "subscriptions.",
            source="10k.pdf",
            collection="finance",
        ),
        chunk(
            "fin:1",
            "Operating expenses | 2023 | 2022\nResearch and development | $900M | $800M",
            source="10k.pdf",
            collection="finance",
            modality=TABLE,
        ),
        chunk(
            "med:0",
            "Warfarin may increase the risk of bleeding when combined with aspirin.",
            source="label.xml",
            collection="medical",
        ),
        chunk(
            "med:1",
            "The recommended adult dose of ibuprofen is 200 to 400 mg every four to six hours.",
            source="label.xml",
            collection="medical",
        ),
        chunk(
            "scan:0",
            "Patient reported persistent headaches and blurred vision after the first week.",
            source="scan.png",
            collection="medical",
            modality=OCR,
        ),
        chunk(
            "fin:0",
            "Acme confidential: quarterly revenue fell sharply because of supply chain losses.",
            source="acme.pdf",
            collection="finance",
            tenant="acme",
        ),
    ]


@pytest.fixture(scope="session")
def minilm():
    """The bundled all-MiniLM-L6-v2, loaded once per test session."""
    from veritas_embedding.testing import bundled_embedder

    return bundled_embedder()
