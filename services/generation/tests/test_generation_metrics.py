from __future__ import annotations

from prometheus_client import REGISTRY

from veritas_generation import metrics
from veritas_generation.engine import RequestRecord


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_metric_names_and_labels():
    assert metrics.TOKENS._labelnames == ("kind",)
    assert metrics.CONSTRAINED_OUTPUTS._labelnames == ("outcome",)
    for histogram in (
        metrics.PREFILL_SECONDS,
        metrics.DECODE_SECONDS,
        metrics.QUEUE_WAIT_SECONDS,
        metrics.DECODE_TOKENS_PER_SECOND,
    ):
        assert histogram._labelnames == ()
        assert histogram._upper_bounds[-1] == float("inf")


def test_stat_logger_exports_a_finished_request():
    logger = metrics.PrometheusStatLogger()
    prompt = value("veritas_generation_tokens_total", {"kind": "prompt"})
    completion = value("veritas_generation_tokens_total", {"kind": "completion"})
    valid = value("veritas_generation_constrained_outputs_total", {"outcome": "valid"})
    rates = value("veritas_generation_decode_tokens_per_second_count")
    logger.on_request_finished(
        RequestRecord(
            prompt_tokens=40,
            completion_tokens=11,
            queue_s=0.0,
            prefill_s=0.2,
            decode_s=1.0,
            finish_reason="stop",
            constrained_outcome="valid",
        )
    )
    assert value("veritas_generation_tokens_total", {"kind": "prompt"}) == prompt + 40
    assert value("veritas_generation_tokens_total", {"kind": "completion"}) == completion + 11
    assert value("veritas_generation_constrained_outputs_total", {"outcome": "valid"}) == valid + 1
    assert value("veritas_generation_decode_tokens_per_second_count") == rates + 1
    assert value("veritas_generation_decode_tokens_per_second_sum") >= 10.0


def test_stat_logger_sets_gauges():
    logger = metrics.PrometheusStatLogger()
    logger.on_scheduler(queue_length=3, running=1)
    logger.on_kv_cache(123456)
    assert value("veritas_generation_queue_length") == 3
    assert value("veritas_generation_running_requests") == 1
    assert value("veritas_generation_kv_cache_used_bytes") == 123456
