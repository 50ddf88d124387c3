"""OpenAI-compatible POST /v1/chat/completions and GET /v1/models (veritas_gateway.chat)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, StreamingResponse

from veritas_common.errors import VeritasError
from veritas_gateway.auth import require_caller
from veritas_gateway.chat import ChatCompletion, ChatCompletionRequest, ModelList
from veritas_gateway.dependencies import ServiceDep
from veritas_gateway.errors import ERROR_RESPONSES, detail_of, http_status

router = APIRouter(
    prefix="/v1", tags=["openai"], dependencies=[Depends(require_caller)], responses=ERROR_RESPONSES
)


async def openai_errors(result: Awaitable[Any]) -> Any:
    """Errors in OpenAI's shape, `{"error": {"message", "type", "code"}}`, which its clients
    read the message from."""
    try:
        return await result
    except VeritasError as exc:
        status = http_status(exc)
        kind = "invalid_request_error" if status < 500 else "server_error"
        error = {"message": detail_of(exc), "type": kind, "param": None, "code": exc.code.name}
        return JSONResponse(status_code=status, content={"error": error})


@router.post("/chat/completions", response_model=ChatCompletion)
async def chat_completions(body: ChatCompletionRequest, service: ServiceDep) -> Any:
    """A completion from the served model, or from a LoRA adapter named as `model`, in OpenAI's
    format; `stream: true` answers with server-sent events. Nothing is retrieved or cited:
    for answers from the documents use /v1/ask."""
    if not body.stream:
        return await openai_errors(service.chat.complete(body))
    events = await openai_errors(service.chat.stream(body))
    if isinstance(events, JSONResponse):
        return events
    return StreamingResponse(events, media_type="text/event-stream")


@router.get("/models", response_model=ModelList)
async def models(service: ServiceDep) -> Any:
    """The served model and its LoRA adapters, each usable as `model`."""
    return await openai_errors(service.chat.models())
