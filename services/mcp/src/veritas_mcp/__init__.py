"""Veritas MCP server: the agent's search and ask as MCP tools."""
