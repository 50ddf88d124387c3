"""Document language (ISO 639-1) with `langdetect`; empty when the text is too short or the
detector is unsure, rather than a guess."""

from __future__ import annotations

import threading

_MIN_WORDS = 20
_MIN_PROBABILITY = 0.9
_SAMPLE_CHARS = 4000
_lock = threading.Lock()
_ready = False


def warm_up() -> None:
    """Loads the language profiles (about a second) and fixes the seed: langdetect is random
    otherwise, and the same document must always get the same language."""
    global _ready
    with _lock:
        if not _ready:
            from langdetect import DetectorFactory, detector_factory

            DetectorFactory.seed = 0
            detector_factory.init_factory()
            _ready = True


def detect_language(text: str) -> str:
    sample = text[:_SAMPLE_CHARS]
    if sum(1 for word in sample.split() if any(c.isalpha() for c in word)) < _MIN_WORDS:
        return ""
    warm_up()
    from langdetect import detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    try:
        best = detect_langs(sample)[0]
    except LangDetectException:
        return ""
    return best.lang.split("-")[0] if best.prob >= _MIN_PROBABILITY else ""
