"""CLI settings and the development API key."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from veritas_common.settings import DEFAULT_PORTS, VeritasSettings


class CliSettings(VeritasSettings):
    """Where the CLI finds the services it talks to (gRPC, loopback by default)."""

    # Added to every default port (gRPC, metrics, HTTP): runs a second stack beside another.
    port_offset: int = 0
    # Explicit addresses win over the defaults (and the offset).
    ingestion_addr: str = ""
    agent_addr: str = ""
    # Public URL of the gateway, printed for the user.
    gateway_url: str = ""
    # Comma-separated API keys; when empty, a development key is generated under data_dir.
    api_keys: str = ""

    def model_post_init(self, context: object, /) -> None:
        def port(service: str) -> int:
            return DEFAULT_PORTS[service] + self.port_offset

        self.ingestion_addr = self.ingestion_addr or f"127.0.0.1:{port('ingestion')}"
        self.agent_addr = self.agent_addr or f"127.0.0.1:{port('agent')}"
        self.gateway_url = self.gateway_url or f"http://127.0.0.1:{port('gateway')}"


def api_key(settings: CliSettings) -> tuple[str, bool]:
    """The key the gateway accepts and whether it is a generated development key."""
    if keys := [k.strip() for k in settings.api_keys.split(",") if k.strip()]:
        return keys[0], False
    path = settings.data_dir / "dev-api-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("vdev-" + secrets.token_urlsafe(24))
    return Path(path).read_text().strip(), True
