"""Metrics of the vision service, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

OCR_DURATION = Histogram(
    "veritas_vision_ocr_duration_seconds",
    "Time to decode an image and recognise its text, excluding queueing.",
    ["model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
)

TEXT_BLOCKS = Counter(
    "veritas_vision_text_blocks_total",
    "Text blocks (lines) recognised and returned.",
    ["model"],
)
