"""POST /v1/calculate: the agent's calculator tool."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from veritas_common import schemas
from veritas_gateway import protocol
from veritas_gateway.auth import require_caller
from veritas_gateway.dependencies import ServiceDep
from veritas_gateway.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/v1",
    tags=["calculate"],
    dependencies=[Depends(require_caller)],
    responses=ERROR_RESPONSES,
)


@router.post("/calculate", response_model=schemas.CalculateResponse)
async def calculate(body: protocol.CalculateRequest, service: ServiceDep) -> Any:
    """Evaluates an arithmetic expression ("(3,233 - 2,977) / 2,977": thousands separators,
    `%`, parentheses, + - * /, unary minus) or a program, FinQA ("subtract(5829, 5735),
    divide(#0, 5735)") or ConvFinQA ("x0 = 60.94 - 25.14; ans = x0 / 25.14"). 400 with the
    reason for malformed input, division by zero or an unknown operation."""
    return await service.calculate(body)
