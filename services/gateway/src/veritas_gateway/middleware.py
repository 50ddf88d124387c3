"""Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer and re-task every request).

`RequestContextMiddleware` gives each request its id, metrics, access log line and a JSON 500
for anything unhandled; `BodyLimitMiddleware` caps the request body as it streams in.
"""

from __future__ import annotations

import json
import logging
import re
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from veritas_common.logs import new_request_id, request_id_var
from veritas_gateway.metrics import HTTP_DURATION, HTTP_REQUESTS, UNMATCHED_ROUTE, UPLOADS_REJECTED

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# Ids travel on in gRPC metadata and log lines: accept only short, printable, unambiguous ones.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Probes and scrapes arrive every few seconds; their successes are logged at DEBUG only.
_PROBE_ROUTES = {"/healthz", "/readyz", "/metrics"}


async def send_json(send: Send, status: int, body: dict[str, object], headers=()) -> None:
    payload = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


class RequestContextMiddleware:
    """Request id (from X-Request-ID or new) into `request_id_var`, so `Peer` forwards it in
    gRPC metadata and logs carry it; echoed in the response. Counts and times every request by
    route template and writes one access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = offered if _VALID_REQUEST_ID.match(offered) else new_request_id()
        token = request_id_var.set(request_id)
        start = time.perf_counter()
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Never leak internals; the traceback goes to the log with the request id.
            log.exception("unhandled error")
            if not started:
                await send_json(
                    send,
                    500,
                    {"detail": "internal error"},
                    [(REQUEST_ID_HEADER.lower().encode(), request_id.encode())],
                )
            status = 500
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(elapsed)
            quiet = route in _PROBE_ROUTES and status < 400
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "http request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit. An HTTPException, so FastAPI's body
    parsing re-raises it instead of turning it into a generic 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the upload limit of {limit} bytes")


class BodyLimitMiddleware:
    """Rejects bodies over `max_bytes` with 413: at once when Content-Length says so, else as
    soon as the streamed bytes pass the limit. Nothing past the limit is kept. The rest of the
    body is read and discarded (up to `max_bytes` more) before answering, because a client
    still writing into a closed connection sees a reset instead of the 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            declared = int(headers.get("content-length", ""))
        except ValueError:
            declared = None
        if declared is not None and declared > self.max_bytes:
            UPLOADS_REJECTED.inc()
            # A client waiting for 100-continue has not sent the body: nothing to drain.
            if headers.get("expect", "").lower() != "100-continue":
                await self._drain(receive, 0)
            exc = BodyTooLarge(self.max_bytes)
            await send_json(send, 413, {"detail": exc.detail}, [(b"connection", b"close")])
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    UPLOADS_REJECTED.inc()
                    if message.get("more_body", False):
                        await self._drain(receive, received)
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)

    async def _drain(self, receive: Receive, already: int) -> None:
        drained = already
        while drained <= 2 * self.max_bytes:
            message = await receive()
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return
