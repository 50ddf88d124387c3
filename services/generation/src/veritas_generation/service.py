"""Wiring: settings -> engine -> servicer, shared by `__main__` and the tests."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from veritas.v1 import generation_pb2_grpc
from veritas_generation.adapters import AdapterRegistry
from veritas_generation.config import GenerationSettings
from veritas_generation.convert import convert_embedded_model
from veritas_generation.engine import GenerationEngine, StatLogger
from veritas_generation.servicer import SERVICE_NAME, GenerationServicer
from veritas_generation.transformers_engine import EngineLimits, TransformersEngine


def build_engine(
    settings: GenerationSettings, stat_logger: StatLogger | None = None
) -> GenerationEngine:
    """The engine the settings ask for; nothing is loaded until `warm_up()`."""
    limits = EngineLimits(
        default_max_new_tokens=settings.default_max_new_tokens,
        max_new_tokens_limit=settings.max_new_tokens_limit,
        max_prompt_tokens=settings.max_prompt_tokens,
        max_queue_length=settings.max_queue_length,
    )
    return TransformersEngine(
        settings.checkpoint_dir(),
        model_name=settings.served_model_name(),
        adapters=AdapterRegistry(settings.adapters_dir()),
        dtype=settings.generation_dtype,
        limits=limits,
        # Only the embedded model is converted on demand; a configured checkpoint must exist.
        convert_missing=convert_embedded_model if settings.serves_embedded_model else None,
        torch_threads=settings.generation_torch_threads,
        stat_logger=stat_logger,
    )


def registrar(engine: GenerationEngine):
    """A `run_service`/`start_server` registrar that serves `engine`."""

    def register(server: grpc.aio.Server) -> Iterable[str]:
        generation_pb2_grpc.add_GenerationServiceServicer_to_server(
            GenerationServicer(engine), server
        )
        return [SERVICE_NAME]

    return register
