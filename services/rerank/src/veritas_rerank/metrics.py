"""Metrics of the rerank service, declared once."""

from __future__ import annotations

from prometheus_client import Histogram

RERANK_DURATION = Histogram(
    "veritas_rerank_duration_seconds",
    "Time to score one request's candidates, by backend.",
    ["backend"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

RERANK_CANDIDATES = Histogram(
    "veritas_rerank_candidates",
    "Candidates scored per request, by backend.",
    ["backend"],
    buckets=(0, 1, 5, 10, 20, 50, 100, 200, 500),
)
