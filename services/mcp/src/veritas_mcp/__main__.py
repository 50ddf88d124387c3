"""`veritas-mcp --transport stdio|http`: the MCP server on stdin/stdout, or on streamable HTTP
at http://VERITAS_HOST:VERITAS_PORT/mcp (127.0.0.1:8090 by default)."""

from __future__ import annotations

import argparse

import uvicorn

from veritas_common.logs import configure_logging
from veritas_mcp.config import McpSettings
from veritas_mcp.server import build_server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="veritas-mcp", description=__doc__)
    parser.add_argument(
        "--transport",
        choices=["stdio", "http"],
        default="stdio",
        help="stdio (for a client that launches the server) or streamable HTTP",
    )
    args = parser.parse_args(argv)
    settings = McpSettings()
    server = build_server(settings)
    # After building the server: the SDK installs its own handler, ours replaces it. Logs go
    # to stderr, which keeps stdout for the protocol on the stdio transport.
    configure_logging("mcp", settings.log_level)
    if args.transport == "stdio":
        server.run("stdio")
        return
    app = server.streamable_http_app(streamable_http_path=settings.http_path, host=settings.host)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.bind_port("mcp"),
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
    )


if __name__ == "__main__":
    main()
