"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from veritas_gateway.auth import ApiKeys
from veritas_gateway.config import GatewaySettings
from veritas_gateway.errors import install_error_handlers
from veritas_gateway.middleware import BodyLimitMiddleware, RequestContextMiddleware
from veritas_gateway.routers import ask, calculate, chat, documents, health, search, verify
from veritas_gateway.serving import GatewayService

DESCRIPTION = """\
Answers questions from the documents you give it, with claims that each cite the exact
character span they rest on. Unsupported claims are removed; with nothing supported the answer
is REFUSED. Every `/v1` route needs `Authorization: Bearer <API key>`.
"""


def create_app(settings: GatewaySettings) -> FastAPI:
    """Builds the gateway. Raises `ConfigError` when no API key is configured."""
    api_keys = ApiKeys(settings.tenant_by_key())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # gRPC channels belong to the event loop that serves requests, so they open here.
        app.state.service = GatewayService(settings)
        try:
            yield
        finally:
            await app.state.service.close()

    app = FastAPI(
        title="Veritas",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.api_keys = api_keys
    for module in (ask, search, verify, calculate, documents, chat, health):
        app.include_router(module.router)
    install_error_handlers(app)
    # The last added runs first: ids and metrics wrap everything, including 413s.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
