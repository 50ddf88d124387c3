"""POST /v1/verify: the claim verifier on its own, for evaluation and for clients that check
their own claims."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from veritas_common import schemas
from veritas_gateway import protocol
from veritas_gateway.auth import require_caller
from veritas_gateway.dependencies import ServiceDep
from veritas_gateway.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/v1", tags=["verify"], dependencies=[Depends(require_caller)], responses=ERROR_RESPONSES
)


@router.post("/verify", response_model=schemas.VerifyResponse)
async def verify(body: protocol.VerifyRequest, service: ServiceDep) -> Any:
    """Whether the evidence texts support the claim, judged by the verifier `/v1/ask` uses:
    SUPPORTED, UNSUPPORTED or CONTRADICTED, with a score in [0, 1] and the verifier's name."""
    return await service.verify(body)
