"""Helpers for tests: real service processes on free ports, and in-process embeddings."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from veritas_common.client import wait_healthy
from veritas_common.clients import Embeddings

# Below Linux's ephemeral range (32768-60999 by default), from which every outgoing connection
# takes its local port: a port handed out from there (as binding port 0 does) can be taken by
# a client socket of a running service before the test's server binds it.
_PORT_RANGE = (20000, 32000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, not handed out before in this process."""
    rng = random.Random()
    for _ in range(500):
        port = rng.randint(*_PORT_RANGE)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {_PORT_RANGE[0]}-{_PORT_RANGE[1]}")


class ServiceProcess:
    """A service started as `python -m veritas_<name>` on free ports; stop() kills its group."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.metrics_port = free_port()
        self.log_path = log_dir / f"{name}.log"
        full_env = {
            **os.environ,
            **env,
            "VERITAS_PORT": str(self.port),
            "VERITAS_METRICS_PORT": str(self.metrics_port),
        }
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"veritas_{name}"],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_serving(self, timeout_s: float = 120.0) -> None:
        """Waits for health SERVING; fails at once, with the log's tail, if the process exits."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                asyncio.run(wait_healthy(self.name, self.addr, min(5.0, timeout_s)))
                return
            except Exception as exc:
                if self.proc.poll() is None and time.monotonic() < deadline:
                    continue
                tail = self.log_path.read_text()[-3000:]
                raise RuntimeError(f"{self.name} did not start: {tail}") from exc

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


async def wait_http_healthy(base: str, name: str, timeout_s: float = 30.0) -> None:
    """Waits until `GET {base}/healthz` answers 200 (the gateway's and the MCP server's probe)."""
    import httpx  # a test dependency; services that never call this need not install it

    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{name} at {base} did not come up")


def embeddings(vectors: Sequence[Sequence[float]], model: str = "fake") -> Embeddings:
    """`Embeddings` of in-process vectors, as a fake `TextEmbedder` returns them."""
    array = np.asarray(vectors, dtype=np.float32)
    return Embeddings(array, model, array.shape[1] if array.ndim == 2 else 0)


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """A benchmark's `--variant NAME:VAR=VALUE,VAR=VALUE` -> (NAME, {VAR: VALUE})."""
    name, _, assignments = text.partition(":")
    env = dict(item.split("=", 1) for item in assignments.split(",") if "=" in item)
    if not name or not env:
        raise argparse.ArgumentTypeError(f"--variant {text!r}: use NAME:VAR=VALUE[,VAR=VALUE]")
    return name, env
