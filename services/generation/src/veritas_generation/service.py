"""Wiring: settings -> engine -> servicer, shared by `__main__` and the tests."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from veritas.v1 import generation_pb2_grpc
from veritas_generation.config import GenerationSettings
from veritas_generation.convert import convert_embedded_model
from veritas_generation.engine import VllmEngine
from veritas_generation.servicer import SERVICE_NAME, GenerationServicer


def build_engine(settings: GenerationSettings) -> VllmEngine:
    """The engine the settings ask for; nothing is loaded until `start()`."""
    # Only the embedded model is converted on demand; a configured checkpoint must exist.
    return VllmEngine(
        settings,
        convert_missing=convert_embedded_model if settings.serves_embedded_model else None,
    )


def registrar(engine: VllmEngine):
    """A `run_service`/`start_server` registrar that serves `engine`."""

    def register(server: grpc.aio.Server) -> Iterable[str]:
        generation_pb2_grpc.add_GenerationServiceServicer_to_server(
            GenerationServicer(engine), server
        )
        return [SERVICE_NAME]

    return register
