"""VisionService: proto <-> domain translation only."""

from __future__ import annotations

import asyncio

import grpc

from veritas.v1 import vision_pb2, vision_pb2_grpc
from veritas_vision.ocr import ImageAnalyzer


class VisionServicer(vision_pb2_grpc.VisionServiceServicer):
    """Serves `Analyze`; inference runs in a worker thread so the event loop keeps serving."""

    def __init__(self, analyzer: ImageAnalyzer) -> None:
        self.analyzer = analyzer

    async def Analyze(
        self, request: vision_pb2.AnalyzeRequest, context: grpc.aio.ServicerContext
    ) -> vision_pb2.AnalyzeResponse:
        result = await asyncio.to_thread(self.analyzer.analyze, request.image)
        return vision_pb2.AnalyzeResponse(
            blocks=[
                vision_pb2.TextBlock(
                    text=block.text,
                    box=vision_pb2.BoundingBox(
                        x0=block.box.x0, y0=block.box.y0, x1=block.box.x1, y1=block.box.y1
                    ),
                    confidence=block.confidence,
                )
                for block in result.blocks
            ],
            width=result.width,
            height=result.height,
            model=result.model,
            caption=result.caption,
        )


def registrar(analyzer: ImageAnalyzer):
    """Returns the `register` callable `run_service`/`start_server` expect."""

    def register(server: grpc.aio.Server) -> list[str]:
        vision_pb2_grpc.add_VisionServiceServicer_to_server(VisionServicer(analyzer), server)
        return [vision_pb2.DESCRIPTOR.services_by_name["VisionService"].full_name]

    return register
