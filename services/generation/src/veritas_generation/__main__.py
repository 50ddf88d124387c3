"""`veritas-generation` / `python -m veritas_generation`: serves GenerationService."""

from __future__ import annotations

import asyncio
import os

from veritas_common.server import run_service


def main() -> None:
    # Models come from installed packages and the data directory, never from a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from veritas_generation.config import GenerationSettings
    from veritas_generation.metrics import PrometheusStatLogger
    from veritas_generation.service import build_engine, registrar

    settings = GenerationSettings()
    engine = build_engine(settings, PrometheusStatLogger())

    async def warm_up() -> None:
        await asyncio.to_thread(engine.warm_up)

    async def on_stop() -> None:
        await asyncio.to_thread(engine.close)

    run_service("generation", settings, registrar(engine), warm_up, on_stop)


if __name__ == "__main__":
    main()
