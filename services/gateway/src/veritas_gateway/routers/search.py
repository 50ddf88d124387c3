"""POST /v1/search: retrieval (and optional reranking) without answering."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from veritas_common import schemas
from veritas_gateway import protocol
from veritas_gateway.auth import CallerDep, require_caller
from veritas_gateway.dependencies import ServiceDep
from veritas_gateway.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/v1", tags=["search"], dependencies=[Depends(require_caller)], responses=ERROR_RESPONSES
)


@router.post("/search", response_model=schemas.SearchResponse)
async def search(body: protocol.SearchRequest, caller: CallerDep, service: ServiceDep) -> Any:
    """The chunks most relevant to a query, best first; each `text` equals the document's
    `text[char_start:char_end]`."""
    return await service.search(body, caller)
