"""The real OCR engine, loaded once per test run and shared by the test modules."""

from __future__ import annotations

import functools

from veritas_vision.ocr import RapidOcrAnalyzer


@functools.cache
def loaded_analyzer() -> RapidOcrAnalyzer:
    engine = RapidOcrAnalyzer(threads=2)
    engine.warm_up()
    return engine
