"""Metrics of the retrieval service, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SEARCH_DURATION = Histogram(
    "veritas_retrieval_search_duration_seconds",
    "Time of one search including the query embedding, by mode.",
    ["mode"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

SEARCH_RESULTS = Histogram(
    "veritas_retrieval_search_results",
    "Results returned by one search, by mode.",
    ["mode"],
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200),
)

INDEX_CHUNKS = Gauge(
    "veritas_retrieval_index_chunks",
    "Chunks in the index, all tenants.",
)

UPSERTED_CHUNKS = Counter(
    "veritas_retrieval_upserted_chunks_total",
    "Chunks written (added or replaced) by Upsert.",
)

DELETED_CHUNKS = Counter(
    "veritas_retrieval_deleted_chunks_total",
    "Chunks removed by Delete.",
)
