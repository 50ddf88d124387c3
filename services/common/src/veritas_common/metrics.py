"""RPC metrics shared by every gRPC service, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RPC_REQUESTS = Counter(
    "veritas_rpc_requests_total",
    "gRPC requests served, by final status code.",
    ["service", "method", "code"],
)

RPC_DURATION = Histogram(
    "veritas_rpc_duration_seconds",
    "Time to serve a gRPC request, including streaming.",
    ["service", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
