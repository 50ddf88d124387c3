"""Calls to peer services: deadlines, bounded retries on UNAVAILABLE, request-id propagation,
and statuses mapped back to domain errors that name the peer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any, Generic, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from veritas_common.errors import PeerUnavailable, from_status
from veritas_common.logs import REQUEST_ID_KEY, new_request_id, request_id_var

StubT = TypeVar("StubT")


def channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]


def _metadata() -> tuple[tuple[str, str], ...]:
    return ((REQUEST_ID_KEY, request_id_var.get() or new_request_id()),)


class Peer(Generic[StubT]):
    """The transport to one peer service (e.g. `Peer("embedding", addr, EmbeddingServiceStub)`);
    callers use the typed clients of `veritas_common.clients`, built on it.

    The channel opens on first use, in the running event loop: grpc.aio channels belong to the
    loop that created them, so a peer built before the loop runs (or used from another loop,
    as tests do) opens its own channel there."""

    def __init__(
        self,
        name: str,
        addr: str,
        stub_cls: type[StubT],
        *,
        timeout_s: float = 30.0,
        retries: int = 2,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.name = name
        self.addr = addr
        self.timeout_s = timeout_s
        self.retries = retries
        self._stub_cls = stub_cls
        self._options = channel_options(max_message_bytes)
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stub: StubT | None = None

    @property
    def stub(self) -> StubT:
        loop = asyncio.get_running_loop()
        if self._stub is None or self._loop is not loop:
            self._channel = grpc.aio.insecure_channel(self.addr, options=self._options)
            self._stub = self._stub_cls(self._channel)  # type: ignore[call-arg]
            self._loop = loop
        return self._stub

    async def call(self, method: str, request: Any, *, timeout_s: float | None = None) -> Any:
        """Unary call; retries UNAVAILABLE with backoff, then raises `PeerUnavailable`."""
        rpc = getattr(self.stub, method)
        for attempt in range(self.retries + 1):
            try:
                return await rpc(request, timeout=timeout_s or self.timeout_s, metadata=_metadata())
            except grpc.aio.AioRpcError as err:
                if err.code() == grpc.StatusCode.UNAVAILABLE and attempt < self.retries:
                    await asyncio.sleep(0.1 * 2**attempt)
                    continue
                raise from_status(err.code(), err.details() or "", self.name) from err
        raise AssertionError("unreachable")

    async def stream(
        self, method: str, request: Any, *, timeout_s: float | None = None
    ) -> AsyncGenerator[Any, None]:
        """Server-streaming (or bidi, when `request` is an async iterator) call; no retries
        once messages have flowed."""
        rpc = getattr(self.stub, method)
        try:
            async for response in rpc(
                request, timeout=timeout_s or self.timeout_s, metadata=_metadata()
            ):
                yield response
        except grpc.aio.AioRpcError as err:
            raise from_status(err.code(), err.details() or "", self.name) from err

    async def close(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None and self._loop is asyncio.get_running_loop():
            await channel.close()


async def check_health(addr: str, timeout_s: float = 1.0) -> str:
    """Health status name of the server at `addr` ("SERVING", "NOT_SERVING", "UNREACHABLE")."""
    async with grpc.aio.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
        except grpc.aio.AioRpcError:
            return "UNREACHABLE"
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


async def wait_healthy(name: str, addr: str, timeout_s: float) -> None:
    """Waits until the server at `addr` reports SERVING; raises `PeerUnavailable` on timeout."""
    deadline = time.monotonic() + timeout_s
    status = "UNREACHABLE"
    while time.monotonic() < deadline:
        status = await check_health(addr)
        if status == "SERVING":
            return
        await asyncio.sleep(0.2)
    raise PeerUnavailable(name, f"not SERVING after {timeout_s:.0f}s (last: {status})")
