"""Metrics of the generation service, declared once. The engine collects statistics through the
`StatLogger` interface; `PrometheusStatLogger` exports them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from veritas_generation.engine import RequestRecord

_LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

TOKENS = Counter(
    "veritas_generation_tokens_total",
    "Tokens processed: kind=prompt (rendered prompts) or completion (generated).",
    ["kind"],
)
PREFILL_SECONDS = Histogram(
    "veritas_generation_prefill_seconds",
    "Time from the start of the engine's work on a request to its first token.",
    buckets=_LATENCY_BUCKETS_S,
)
DECODE_SECONDS = Histogram(
    "veritas_generation_decode_seconds",
    "Time from a request's first token to its last.",
    buckets=_LATENCY_BUCKETS_S,
)
QUEUE_WAIT_SECONDS = Histogram(
    "veritas_generation_queue_wait_seconds",
    "Time a request waited in the queue before the engine started on it.",
    buckets=_LATENCY_BUCKETS_S,
)
DECODE_TOKENS_PER_SECOND = Histogram(
    "veritas_generation_decode_tokens_per_second",
    "Decode speed of a request: tokens after the first, per second of decode time.",
    buckets=(1, 2.5, 5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1000),
)
QUEUE_LENGTH = Gauge("veritas_generation_queue_length", "Requests waiting for the engine.")
RUNNING = Gauge("veritas_generation_running_requests", "Requests being decoded.")
KV_CACHE_USED_BYTES = Gauge(
    "veritas_generation_kv_cache_used_bytes",
    "Bytes of KV cache held by the sequences being decoded.",
)
CONSTRAINED_OUTPUTS = Counter(
    "veritas_generation_constrained_outputs_total",
    "JSON-Schema constrained completions by outcome: valid (parses and validates), invalid, "
    "or truncated (max_new_tokens reached).",
    ["outcome"],
)


class PrometheusStatLogger:
    """A `StatLogger` that updates the metrics above."""

    def on_scheduler(self, queue_length: int, running: int) -> None:
        QUEUE_LENGTH.set(queue_length)
        RUNNING.set(running)

    def on_kv_cache(self, used_bytes: int) -> None:
        KV_CACHE_USED_BYTES.set(used_bytes)

    def on_request_finished(self, record: RequestRecord) -> None:
        TOKENS.labels("prompt").inc(record.prompt_tokens)
        TOKENS.labels("completion").inc(record.completion_tokens)
        QUEUE_WAIT_SECONDS.observe(record.queue_s)
        PREFILL_SECONDS.observe(record.prefill_s)
        DECODE_SECONDS.observe(record.decode_s)
        if record.completion_tokens > 1 and record.decode_s > 0:
            DECODE_TOKENS_PER_SECOND.observe((record.completion_tokens - 1) / record.decode_s)
        if record.constrained_outcome:
            CONSTRAINED_OUTPUTS.labels(record.constrained_outcome).inc()
