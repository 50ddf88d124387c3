"""gRPC servicer: proto <-> domain translation only; errors are raised as VeritasErrors and
mapped to status codes by the shared interceptor."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from veritas.v1 import generation_pb2, generation_pb2_grpc
from veritas_generation.engine import (
    ChatMessage,
    GenerationParams,
    GenerationUsage,
    VllmEngine,
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
    """Serves a `VllmEngine` over gRPC."""

    def __init__(self, engine: VllmEngine) -> None:
        self._engine = engine

    async def Generate(
        self, request: generation_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> generation_pb2.GenerateResponse:
        result = await self._engine.generate(params_from_proto(request.params))
        return generation_pb2.GenerateResponse(
            text=result.text,
            finish_reason=result.finish_reason,
            model=result.model,
            usage=usage_to_proto(result.usage),
        )

    async def GenerateStream(
        self, request: generation_pb2.GenerateStreamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[generation_pb2.GenerateStreamResponse]:
        # A caller that goes away closes this generator, which aborts the request in vLLM.
        async for chunk in self._engine.stream(params_from_proto(request.params)):
            yield generation_pb2.GenerateStreamResponse(
                delta=chunk.delta,
                finish_reason=chunk.finish_reason,
                model=self._engine.model_name,
                usage=usage_to_proto(chunk.usage) if chunk.usage else None,
            )

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
            adapters=stats.adapters,
        )
