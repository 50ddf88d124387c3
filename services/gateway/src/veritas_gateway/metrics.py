"""Gateway metrics, declared once. Routes are labelled by their template (`/v1/documents/{doc_id}`),
never by the raw path, so label cardinality stays bounded."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "veritas_http_requests_total",
    "HTTP requests served by the gateway, by route template and status code.",
    ["method", "route", "status"],
)

HTTP_DURATION = Histogram(
    "veritas_http_request_duration_seconds",
    "Time to serve an HTTP request, from the first byte in to the last byte out.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)

UPLOADED_FILES = Counter(
    "veritas_gateway_uploaded_files_total",
    "Files received on POST /v1/documents and sent to ingestion.",
)

UPLOADED_BYTES = Counter(
    "veritas_gateway_uploaded_bytes_total",
    "Bytes of uploaded files sent to ingestion.",
)

UPLOADS_REJECTED = Counter(
    "veritas_gateway_uploads_too_large_total",
    "Request bodies rejected for exceeding max_upload_bytes.",
)

# Label for requests that matched no route (scanners, typos): one series, not one per path.
UNMATCHED_ROUTE = "<unmatched>"
