"""Settings base: every service reads `VERITAS_*` environment variables through one class."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The embedded LLM, converted once into <data_dir>/models/<this folder> (generation converts it;
# the CLI's test stack reuses a converted one).
EMBEDDED_LLM_CHECKPOINT = "smollm2-135m-instruct"

# Loopback addresses of every service on the embedded default; Helm overrides them with
# Kubernetes Service names.
DEFAULT_PORTS: dict[str, int] = {
    "ingestion": 50051,
    "embedding": 50052,
    "retrieval": 50053,
    "rerank": 50054,
    "vision": 50055,
    "generation": 50056,
    "agent": 50057,
    "gateway": 8080,
    "mcp": 8090,
}


def default_addr(service: str) -> str:
    return f"127.0.0.1:{DEFAULT_PORTS[service]}"


def default_metrics_port(service: str) -> int:
    """9100 plus the last two digits of the gRPC port (ingestion 9151 ... agent 9157)."""
    return 9100 + DEFAULT_PORTS[service] % 100


class VeritasSettings(BaseSettings):
    """Settings every service shares. Subclasses add their own fields and peers (`*_addr`)."""

    model_config = SettingsConfigDict(env_prefix="VERITAS_", extra="ignore")

    # Directory for all state: index, audit database, converted models, logs.
    data_dir: Path = Field(default=Path(".veritas"))
    # Interface the gRPC server binds to; loopback on the embedded default.
    host: str = "127.0.0.1"
    # Port of the gRPC server (0 picks the service's default).
    port: int = 0
    # Port of the Prometheus /metrics endpoint (0 picks 9100 + last digits of the gRPC port,
    # -1 disables it).
    metrics_port: int = 0
    # Log level name.
    log_level: str = "INFO"
    # Seconds a graceful shutdown waits for in-flight RPCs.
    shutdown_grace_s: float = 5.0
    # Largest gRPC message accepted or sent, in bytes (documents travel in one message).
    max_message_bytes: int = 64 * 1024 * 1024
    # Default deadline for calls to peers, in seconds.
    peer_timeout_s: float = 30.0
    # Retries of a peer call that failed with UNAVAILABLE.
    peer_retries: int = 2

    def bind_port(self, service: str) -> int:
        return self.port or DEFAULT_PORTS[service]

    def bind_metrics_port(self, service: str) -> int:
        return self.metrics_port or default_metrics_port(service)
