"""MCP server metrics, declared once; served at /metrics on the streamable HTTP transport."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TOOL_CALLS = Counter(
    "veritas_mcp_tool_calls_total",
    "MCP tool calls, by tool and outcome (ok, invalid, unavailable, error).",
    ["tool", "outcome"],
)

TOOL_DURATION = Histogram(
    "veritas_mcp_tool_duration_seconds",
    "Time to run an MCP tool call, including the agent's work.",
    ["tool"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
