"""`python -m veritas_gateway` as a real process behind uvicorn: it serves on its port, rejects
oversized uploads over a real socket with a readable 413, and refuses to start without keys."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from gateway_fakes import API_KEY

from veritas_common.testing import free_port, wait_http_healthy

pytestmark = pytest.mark.integration

LIMIT = 200_000


@pytest.fixture
def gateway_process(agent, ingestion, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "VERITAS_PORT": str(port),
        "VERITAS_API_KEYS": API_KEY,
        "VERITAS_MAX_UPLOAD_BYTES": str(LIMIT),
        "VERITAS_AGENT_ADDR": agent.addr,
        "VERITAS_INGESTION_ADDR": ingestion.addr,
        "VERITAS_DATA_DIR": str(tmp_path),
    }
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "veritas_gateway"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


async def test_serves_and_rejects_oversized_uploads_readably(gateway_process, ingestion):
    base = gateway_process
    await wait_http_healthy(base, "gateway")
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Request-ID": "proc-1"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        ok = await client.post("/v1/documents", files=[("file", ("a.txt", b"hello world"))])
        assert ok.status_code == 200, ok.text
        assert ok.headers["x-request-id"] == "proc-1"
        assert (await client.get("/readyz")).status_code == 200

        # Declared too large (Content-Length), body still being written by the client.
        big = b"a" * (LIMIT * 3 // 2)
        reply = await client.post("/v1/documents", files=[("file", ("big.txt", big))])
        assert reply.status_code == 413
        assert str(LIMIT) in reply.json()["detail"]

        # Chunked, no Content-Length: cut off while streaming.
        async def chunks() -> AsyncIterator[bytes]:
            yield (
                b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="s.txt"'
                b"\r\nContent-Type: text/plain\r\n\r\n"
            )
            for _ in range(30):
                yield b"b" * 10_000

        reply = await client.post(
            "/v1/documents",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        )
        assert reply.status_code == 413
    assert [r.source for r in ingestion.servicer.received] == ["a.txt"]


def test_refuses_to_start_without_api_keys(tmp_path):
    env = {**os.environ, "VERITAS_API_KEYS": "", "VERITAS_PORT": str(free_port())}
    done = subprocess.run(
        [sys.executable, "-m", "veritas_gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "VERITAS_API_KEYS is empty" in done.stderr
