"""Liveness, readiness and Prometheus metrics; no authentication (probes and scrapers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from veritas_gateway import protocol
from veritas_gateway.dependencies import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving HTTP."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=protocol.ReadyBody,
    responses={503: {"model": protocol.NotReadyBody, "description": "A peer is not SERVING."}},
)
async def readyz(service: ServiceDep) -> Any:
    """Ready when every peer (agent, ingestion) reports SERVING on gRPC health."""
    peers = await service.peer_health()
    unavailable = [name for name, state in peers.items() if state != "SERVING"]
    if unavailable:
        detail = "not ready: " + ", ".join(f"{name} {peers[name]}" for name in unavailable)
        return JSONResponse(status_code=503, content={"detail": detail, "unavailable": unavailable})
    return {"status": "ready", "peers": peers}


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus text exposition of the gateway's metrics."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
