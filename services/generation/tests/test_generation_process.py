"""`python -m veritas_generation` as a real process: health, a request, and /metrics."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from veritas.v1 import generation_pb2
from veritas_common.clients import GenerationClient
from veritas_common.testing import ServiceProcess

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def metrics_port(process: ServiceProcess) -> int:
    for line in process.log_path.read_text().splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("msg") == "listening":
            return int(entry["metrics_port"])
    raise AssertionError("no 'listening' log line")


def test_service_process_serves_generation_and_metrics(data_dir, tmp_path):
    process = ServiceProcess(
        "generation",
        {"VERITAS_DATA_DIR": str(data_dir), "VERITAS_MAX_NEW_TOKENS_LIMIT": "32"},
        tmp_path,
    )
    try:
        process.wait_serving(timeout_s=120)

        async def ask() -> generation_pb2.GenerateResponse:
            peer = GenerationClient(process.addr, timeout_s=60)
            messages = [generation_pb2.ChatMessage(role="user", content="Say hello.")]
            request = generation_pb2.GenerateRequest(
                params=generation_pb2.GenerationParams(messages=messages, max_new_tokens=6)
            )
            try:
                return await peer.generate(request)
            finally:
                await peer.close()

        reply = asyncio.run(ask())
        assert reply.text and reply.usage.completion_tokens > 0
        body = httpx.get(f"http://127.0.0.1:{metrics_port(process)}/metrics").text
        assert 'veritas_generation_tokens_total{kind="completion"}' in body
        assert "veritas_generation_prefill_seconds_bucket" in body
        assert "veritas_generation_kv_cache_used_bytes" in body
        assert (
            'veritas_rpc_requests_total{code="OK",method="Generate",service="generation"}' in body
        )
    finally:
        process.stop()
