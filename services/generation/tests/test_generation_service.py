"""The generation service as a real process on vLLM, over gRPC: completions, streaming, stop
strings, seeds, constrained JSON, LoRA adapters in one batch, cancellation, the waiting line,
GetStats and vLLM's own metrics on the metrics port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from generation_testing import ADAPTERS, SERVICE_ENV, write_lora_adapter

from veritas.v1 import generation_pb2, generation_pb2_grpc
from veritas_common.clients import GenerationClient
from veritas_common.errors import FailedPrecondition, InvalidArgument, NotFound, TooLarge
from veritas_common.testing import ServiceProcess
from veritas_generation.convert import EMBEDDED_CHECKPOINT

pytestmark = [pytest.mark.slow, pytest.mark.integration]

QUESTION = "Paris is the capital of France. What is the capital of France?"


@pytest.fixture
async def peer(service: ServiceProcess) -> AsyncIterator[GenerationClient]:
    client = GenerationClient(service.addr, timeout_s=120)
    yield client
    await client.close()


def params(content: str = QUESTION, **kwargs) -> generation_pb2.GenerationParams:
    messages = [generation_pb2.ChatMessage(role="user", content=content)]
    return generation_pb2.GenerationParams(messages=messages, **kwargs)


async def generate(peer: GenerationClient, **kwargs) -> generation_pb2.GenerateResponse:
    return await peer.generate(generation_pb2.GenerateRequest(params=params(**kwargs)))


async def test_generate_and_stream_return_the_same_completion(peer):
    unary = await generate(peer, max_new_tokens=12)
    assert "Paris" in unary.text
    assert unary.finish_reason in ("stop", "length")
    assert unary.model == "SmolLM2-135M-Instruct"
    assert unary.usage.prompt_tokens > 0 and unary.usage.completion_tokens > 0
    assert unary.usage.prefill_ms > 0

    messages = [
        m
        async for m in peer.generate_stream(
            generation_pb2.GenerateStreamRequest(params=params(max_new_tokens=12)),
        )
    ]
    assert len(messages) > 2  # streamed, not one message at the end
    assert "".join(m.delta for m in messages) == unary.text
    assert all(m.model == unary.model for m in messages)
    assert [m.finish_reason for m in messages[:-1]] == [""] * (len(messages) - 1)
    assert not any(m.HasField("usage") for m in messages[:-1])
    assert messages[-1].finish_reason == unary.finish_reason
    assert messages[-1].usage.completion_tokens == unary.usage.completion_tokens


async def test_budget_cuts_the_completion_with_finish_reason_length(peer):
    reply = await generate(peer, content="Tell me a long story about a dragon.", max_new_tokens=5)
    assert (reply.finish_reason, reply.usage.completion_tokens) == ("length", 5)


async def test_stop_string_ends_the_text_before_it(peer):
    full = await generate(peer, content="Tell me a long story about a dragon.", max_new_tokens=40)
    words = full.text.split()
    stop = words[len(words) // 2]
    reply = await generate(
        peer, content="Tell me a long story about a dragon.", max_new_tokens=40, stop=[stop]
    )
    assert reply.finish_reason == "stop_sequence"
    assert reply.text == full.text[: full.text.index(stop)]


async def test_a_seed_repeats_a_sampled_completion(peer):
    story = {"content": "Invent a name for a cat.", "max_new_tokens": 16, "temperature": 1.2}
    first = await generate(peer, seed=7, **story)
    again = await generate(peer, seed=7, **story)
    others = {(await generate(peer, seed=seed, **story)).text for seed in (8, 9, 10)}
    assert first.text == again.text
    assert others - {first.text}  # other seeds sample other completions


async def test_constrained_output_is_valid_json_within_the_budget(peer):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "number"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    reply = await generate(
        peer,
        content="Which city is the capital of France, and how many people live there?",
        max_new_tokens=48,
        json_schema=json.dumps(schema),
    )
    assert reply.finish_reason == "stop"
    value = json.loads(reply.text)
    assert isinstance(value["city"], str) and isinstance(value["population"], int | float)


async def test_errors_map_to_status_codes(peer):
    with pytest.raises(InvalidArgument, match="json_schema is not valid JSON"):
        await generate(peer, json_schema="{oops")
    with pytest.raises(InvalidArgument, match="json_schema is not a valid JSON Schema"):
        await generate(peer, json_schema='{"type": "strnig"}')
    with pytest.raises(NotFound, match="adapter 'missing' not found"):
        await generate(peer, adapter_id="missing")
    with pytest.raises(InvalidArgument, match="role"):
        await peer.generate(
            generation_pb2.GenerateRequest(
                params=generation_pb2.GenerationParams(
                    messages=[generation_pb2.ChatMessage(role="robot", content="hi")]
                )
            )
        )
    with pytest.raises(InvalidArgument, match="max_new_tokens"):
        async for _ in peer.generate_stream(
            generation_pb2.GenerateStreamRequest(params=params(max_new_tokens=100_000)),
        ):
            pass
    with pytest.raises(TooLarge, match="prompt has"):
        await generate(peer, content="word " * 5000)


async def test_adapters_and_the_base_in_one_batch_match_each_served_alone(peer):
    asks = {
        adapter: {"content": "Describe a new company.", "adapter_id": adapter, "max_new_tokens": 24}
        for adapter in ("", *ADAPTERS)
    }
    alone = {adapter: (await generate(peer, **kw)).text for adapter, kw in asks.items()}
    together = await asyncio.gather(*(generate(peer, **kw) for kw in asks.values()))
    assert [reply.text for reply in together] == list(alone.values())
    assert len(set(alone.values())) == 3  # each adapter changes what the model says


async def test_cancelled_stream_stops_decoding(peer, service):
    story = params("Tell me a long story about a dragon.", max_new_tokens=64)
    before = (await peer.get_stats(generation_pb2.GetStatsRequest())).generated_tokens_total
    async with grpc.aio.insecure_channel(service.addr) as channel:
        call = generation_pb2_grpc.GenerationServiceStub(channel).GenerateStream(
            generation_pb2.GenerateStreamRequest(params=story)
        )
        async for _ in call:
            call.cancel()
            break
    reply = await generate(peer, max_new_tokens=4)
    assert reply.usage.completion_tokens == 4
    await asyncio.sleep(0.5)  # the engine's last step reaches its stat logger
    after = (await peer.get_stats(generation_pb2.GetStatsRequest())).generated_tokens_total
    assert 1 <= after - before - 4 < 40  # the story was aborted far before its 64 tokens


async def test_a_full_waiting_line_answers_resource_exhausted(peer):
    capacity = int(SERVICE_ENV["VERITAS_GENERATION_MAX_NUM_SEQS"]) + int(
        SERVICE_ENV["VERITAS_MAX_QUEUE_LENGTH"]
    )
    story = {"content": "Tell me a long story about a dragon.", "max_new_tokens": 64}
    replies = await asyncio.gather(
        *(generate(peer, **story) for _ in range(capacity + 2)), return_exceptions=True
    )
    rejected = [r for r in replies if isinstance(r, TooLarge)]
    assert len(rejected) == 2 and "queue is full" in str(rejected[0])
    assert all(isinstance(r, generation_pb2.GenerateResponse) for r in replies if r not in rejected)


async def test_get_stats_reports_the_engine_and_its_kv_cache(peer):
    await generate(peer, max_new_tokens=4)
    stats = await peer.get_stats(generation_pb2.GetStatsRequest())
    assert (stats.model, stats.engine) == ("SmolLM2-135M-Instruct", "vllm")
    space = float(SERVICE_ENV["VERITAS_GENERATION_KV_CACHE_GIB"]) * 2**30
    # Whole blocks of the configured space (SmolLM2-135M in float32: 30 layers x 3 KV heads x
    # 64 x 4 bytes x 2 for keys and values = 46,080 bytes a token).
    assert 0.9 * space < stats.kv_cache_total_bytes <= space
    assert stats.kv_cache_total_bytes % 46_080 == 0
    assert 0 <= stats.kv_cache_used_bytes <= stats.kv_cache_total_bytes
    assert stats.generated_tokens_total >= 4
    assert set(ADAPTERS) <= set(stats.adapters)


async def test_metrics_port_exports_vllm_series_beside_the_rpc_series(peer, service):
    await generate(peer, max_new_tokens=4, json_schema='{"type": "object"}')
    body = httpx.get(f"http://127.0.0.1:{service.metrics_port}/metrics").text
    for series in (
        "vllm:kv_cache_usage_perc",
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:inter_token_latency_seconds_bucket",
        "vllm:request_prefill_time_seconds_bucket",
        "vllm:request_decode_time_seconds_bucket",
        "vllm:request_queue_time_seconds_bucket",
        "vllm:e2e_request_latency_seconds_bucket",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:num_preemptions_total",
        "vllm:prefix_cache_queries_total",
        "vllm:prefix_cache_hits_total",
        # Prompt-lookup speculative decoding is on by default.
        "vllm:spec_decode_num_draft_tokens_total",
        "vllm:spec_decode_num_accepted_tokens_total",
        'veritas_rpc_requests_total{code="OK",method="Generate",service="generation"}',
        "veritas_generation_constrained_outputs_total",
    ):
        assert series in body, series


async def test_an_adapter_above_the_served_rank_is_a_failed_precondition(peer, service, data_dir):
    write_lora_adapter(
        data_dir / "adapters" / "wide", data_dir / "models" / EMBEDDED_CHECKPOINT, seed=3, rank=64
    )
    with pytest.raises(FailedPrecondition, match="rank 64"):
        await generate(peer, adapter_id="wide")
