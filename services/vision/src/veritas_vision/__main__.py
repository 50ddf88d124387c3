"""Entry point: `veritas-vision` / `python -m veritas_vision`."""

from __future__ import annotations

import asyncio

from veritas_common.server import ServiceApp
from veritas_vision.config import VisionSettings
from veritas_vision.ocr import RapidOcrAnalyzer
from veritas_vision.servicer import registrar


def build_app(settings: VisionSettings) -> ServiceApp:
    """The service as `main` runs it; building does no I/O (the model loads in warm-up)."""
    analyzer = RapidOcrAnalyzer(
        min_confidence=settings.ocr_min_confidence,
        max_image_pixels=settings.max_image_pixels,
        threads=settings.ocr_threads,
    )

    async def warm_up() -> None:
        await asyncio.to_thread(analyzer.warm_up)

    return ServiceApp("vision", settings, registrar(analyzer), warm_up)


def main() -> None:
    build_app(VisionSettings()).run()


if __name__ == "__main__":
    main()
