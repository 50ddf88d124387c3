"""Domain errors (from peers or raised here) mapped to HTTP statuses, with `{"detail": ...}`."""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from veritas_common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PeerUnavailable,
    TooLarge,
    VeritasError,
)
from veritas_gateway.protocol import ErrorBody

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[VeritasError], int] = {
    InvalidArgument: 400,
    NotFound: 404,
    TooLarge: 413,
    FailedPrecondition: 503,
    PeerUnavailable: 503,
}

# Documented on every /v1 route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid input (e.g. a file that cannot be parsed)."},
    401: {"model": ErrorBody, "description": "Missing or invalid API key."},
    404: {"model": ErrorBody, "description": "Unknown document."},
    413: {"model": ErrorBody, "description": "Request body over the upload limit."},
    502: {"model": ErrorBody, "description": "A peer service failed."},
    503: {"model": ErrorBody, "description": "A peer service is unavailable; the detail names it."},
}


def http_status(exc: VeritasError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 502  # a peer failed in a way it did not explain: the gateway itself is fine


def detail_of(exc: VeritasError) -> str:
    if not isinstance(exc, PeerUnavailable):
        return exc.message
    # Name the peer; keep a downstream peer's name ("agent ...: generation service
    # unavailable") but not transport internals such as addresses.
    cause = exc.__cause__
    if isinstance(cause, grpc.aio.AioRpcError):
        if cause.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return f"{exc.peer} service unavailable: no reply before the deadline"
        details = cause.details() or ""
        if "service unavailable" in details:
            return f"{exc.peer} service unavailable: {details}"
    return f"{exc.peer} service unavailable"


async def _veritas_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VeritasError)
    status = http_status(exc)
    log_level = logging.WARNING if status >= 500 else logging.INFO
    log.log(log_level, "request failed", extra={"status": status, "error": exc.message})
    return JSONResponse(status_code=status, content={"detail": detail_of(exc)})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VeritasError, _veritas_error)
