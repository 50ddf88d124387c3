"""The ingestion metrics keep the names and labels dashboards query."""

from __future__ import annotations

from veritas_ingestion import metrics


def test_metric_names_and_labels():
    assert metrics.DOCUMENTS._name == "veritas_ingestion_documents"
    assert metrics.DOCUMENTS._labelnames == ("status", "mime_type")
    assert metrics.CHUNKS._name == "veritas_ingestion_chunks"
    assert metrics.CHUNKS._labelnames == ("mime_type",)
    assert metrics.PARSE_DURATION._name == "veritas_ingestion_parse_duration_seconds"
    assert metrics.PARSE_DURATION._labelnames == ("mime_type",)
    assert metrics.DOCUMENT_BYTES._labelnames == ("mime_type",)
