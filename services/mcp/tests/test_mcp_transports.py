"""`veritas-mcp` as a real process, reached by an MCP client session over stdio and over
streamable HTTP, against a fake agent."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from veritas_common.testing import free_port, wait_http_healthy

pytestmark = pytest.mark.integration


async def exercise(session: ClientSession) -> None:
    """What any MCP client does: initialise, list tools, call them."""
    init = await session.initialize()
    assert init.server_info.name == "veritas"
    names = {tool.name for tool in (await session.list_tools()).tools}
    assert names == {"search", "ask", "calculate"}
    found = await session.call_tool("search", {"query": "dose", "top_k": 2})
    assert not found.is_error, found.content
    assert [r["chunk_id"] for r in found.structured_content["result"]] == ["lbl:0000", "lbl:0001"]
    answer = await session.call_tool("ask", {"question": "What is the dose?"})
    assert not answer.is_error, answer.content
    body = answer.structured_content
    assert body["status"] == "ANSWERED"
    assert body["claims"][0]["citations"] == ["E1"]
    assert body["evidence"][0]["quote"].startswith("Zentrivex")
    program = "subtract(5829, 5735), divide(#0, 5735)"
    computed = await session.call_tool("calculate", {"expression": program})
    assert not computed.is_error, computed.content
    assert computed.structured_content["steps"] == [94.0, 94 / 5735]


def server_env(agent_addr: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "VERITAS_AGENT_ADDR": agent_addr, "VERITAS_PEER_RETRIES": "0", **extra}


async def test_stdio_session(agent, tmp_path: Path):
    addr, fake = agent
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "veritas_mcp", "--transport", "stdio"],
        env=server_env(addr),
        cwd=tmp_path,
    )
    # A session that works end to end also shows nothing but protocol reached stdout.
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await exercise(session)
    assert [a.question for a in fake.asks] == ["What is the dose?"]


@pytest.fixture
def http_server(agent, tmp_path: Path) -> Iterator[str]:
    addr, _ = agent
    port = free_port()
    log = (tmp_path / "mcp.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "veritas_mcp", "--transport", "http"],
        env=server_env(addr, VERITAS_PORT=str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


async def test_streamable_http_session(http_server, agent):
    await wait_http_healthy(http_server, "MCP server")
    async with (
        streamable_http_client(f"{http_server}/mcp") as (read, write),
        ClientSession(read, write) as session,
    ):
        await exercise(session)
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{http_server}/metrics")).text
    assert 'veritas_mcp_tool_calls_total{outcome="ok",tool="ask"} 1.0' in metrics
    assert 'veritas_mcp_tool_calls_total{outcome="ok",tool="search"} 1.0' in metrics
