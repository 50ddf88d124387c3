"""The service on vLLM's CUDA build, where a GPU is present (`make test-gpu`: the gpu-test lock):
the same requests as on the CPU, in bfloat16 on the GPU. Skipped on machines without CUDA."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from veritas.v1 import generation_pb2
from veritas_common.clients import GenerationClient
from veritas_common.testing import ServiceProcess

pytestmark = [pytest.mark.gpu, pytest.mark.slow, pytest.mark.integration]


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# `make test-gpu` sets it: there, a missing GPU is a failure, not a skip.
GPU_REQUIRED = os.environ.get("VERITAS_REQUIRE_GPU") == "1"


@pytest.mark.skipif(
    not GPU_REQUIRED and not cuda_available(),
    reason="no CUDA device (make test-gpu on a GPU machine)",
)
def test_generation_on_the_gpu(data_dir, tmp_path):
    assert cuda_available(), "no CUDA device: make test-gpu needs an NVIDIA GPU and its driver"
    env = {
        "VERITAS_DATA_DIR": str(data_dir),
        "VERITAS_GENERATION_GPU_MEMORY_UTILIZATION": "0.3",
        "VERITAS_GENERATION_DTYPE": "bfloat16",
    }
    process = ServiceProcess("generation", env, tmp_path)
    try:
        process.wait_serving(timeout_s=600)

        async def run() -> tuple[
            list[generation_pb2.GenerateResponse], generation_pb2.GetStatsResponse
        ]:
            peer = GenerationClient(process.addr, timeout_s=120)
            schema = {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            }
            asks = [
                generation_pb2.GenerationParams(
                    messages=[generation_pb2.ChatMessage(role="user", content=f"Name city {i}.")],
                    max_new_tokens=32,
                    json_schema=json.dumps(schema) if i % 2 else "",
                    adapter_id="finance-v1" if i % 3 == 0 else "",
                )
                for i in range(32)
            ]
            try:
                replies = await asyncio.gather(
                    *(peer.generate(generation_pb2.GenerateRequest(params=p)) for p in asks)
                )
                return list(replies), await peer.get_stats(generation_pb2.GetStatsRequest())
            finally:
                await peer.close()

        replies, stats = asyncio.run(run())
        assert all(r.usage.completion_tokens > 0 for r in replies)
        assert all("city" in json.loads(r.text) for r in replies[1::2])
        assert stats.engine == "vllm" and stats.kv_cache_total_bytes > 2**30
    finally:
        process.stop()
