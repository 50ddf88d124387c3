"""CLI settings and the development API key."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from veritas_common.settings import VeritasSettings, default_addr


class CliSettings(VeritasSettings):
    """Where the CLI finds the services it talks to (gRPC, loopback by default)."""

    ingestion_addr: str = default_addr("ingestion")
    agent_addr: str = default_addr("agent")
    # Public URL of the gateway, printed for the user.
    gateway_url: str = "http://127.0.0.1:8080"
    # Comma-separated API keys; when empty, a development key is generated under data_dir.
    api_keys: str = ""


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
