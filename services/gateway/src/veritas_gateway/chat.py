"""OpenAI-compatible chat completions, served by the generation service.

`POST /v1/chat/completions` and `GET /v1/models` speak OpenAI's wire format, so the official
clients and tools work unchanged: `model` names the served model or one of its LoRA adapters,
`response_format` with a JSON schema becomes constrained decoding, `stream: true` answers with
server-sent events. Unlike `/v1/ask`, nothing is retrieved, cited or verified: this is the model
alone.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from veritas.v1 import generation_pb2
from veritas_common.clients import GenerationClient
from veritas_common.errors import NotFound

CREATED_BY = "veritas"


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    json_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format of type json_schema needs its json_schema field")
        return self

    def schema_text(self) -> str:
        """The JSON Schema the completion must follow, empty for free text."""
        if self.type == "json_object":
            return json.dumps({"type": "object"})
        if self.type == "json_schema" and self.json_schema is not None:
            return json.dumps(self.json_schema.json_schema)
        return ""


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The fields of OpenAI's request that change the completion; other fields OpenAI defines
    (user, metadata, ...) are accepted and ignored."""

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    # 0 is unseeded, as in the generation service.
    seed: int | None = None
    stop: str | list[str] | None = None
    n: Literal[1] = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None

    def params(self, adapter_id: str) -> generation_pb2.GenerationParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return generation_pb2.GenerationParams(
            messages=[
                # The chat templates of the served models know "system", not OpenAI's newer
                # "developer" (which means the same).
                generation_pb2.ChatMessage(
                    role="system" if m.role == "developer" else m.role, content=m.text()
                )
                for m in self.messages
            ],
            max_new_tokens=self.max_completion_tokens or self.max_tokens or 0,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed or 0,
            json_schema=self.response_format.schema_text() if self.response_format else "",
            adapter_id=adapter_id,
            stop=stop,
        )


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_proto(cls, usage: generation_pb2.GenerationUsage) -> Usage:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.prompt_tokens + usage.completion_tokens,
        )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = CREATED_BY


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


def finish_reason(reason: str) -> Literal["stop", "length"]:
    """The service's reasons in OpenAI's words: a stop string is a "stop" there."""
    return "length" if reason == "length" else "stop"


class ChatService:
    """Chat completions and the model list, over the generation service."""

    def __init__(self, generation: GenerationClient) -> None:
        self.generation = generation

    async def models(self) -> ModelList:
        stats = await self.generation.get_stats(generation_pb2.GetStatsRequest())
        now = int(time.time())
        return ModelList(
            data=[Model(id=name, created=now) for name in (stats.model, *stats.adapters)]
        )

    async def adapter_for(self, model: str) -> str:
        """The adapter id a `model` names: empty for the served model itself."""
        stats = await self.generation.get_stats(generation_pb2.GetStatsRequest())
        if model == stats.model:
            return ""
        if model in stats.adapters:
            return model
        known = ", ".join((stats.model, *stats.adapters))
        raise NotFound(f"model {model!r} not found (available: {known})")

    async def complete(self, body: ChatCompletionRequest) -> ChatCompletion:
        params = body.params(await self.adapter_for(body.model))
        reply = await self.generation.generate(generation_pb2.GenerateRequest(params=params))
        return ChatCompletion(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=body.model,
            choices=[
                Choice(
                    message=AssistantMessage(content=reply.text),
                    finish_reason=finish_reason(reply.finish_reason),
                )
            ],
            usage=Usage.from_proto(reply.usage),
        )

    async def stream(self, body: ChatCompletionRequest) -> AsyncIterator[str]:
        """Server-sent events of `chat.completion.chunk`s, then `[DONE]`. The first message of
        the generation service is awaited before this returns, so a request it rejects fails
        with an HTTP status, not inside a 200 stream."""
        params = body.params(await self.adapter_for(body.model))
        replies = self.generation.generate_stream(
            generation_pb2.GenerateStreamRequest(params=params)
        )
        first = await anext(replies)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.model,
        }

        def event(delta: dict[str, str], reason: str | None, **extra: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": reason}
            return f"data: {json.dumps({**base, 'choices': [choice], **extra})}\n\n"

        async def events() -> AsyncIterator[str]:
            # A client that goes away closes this generator; closing the gRPC stream with it
            # aborts the request in the generation service at once.
            async with contextlib.aclosing(replies):
                yield event({"role": "assistant", "content": ""}, None)
                reply = first
                while True:
                    if reply.delta:
                        yield event({"content": reply.delta}, None)
                    if reply.finish_reason:
                        yield event({}, finish_reason(reply.finish_reason))
                        if include_usage:
                            usage = Usage.from_proto(reply.usage).model_dump()
                            yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
                        break
                    try:
                        reply = await anext(replies)
                    except StopAsyncIteration:
                        break
                yield "data: [DONE]\n\n"

        return events()
