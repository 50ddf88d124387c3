"""Gateway settings, read from `VERITAS_*` environment variables."""

from __future__ import annotations

from pydantic import Field

from veritas_common.settings import DEFAULT_PORTS, VeritasSettings, default_addr

DEFAULT_TENANT = "default"


class ConfigError(ValueError):
    """The gateway cannot start with these settings."""


class GatewaySettings(VeritasSettings):
    """Settings of the HTTP gateway. `port` 0 means 8080."""

    # Address of the agent service (Ask, Search).
    agent_addr: str = default_addr("agent")
    # Address of the ingestion service (Ingest, Get/List/DeleteDocument).
    ingestion_addr: str = default_addr("ingestion")
    # Address of the generation service (the OpenAI-compatible /v1/chat/completions, /v1/models).
    generation_addr: str = default_addr("generation")
    # Comma-separated API keys (VERITAS_API_KEYS). An entry `tenant:key` scopes the key to a
    # tenant; a bare `key` belongs to the "default" tenant. Empty refuses to start.
    api_keys: str = ""
    # Largest request body accepted, in bytes (uploads included); larger gets 413.
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    # Deadline for one Ask, in seconds: answering runs a model, so it may take longer than
    # the other peer calls (which use peer_timeout_s).
    ask_timeout_s: float = Field(default=120.0, gt=0)
    # Deadline for one chat completion (or stream), in seconds.
    generation_timeout_s: float = Field(default=120.0, gt=0)
    # Deadline for one upload to be parsed, chunked and indexed, in seconds (OCR is slow).
    ingest_timeout_s: float = Field(default=600.0, gt=0)
    # Deadline of each peer health check behind /readyz, in seconds.
    ready_timeout_s: float = Field(default=1.0, gt=0)

    def bind_http_port(self) -> int:
        return self.port or DEFAULT_PORTS["gateway"]

    def tenant_by_key(self) -> dict[str, str]:
        """API key -> tenant. Raises `ConfigError` when no key is configured."""
        keys: dict[str, str] = {}
        for entry in self.api_keys.split(","):
            entry = entry.strip()
            if not entry:
                continue
            tenant, sep, key = entry.partition(":")
            if not sep:
                tenant, key = DEFAULT_TENANT, entry
            if not tenant.strip() or not key.strip():
                raise ConfigError("malformed VERITAS_API_KEYS entry (want key or tenant:key)")
            keys[key.strip()] = tenant.strip()
        if not keys:
            raise ConfigError(
                "VERITAS_API_KEYS is empty: the gateway refuses to serve without API keys "
                "(`veritas up` generates a development key)"
            )
        return keys
