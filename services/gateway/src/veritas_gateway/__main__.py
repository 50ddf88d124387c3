"""`veritas-gateway`: serves the HTTP API with uvicorn on VERITAS_HOST:VERITAS_PORT (8080)."""

from __future__ import annotations

import sys

import uvicorn

from veritas_common.logs import configure_logging
from veritas_gateway.app import create_app
from veritas_gateway.config import ConfigError, GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level)
    try:
        app = create_app(settings)
    except ConfigError as err:
        sys.exit(f"veritas-gateway: {err}")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.bind_http_port(),
        # Our JSON handler on the root logger; our middleware writes the access lines.
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
    )


if __name__ == "__main__":
    main()
