"""The vision metrics keep the names and labels dashboards query."""

from __future__ import annotations

from veritas_vision import metrics


def test_metric_names_and_labels():
    assert metrics.OCR_DURATION._name == "veritas_vision_ocr_duration_seconds"
    assert metrics.OCR_DURATION._labelnames == ("model",)
    assert metrics.TEXT_BLOCKS._name == "veritas_vision_text_blocks"
    assert metrics.TEXT_BLOCKS._labelnames == ("model",)
