"""MCP server settings, read from `VERITAS_*` environment variables."""

from __future__ import annotations

from pydantic import Field

from veritas_common.settings import VeritasSettings, default_addr


class McpSettings(VeritasSettings):
    """Settings of the MCP server. `port` 0 means 8090 (streamable HTTP transport only)."""

    # Address of the agent service (Ask, Search).
    agent_addr: str = default_addr("agent")
    # Tenant whose documents the tools search and answer from.
    tenant: str = "default"
    # Identity recorded in the audit log for answers given through MCP.
    caller: str = "mcp"
    # Deadline for one Ask, in seconds (answering runs a model); Search uses peer_timeout_s.
    ask_timeout_s: float = Field(default=120.0, gt=0)
    # URL path of the streamable HTTP endpoint.
    http_path: str = "/mcp"
