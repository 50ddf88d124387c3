"""Metrics of the embedding service, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BATCH_SIZE = Histogram(
    "veritas_embedding_batch_size_texts",
    "Texts per forward pass after the dynamic batcher merged concurrent requests.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)

INFERENCE_DURATION = Histogram(
    "veritas_embedding_inference_duration_seconds",
    "Time of one forward pass (a merged batch), excluding queueing.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

QUEUE_WAIT = Histogram(
    "veritas_embedding_queue_wait_seconds",
    "Time a request waited in the batcher before its forward pass started.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)

TEXTS = Counter(
    "veritas_embedding_texts_total",
    "Texts embedded, by kind (query or passage).",
    ["kind"],
)
