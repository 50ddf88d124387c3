"""One server interceptor: request ids, domain-error mapping and RPC metrics.

Servicers stay thin: they raise `VeritasError` subclasses and this maps them to status codes;
anything else becomes INTERNAL with the traceback logged, never leaked to the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from veritas_common.errors import VeritasError
from veritas_common.logs import REQUEST_ID_KEY, new_request_id, request_id_var
from veritas_common.metrics import RPC_DURATION, RPC_REQUESTS

log = logging.getLogger(__name__)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every handler of a service; see the module docstring."""

    def __init__(self, service: str) -> None:
        self.service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        metadata = dict(handler_call_details.invocation_metadata or ())
        request_id = str(metadata.get(REQUEST_ID_KEY) or new_request_id())
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, method, request_id), **kwargs
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(handler.stream_unary, method, request_id), **kwargs
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(handler.unary_stream, method, request_id), **kwargs
            )
        return grpc.stream_stream_rpc_method_handler(
            self._streaming(handler.stream_stream, method, request_id), **kwargs
        )

    def _unary(self, behavior: Any, method: str, request_id: str) -> Any:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            request_id_var.set(request_id)
            start = time.perf_counter()
            code: grpc.StatusCode | None = grpc.StatusCode.OK
            try:
                return await behavior(request, context)
            except Exception as exc:  # every error is mapped and re-raised
                # Counted before the status reaches the caller, who may read the metrics next.
                self._observe(method, status_of(exc, context), start)
                code = None
                await self._abort(exc, context, method)
            finally:
                if code is not None:
                    self._observe(method, code, start)

        return wrapper

    def _streaming(self, behavior: Any, method: str, request_id: str) -> Any:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            request_id_var.set(request_id)
            start = time.perf_counter()
            code: grpc.StatusCode | None = grpc.StatusCode.OK
            try:
                async for response in behavior(request, context):
                    yield response
            except Exception as exc:
                self._observe(method, status_of(exc, context), start)
                code = None
                await self._abort(exc, context, method)
            finally:
                if code is not None:
                    self._observe(method, code, start)

        return wrapper

    async def _abort(
        self, exc: Exception, context: grpc.aio.ServicerContext, method: str
    ) -> grpc.StatusCode:
        """Aborts the RPC with the status `exc` maps to. Raises; the return type only tells
        callers what the status was when they catch it."""
        if isinstance(exc, grpc.aio.AbortError):
            raise exc  # the servicer aborted on its own and set its status
        if isinstance(exc, VeritasError):
            if exc.code == grpc.StatusCode.UNAVAILABLE:
                log.warning("peer unavailable", extra={"method": method, "error": exc.message})
            await context.abort(exc.code, exc.message)
        log.exception("unhandled error", extra={"method": method})
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {self.service}.{method}")
        raise AssertionError("unreachable")

    def _observe(self, method: str, code: grpc.StatusCode, start: float) -> None:
        RPC_REQUESTS.labels(self.service, method, code.name).inc()
        RPC_DURATION.labels(self.service, method).observe(time.perf_counter() - start)


def status_of(exc: Exception, context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The status code an exception ends the RPC with."""
    if isinstance(exc, grpc.aio.AbortError):
        return context.code() or grpc.StatusCode.UNKNOWN
    if isinstance(exc, VeritasError):
        return exc.code
    return grpc.StatusCode.INTERNAL
