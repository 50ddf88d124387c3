"""gRPC servicer: proto <-> domain translation only; errors are raised as VeritasErrors and
mapped to status codes by the shared interceptor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from veritas.v1 import generation_pb2, generation_pb2_grpc
from veritas_generation.engine import (
    ChatMessage,
    GenerationEngine,
    GenerationParams,
    GenerationUsage,
    collect_async,
)

SERVICE_NAME = generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name


def params_from_proto(params: generation_pb2.GenerationParams) -> GenerationParams:
    return GenerationParams(
        messages=tuple(ChatMessage(m.role, m.content) for m in params.messages),
        max_new_tokens=params.max_new_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        seed=params.seed,
        json_schema=params.json_schema,
        adapter_id=params.adapter_id,
        stop=tuple(params.stop),
    )


def usage_to_proto(usage: GenerationUsage) -> generation_pb2.GenerationUsage:
    return generation_pb2.GenerationUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        prefill_ms=usage.prefill_ms,
        decode_ms=usage.decode_ms,
    )


class GenerationServicer(generation_pb2_grpc.GenerationServiceServicer):
    """Serves a `GenerationEngine` over gRPC."""

    def __init__(self, engine: GenerationEngine) -> None:
        self._engine = engine

    async def Generate(
        self, request: generation_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> generation_pb2.GenerateResponse:
        params = params_from_proto(request.params)
        # Validation, prompt rendering and schema compilation run off the event loop.
        stream = await asyncio.to_thread(self._engine.stream, params)
        result = await collect_async(stream)
        return generation_pb2.GenerateResponse(
            text=result.text,
            finish_reason=result.finish_reason,
            model=result.model,
            usage=usage_to_proto(result.usage),
        )

    async def GenerateStream(
        self, request: generation_pb2.GenerateStreamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[generation_pb2.GenerateStreamResponse]:
        params = params_from_proto(request.params)
        stream = await asyncio.to_thread(self._engine.stream, params)
        try:
            async for chunk in stream:
                yield generation_pb2.GenerateStreamResponse(
                    delta=chunk.delta,
                    finish_reason=chunk.finish_reason,
                    model=stream.model,
                    usage=usage_to_proto(chunk.usage) if chunk.usage else None,
                )
        finally:
            stream.cancel()  # a no-op when finished; stops decoding for a caller that left

    async def GetStats(
        self, request: generation_pb2.GetStatsRequest, context: grpc.aio.ServicerContext
    ) -> generation_pb2.GetStatsResponse:
        stats = self._engine.stats()
        return generation_pb2.GetStatsResponse(
            model=stats.model,
            engine=stats.engine,
            kv_cache_used_bytes=stats.kv_cache.used_bytes,
            kv_cache_total_bytes=stats.kv_cache.total_bytes,
            queue_length=stats.queue_length,
            running=stats.running,
            generated_tokens_total=stats.generated_tokens_total,
        )
