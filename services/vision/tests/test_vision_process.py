"""`python -m veritas_vision` loads the engine during warm-up, turns SERVING and reads text."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from veritas.v1 import vision_pb2, vision_pb2_grpc
from veritas_common.testing import ServiceProcess

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


@pytest.mark.integration
@pytest.mark.slow
async def test_process_serves_ocr(tmp_path):
    process = ServiceProcess(
        "vision", {"VERITAS_DATA_DIR": str(tmp_path), "VERITAS_OCR_THREADS": "2"}, tmp_path
    )
    try:
        await asyncio.to_thread(process.wait_serving, 120)
        async with grpc.aio.insecure_channel(process.addr) as channel:
            reply = await vision_pb2_grpc.VisionServiceStub(channel).Analyze(
                vision_pb2.AnalyzeRequest(
                    image=(SAMPLES / "lab-report-2024-09-14.png").read_bytes()
                )
            )
        assert any(b.text.startswith("Glucose 98") for b in reply.blocks)
    finally:
        process.stop()
