"""A whole stack for tests: every service a real process on free ports."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from veritas_cli.stack import SERVICES, Stack
from veritas_common.settings import EMBEDDED_LLM_CHECKPOINT
from veritas_common.testing import free_port


@contextmanager
def running_stack(
    data_dir: Path, env: Mapping[str, str], *, repo: Path, timeout_s: float = 600
) -> Iterator[Stack]:
    """Starts every service with `env`, waits until all are SERVING, stops them on exit.
    Reuses the checkpoint `make models` converted under the repository's data folder, so
    tests do not convert the model again (first-start conversion has its own test)."""
    ports = {
        name: (free_port(), -1 if name in ("gateway", "mcp") else free_port()) for name in SERVICES
    }
    full_env = dict(env)
    converted = Path(os.environ.get("VERITAS_DATA_DIR", repo / ".veritas")) / "models"
    if (converted / EMBEDDED_LLM_CHECKPOINT / "config.json").exists():
        full_env.setdefault("VERITAS_GENERATION_MODEL", str(converted / EMBEDDED_LLM_CHECKPOINT))
    stack = Stack(data_dir, ports=ports, env=full_env)
    stack.start()
    try:
        stack.wait_serving(timeout_s=timeout_s)
        yield stack
    finally:
        stack.stop()
