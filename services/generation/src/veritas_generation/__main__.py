"""`veritas-generation` / `python -m veritas_generation`: serves GenerationService."""

from __future__ import annotations

import os

from veritas_common.server import ServiceApp

# Models come from installed packages and the data directory, never from a hub; set before
# transformers is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from veritas_generation.config import GenerationSettings
from veritas_generation.service import build_engine, registrar


def build_app(settings: GenerationSettings) -> ServiceApp:
    """The service as `main` runs it; vLLM starts in warm-up, in the serving event loop."""
    engine = build_engine(settings)

    async def warm_up() -> None:
        await engine.start()

    async def on_stop() -> None:
        engine.close()

    return ServiceApp("generation", settings, registrar(engine), warm_up, on_stop)


def main() -> None:
    build_app(GenerationSettings()).run()


if __name__ == "__main__":
    main()
