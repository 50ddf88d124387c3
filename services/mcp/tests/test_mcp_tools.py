"""The tools through an in-process MCP client: schemas, results, the shared answer JSON, and
errors reported as tool errors."""

from __future__ import annotations

import json

import pytest
from mcp.client import Client
from mcp_fakes import sample_answer
from mcp_types import CallToolResult, TextContent
from prometheus_client import REGISTRY

from veritas.v1 import retrieval_pb2
from veritas_common.schemas import Answer, SearchResult
from veritas_mcp.config import McpSettings
from veritas_mcp.server import build_server


def text_of(result: CallToolResult) -> str:
    (block,) = result.content
    assert isinstance(block, TextContent)
    return block.text


def settings_for(addr: str) -> McpSettings:
    return McpSettings(agent_addr=addr, peer_retries=0, peer_timeout_s=2, tenant="acme")


async def test_lists_the_tools_with_their_parameters(agent):
    addr, _ = agent
    async with Client(build_server(settings_for(addr))) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {"search", "ask", "calculate"}
    search = tools["search"].input_schema
    assert search["required"] == ["query"]
    assert search["properties"]["top_k"]["default"] == 5
    assert search["properties"]["mode"]["enum"] == ["hybrid", "bm25", "dense"]
    assert search["properties"]["rerank"]["default"] is True
    assert set(tools["ask"].input_schema["properties"]) == {"question", "collection"}
    assert tools["calculate"].input_schema["required"] == ["expression"]
    for tool in tools.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint


async def test_search_returns_the_results_list(agent):
    addr, fake = agent
    async with Client(build_server(settings_for(addr))) as client:
        result = await client.call_tool(
            "search", {"query": " dose ", "top_k": 3, "collection": "labels", "mode": "bm25"}
        )
    assert not result.is_error
    results = result.structured_content["result"]
    assert [r["chunk_id"] for r in results] == ["lbl:0000", "lbl:0001", "lbl:0002"]
    assert set(results[0]) == set(SearchResult.model_fields)  # the gateway's /v1/search entry
    (request,) = fake.searches
    assert (request.query, request.top_k, request.collection) == ("dose", 3, "labels")
    assert request.mode == retrieval_pb2.SEARCH_MODE_BM25
    assert request.rerank and request.tenant == "acme"


async def test_ask_returns_the_same_json_as_the_gateway(agent):
    addr, fake = agent
    async with Client(build_server(settings_for(addr))) as client:
        result = await client.call_tool("ask", {"question": "What is the dose?"})
    assert not result.is_error
    expected = Answer.from_proto(sample_answer("What is the dose?")).model_dump(mode="json")
    assert result.structured_content == expected
    assert json.loads(text_of(result)) == expected
    (request,) = fake.asks
    assert request.caller == "mcp" and request.tenant == "acme"


async def test_calculate_returns_the_same_json_as_the_gateway(agent):
    addr, fake = agent
    program = "subtract(5829, 5735), divide(#0, 5735)"
    async with Client(build_server(settings_for(addr))) as client:
        result = await client.call_tool("calculate", {"expression": f"  {program} "})
    assert not result.is_error
    expected = {"value": 94 / 5735, "expression": program, "steps": [94.0, 94 / 5735]}
    assert result.structured_content == expected
    assert json.loads(text_of(result)) == expected
    (request,) = fake.calculations
    assert request.expression == program


async def test_each_call_has_its_own_request_id_forwarded_to_the_agent(agent):
    addr, fake = agent
    async with Client(build_server(settings_for(addr))) as client:
        await client.call_tool("ask", {"question": "q1"})
        await client.call_tool("search", {"query": "q2"})
    assert len(fake.request_ids) == 2
    assert all(len(rid) == 32 for rid in fake.request_ids)
    assert fake.request_ids[0] != fake.request_ids[1]


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("ask", {"question": "   "}, "question must not be empty"),
        ("search", {"query": ""}, "query must not be empty"),
        ("search", {"query": "x", "top_k": 500}, "top_k"),
        ("search", {"query": "x", "mode": "fuzzy"}, "mode"),
        ("ask", {"question": "bad question"}, "question names no document"),
        ("calculate", {"expression": " "}, "expression must not be empty"),
        ("calculate", {"expression": "1 / 0"}, "division by zero"),
    ],
)
async def test_bad_input_is_a_tool_error_with_a_message(agent, tool, arguments, message):
    addr, _ = agent
    async with Client(build_server(settings_for(addr))) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert message in text_of(result)


def _calls(tool: str, outcome: str) -> float:
    labels = {"tool": tool, "outcome": outcome}
    return REGISTRY.get_sample_value("veritas_mcp_tool_calls_total", labels) or 0.0


async def test_agent_down_is_a_tool_error_naming_the_agent():
    before = _calls("ask", "unavailable")
    async with Client(build_server(settings_for("127.0.0.1:1"))) as client:
        result = await client.call_tool("ask", {"question": "q"})
    assert result.is_error
    assert "agent service unavailable" in text_of(result)
    assert _calls("ask", "unavailable") == before + 1
