"""POST /v1/ask: cited, verified answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from veritas_common import schemas
from veritas_gateway import protocol
from veritas_gateway.auth import CallerDep, require_caller
from veritas_gateway.dependencies import ServiceDep
from veritas_gateway.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/v1", tags=["ask"], dependencies=[Depends(require_caller)], responses=ERROR_RESPONSES
)


@router.post("/ask", response_model=schemas.Answer)
async def ask(body: protocol.AskRequest, caller: CallerDep, service: ServiceDep) -> Any:
    """Answers a question from the ingested documents. Every claim cites evidence down to the
    character span; unsupported claims are removed; with no supported claim the status is
    REFUSED and `refusal_reason` says why."""
    return await service.ask(body, caller)
