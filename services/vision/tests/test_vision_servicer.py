"""VisionService over a real grpc.aio server with the real OCR engine."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from vision_engine import loaded_analyzer

from veritas.v1 import vision_pb2, vision_pb2_grpc
from veritas_common.server import start_server
from veritas_common.testing import free_port
from veritas_vision.config import VisionSettings
from veritas_vision.ocr import RapidOcrAnalyzer
from veritas_vision.servicer import registrar

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


@pytest.fixture
def analyzer() -> RapidOcrAnalyzer:
    """The real engine (loaded on first use, a few seconds)."""
    return loaded_analyzer()


@pytest.fixture
async def stub(analyzer):
    settings = VisionSettings(port=free_port(), metrics_port=-1)
    server, _health, _names, port = await start_server("vision", settings, registrar(analyzer))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield vision_pb2_grpc.VisionServiceStub(channel)
    await server.stop(0)


@pytest.mark.slow
async def test_analyze_returns_blocks_with_boxes_and_model(stub):
    image = (SAMPLES / "lab-report-2024-09-14.png").read_bytes()
    reply = await stub.Analyze(vision_pb2.AnalyzeRequest(image=image, mime_type="image/png"))
    assert (reply.width, reply.height) == (1100, 520)
    assert reply.model.startswith("rapidocr-")
    glucose = next(b for b in reply.blocks if b.text.startswith("Glucose"))
    assert "98 mg/dL" in glucose.text and glucose.confidence > 0.5
    assert glucose.box.x1 > glucose.box.x0 and glucose.box.y1 > glucose.box.y0


@pytest.mark.slow
async def test_undecodable_image_is_invalid_argument(stub):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Analyze(vision_pb2.AnalyzeRequest(image=b"%PDF-1.7 not an image"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot decode image" in (err.value.details() or "")


async def test_analyze_before_warm_up_is_failed_precondition():
    settings = VisionSettings(port=free_port(), metrics_port=-1)
    server, _h, _n, port = await start_server("vision", settings, registrar(RapidOcrAnalyzer()))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await vision_pb2_grpc.VisionServiceStub(channel).Analyze(
                vision_pb2.AnalyzeRequest(image=b"x")
            )
    await server.stop(0)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
