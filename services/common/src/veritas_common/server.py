"""Async gRPC server bootstrap shared by every service.

Every service's `__main__` builds a `ServiceApp` (its servicers, warm-up and stop hooks) and
calls `run()`: `run_service` starts a grpc.aio server with the service interceptor, health and
reflection, a Prometheus /metrics port, warms the service up while health reports NOT_SERVING,
then flips to SERVING and waits for SIGTERM/SIGINT to shut down gracefully.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from veritas_common.interceptor import ServiceInterceptor
from veritas_common.logs import configure_logging
from veritas_common.settings import VeritasSettings

log = logging.getLogger(__name__)

# Registers servicers on the server and returns their full service names.
Registrar = Callable[[grpc.aio.Server], Iterable[str]]
# A step run in the server's event loop (warm-up before SERVING, clean-up after stopping).
Hook = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class ServiceApp:
    """One gRPC service as its `__main__` builds it. Building does no I/O: clients of peers
    open their channels on first use, models load in `warm_up` while health is NOT_SERVING."""

    name: str
    settings: VeritasSettings
    register: Registrar
    warm_up: Hook | None = None
    on_stop: Hook | None = None

    def run(self) -> None:
        run_service(self.name, self.settings, self.register, self.warm_up, self.on_stop)


def server_options(settings: VeritasSettings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
    ]


async def start_server(
    service: str, settings: VeritasSettings, register: Registrar
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, list[str], int]:
    """Builds and starts the server; health starts NOT_SERVING. Returns the bound port."""
    server = grpc.aio.server(
        interceptors=[ServiceInterceptor(service)], options=server_options(settings)
    )
    names = list(register(server))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection([*names, health_name, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(f"{settings.host}:{settings.bind_port(service)}")
    if port == 0:
        raise RuntimeError(f"{service}: cannot bind {settings.host}:{settings.bind_port(service)}")
    await server.start()
    return server, health_servicer, names, port


async def _serve(
    service: str,
    settings: VeritasSettings,
    register: Registrar,
    warm_up: Callable[[], Coroutine[Any, Any, None]] | None,
    on_stop: Callable[[], Coroutine[Any, Any, None]] | None,
) -> None:
    metrics_port = settings.bind_metrics_port(service)
    if metrics_port > 0:
        start_http_server(metrics_port, addr=settings.host)
    server, health_servicer, names, port = await start_server(service, settings, register)
    log.info("listening", extra={"port": port, "metrics_port": metrics_port})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    if warm_up is not None:
        warm = asyncio.create_task(warm_up())
        done, _ = await asyncio.wait(
            {warm, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        if warm in done:
            warm.result()  # a failed warm-up is fatal: exit non-zero with the traceback
    if not stop.is_set():
        for name in ["", *names]:
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving")
        await stop.wait()

    log.info("shutting down", extra={"grace_s": settings.shutdown_grace_s})
    await health_servicer.enter_graceful_shutdown()
    await server.stop(settings.shutdown_grace_s)
    if on_stop is not None:
        await on_stop()
    log.info("stopped")


def run_service(
    service: str,
    settings: VeritasSettings,
    register: Registrar,
    warm_up: Callable[[], Coroutine[Any, Any, None]] | None = None,
    on_stop: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Entry point of every gRPC service's `__main__`."""
    configure_logging(service, settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_serve(service, settings, register, warm_up, on_stop))
