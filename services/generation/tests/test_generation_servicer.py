"""GenerationService over a real grpc.aio server (the shared bootstrap and interceptor)."""

from __future__ import annotations

import json

import grpc
import pytest

from veritas.v1 import generation_pb2, generation_pb2_grpc
from veritas_common.clients import GenerationClient
from veritas_common.errors import InvalidArgument, NotFound
from veritas_common.server import start_server
from veritas_common.testing import free_port
from veritas_generation.service import registrar

pytestmark = pytest.mark.slow


@pytest.fixture
async def peer(engine, settings):
    server_settings = settings.model_copy(update={"port": free_port()})
    server, _health, _names, port = await start_server(
        "generation", server_settings, registrar(engine)
    )
    client = GenerationClient(f"127.0.0.1:{port}", timeout_s=60)
    yield client
    await client.close()
    await server.stop(0)


def params(**kwargs) -> generation_pb2.GenerationParams:
    messages = [generation_pb2.ChatMessage(role="user", content="What is the capital of France?")]
    return generation_pb2.GenerationParams(messages=messages, **kwargs)


async def test_generate_and_stream_return_the_same_completion(peer):
    unary = await peer.generate(generation_pb2.GenerateRequest(params=params(max_new_tokens=12)))
    assert "Paris" in unary.text
    assert unary.finish_reason == "stop"
    assert unary.model == "SmolLM2-135M-Instruct"
    assert unary.usage.prompt_tokens > 0 and unary.usage.completion_tokens > 0
    assert unary.usage.prefill_ms > 0

    messages = [
        m
        async for m in peer.generate_stream(
            generation_pb2.GenerateStreamRequest(params=params(max_new_tokens=12)),
        )
    ]
    assert "".join(m.delta for m in messages) == unary.text
    assert all(m.model == unary.model for m in messages)
    assert [m.finish_reason for m in messages[:-1]] == [""] * (len(messages) - 1)
    assert not any(m.HasField("usage") for m in messages[:-1])
    assert messages[-1].finish_reason == "stop"
    assert messages[-1].usage.completion_tokens == unary.usage.completion_tokens


async def test_constrained_generation_over_grpc_is_valid_json(peer):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}},
        "required": ["city"],
        "additionalProperties": False,
    }
    reply = await peer.generate(
        generation_pb2.GenerateRequest(
            params=params(max_new_tokens=24, json_schema=json.dumps(schema))
        ),
    )
    assert reply.finish_reason == "stop"
    assert isinstance(json.loads(reply.text)["city"], str)


async def test_errors_map_to_status_codes(peer):
    with pytest.raises(InvalidArgument, match="json_schema is not valid JSON"):
        await peer.generate(generation_pb2.GenerateRequest(params=params(json_schema="{oops")))
    with pytest.raises(NotFound, match="adapter 'missing' not found"):
        await peer.generate(generation_pb2.GenerateRequest(params=params(adapter_id="missing")))
    with pytest.raises(InvalidArgument, match="max_new_tokens"):
        async for _ in peer.generate_stream(
            generation_pb2.GenerateStreamRequest(params=params(max_new_tokens=100_000)),
        ):
            pass


async def test_get_stats(peer, engine):
    await peer.generate(generation_pb2.GenerateRequest(params=params(max_new_tokens=4)))
    stats = await peer.get_stats(generation_pb2.GetStatsRequest())
    assert stats.model == "SmolLM2-135M-Instruct"
    assert stats.engine == "transformers"
    assert (stats.queue_length, stats.running, stats.kv_cache_used_bytes) == (0, 0, 0)
    assert stats.kv_cache_total_bytes == 0
    assert stats.generated_tokens_total == engine.stats().generated_tokens_total > 0


async def test_cancelled_stream_stops_decoding(peer, engine):
    story = generation_pb2.GenerationParams(
        messages=[generation_pb2.ChatMessage(role="user", content="Tell me a long story.")],
        max_new_tokens=60,
    )
    before = engine.stats().generated_tokens_total
    async with grpc.aio.insecure_channel(peer.addr) as channel:
        call = generation_pb2_grpc.GenerationServiceStub(channel).GenerateStream(
            generation_pb2.GenerateStreamRequest(params=story)
        )
        async for _ in call:
            call.cancel()
            break
    # The engine notices within a token and the next request runs right away.
    reply = await peer.generate(generation_pb2.GenerateRequest(params=params(max_new_tokens=4)))
    assert reply.usage.completion_tokens == 4
    story_tokens = engine.stats().generated_tokens_total - before - 4
    assert 1 <= story_tokens < 30  # counted, but far from the 60 it asked for
