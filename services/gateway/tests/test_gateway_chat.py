"""The OpenAI-compatible routes, driven by the official `openai` client through the gateway app
to a fake generation service on a real gRPC server (the real engine: tests/integration)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from gateway_fakes import API_KEY, gateway_settings, start_fake

from veritas.v1 import generation_pb2, generation_pb2_grpc
from veritas_common.errors import InvalidArgument
from veritas_gateway.app import create_app

MODEL = "SmolLM2-135M-Instruct"


class FakeGeneration(generation_pb2_grpc.GenerationServiceServicer):
    """Echoes what it was asked, as JSON, in three deltas; remembers the last request."""

    def __init__(self) -> None:
        self.last: generation_pb2.GenerationParams | None = None

    def _text(self, params: generation_pb2.GenerationParams) -> str:
        if params.max_new_tokens > 1000:
            raise InvalidArgument("max_new_tokens 5000 exceeds this server's limit of 1024")
        self.last = params
        return json.dumps({"adapter": params.adapter_id, "said": params.messages[-1].content})

    async def Generate(self, request, context):
        text = self._text(request.params)
        return generation_pb2.GenerateResponse(
            text=text, finish_reason="stop_sequence", model=MODEL, usage=usage()
        )

    async def GenerateStream(self, request, context):
        text = self._text(request.params)
        third = len(text) // 3
        for piece in (text[:third], text[third : 2 * third]):
            yield generation_pb2.GenerateStreamResponse(delta=piece, model=MODEL)
        yield generation_pb2.GenerateStreamResponse(
            delta=text[2 * third :], finish_reason="length", model=MODEL, usage=usage()
        )

    async def GetStats(self, request, context):
        return generation_pb2.GetStatsResponse(
            model=MODEL, engine="vllm", adapters=["finance-v1", "medical-v1"]
        )


def usage() -> generation_pb2.GenerationUsage:
    return generation_pb2.GenerationUsage(prompt_tokens=11, completion_tokens=7)


@pytest.fixture
async def generation():
    fake = await start_fake(
        "generation", FakeGeneration(), generation_pb2_grpc.add_GenerationServiceServicer_to_server
    )
    yield fake
    await fake.stop()


@pytest.fixture
async def client(agent, ingestion, generation) -> AsyncIterator[openai.AsyncOpenAI]:
    settings = gateway_settings(agent.addr, ingestion.addr, generation_addr=generation.addr)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway/v1") as http,
    ):
        yield openai.AsyncOpenAI(
            api_key=API_KEY, base_url="http://gateway/v1", http_client=http, max_retries=0
        )


async def test_models_lists_the_served_model_and_its_adapters(client):
    models = await client.models.list()
    assert [m.id for m in models.data] == [MODEL, "finance-v1", "medical-v1"]
    assert {m.owned_by for m in models.data} == {"veritas"}


async def test_completion_maps_the_request_and_the_reply(client, generation):
    schema = {"type": "object", "properties": {"value": {"type": "number"}}}
    reply = await client.chat.completions.create(
        model="finance-v1",
        messages=[
            {"role": "developer", "content": "Answer in JSON."},
            {"role": "user", "content": [{"type": "text", "text": "Revenue?"}]},
        ],
        max_completion_tokens=40,
        temperature=0,
        seed=5,
        stop="\n\n",
        response_format={"type": "json_schema", "json_schema": {"name": "v", "schema": schema}},
    )
    assert json.loads(reply.choices[0].message.content) == {
        "adapter": "finance-v1",
        "said": "Revenue?",
    }
    assert reply.choices[0].finish_reason == "stop"  # a stop string is a "stop" for OpenAI
    assert reply.model == "finance-v1" and reply.id.startswith("chatcmpl-")
    assert (reply.usage.prompt_tokens, reply.usage.total_tokens) == (11, 18)
    sent = generation.servicer.last
    assert [(m.role, m.content) for m in sent.messages] == [
        ("system", "Answer in JSON."),
        ("user", "Revenue?"),
    ]
    assert (sent.max_new_tokens, sent.temperature, sent.seed, list(sent.stop)) == (
        40,
        0,
        5,
        ["\n\n"],
    )
    assert json.loads(sent.json_schema) == schema


async def test_the_served_model_name_is_the_base_model(client, generation):
    await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert generation.servicer.last.adapter_id == ""
    assert generation.servicer.last.json_schema == ""


async def test_json_object_asks_for_any_object(client, generation):
    await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(generation.servicer.last.json_schema) == {"type": "object"}


async def test_stream_sends_chunks_then_usage(client):
    stream = await client.chat.completions.create(
        model="medical-v1",
        messages=[{"role": "user", "content": "Dose?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text) == {"adapter": "medical-v1", "said": "Dose?"}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 7


async def test_unknown_model_is_404_naming_what_is_served(client):
    with pytest.raises(openai.NotFoundError, match="medical-v1"):
        await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )


async def test_a_rejected_stream_fails_with_a_status_not_inside_the_stream(client):
    with pytest.raises(openai.BadRequestError, match="max_new_tokens"):
        await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=5000, stream=True
        )


async def test_bad_requests_are_422_and_a_missing_key_is_401(client, agent, ingestion, generation):
    with pytest.raises(openai.UnprocessableEntityError):
        await client.chat.completions.create(model=MODEL, messages=[])
    with pytest.raises(openai.UnprocessableEntityError):
        await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            response_format={"type": "json_schema"},
        )
    settings = gateway_settings(agent.addr, ingestion.addr, generation_addr=generation.addr)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        assert (await http.get("/v1/models")).status_code == 401
