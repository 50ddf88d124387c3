"""Fixtures: a fake agent on a real gRPC server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp_fakes import FakeAgent, start_fake_agent


@pytest.fixture
async def agent() -> AsyncIterator[tuple[str, FakeAgent]]:
    addr, server, fake = await start_fake_agent()
    yield addr, fake
    await server.stop(0)
