"""Metrics of the ingestion service, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DOCUMENTS = Counter(
    "veritas_ingestion_documents_total",
    "Files processed, by outcome (ingested, replaced, unchanged, failed) and detected MIME type.",
    ["status", "mime_type"],
)

CHUNKS = Counter(
    "veritas_ingestion_chunks_total",
    "Chunks produced and indexed.",
    ["mime_type"],
)

PARSE_DURATION = Histogram(
    "veritas_ingestion_parse_duration_seconds",
    "Time to parse and chunk one file (including OCR by the vision service for images).",
    ["mime_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

DOCUMENT_BYTES = Histogram(
    "veritas_ingestion_document_bytes",
    "Size of the files received.",
    ["mime_type"],
    buckets=(1e3, 1e4, 1e5, 1e6, 5e6, 1e7, 5e7, 1e8),
)
