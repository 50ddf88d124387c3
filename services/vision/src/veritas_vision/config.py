"""Settings of the vision service (`VERITAS_*` environment variables)."""

from __future__ import annotations

from veritas_common.settings import VeritasSettings


class VisionSettings(VeritasSettings):
    """Vision settings; every field is read from `VERITAS_<FIELD>`."""

    # Recognised lines scoring below this are dropped (0..1).
    ocr_min_confidence: float = 0.5
    # Images with more pixels than this are refused (decompression-bomb guard).
    max_image_pixels: int = 40_000_000
    # ONNX Runtime intra-op threads for the OCR models (-1 lets ONNX Runtime decide).
    ocr_threads: int = -1
