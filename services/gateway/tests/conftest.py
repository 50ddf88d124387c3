"""Fixtures: the fake peers on real gRPC servers and a gateway client wired to them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from gateway_fakes import (
    FakeAgent,
    FakeIngestion,
    FakeServer,
    gateway_client,
    gateway_settings,
    start_fake,
)

from veritas.v1 import agent_pb2_grpc, ingestion_pb2_grpc


@pytest.fixture
async def agent() -> AsyncIterator[FakeServer]:
    fake = await start_fake("agent", FakeAgent(), agent_pb2_grpc.add_AgentServiceServicer_to_server)
    yield fake
    await fake.stop()


@pytest.fixture
async def ingestion() -> AsyncIterator[FakeServer]:
    fake = await start_fake(
        "ingestion", FakeIngestion(), ingestion_pb2_grpc.add_IngestionServiceServicer_to_server
    )
    yield fake
    await fake.stop()


@pytest.fixture
async def gateway(agent, ingestion) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client of a gateway whose peers are the two fakes."""
    async with gateway_client(gateway_settings(agent.addr, ingestion.addr)) as client:
        yield client
