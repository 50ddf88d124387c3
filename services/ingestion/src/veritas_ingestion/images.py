"""Reading text from images: the `ImageReader` interface and its vision-service backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from veritas.v1 import vision_pb2
from veritas_common.clients import VisionClient


@dataclass(frozen=True)
class OcrLine:
    """One recognised text block with its box (pixels) and confidence."""

    text: str
    confidence: float
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class OcrPage:
    """Text blocks of one image, in reading order."""

    lines: list[OcrLine]
    width: int
    height: int
    model: str


class ImageReader(Protocol):
    async def read(self, image: bytes, mime_type: str) -> OcrPage:
        """Recognises the text of an encoded image."""
        ...


class VisionImageReader:
    """Sends images to `VisionService.Analyze`; its errors come back as domain errors that
    name the vision peer (undecodable image -> InvalidArgument, down -> PeerUnavailable)."""

    def __init__(self, client: VisionClient) -> None:
        self.client = client

    async def read(self, image: bytes, mime_type: str) -> OcrPage:
        reply = await self.client.analyze(
            vision_pb2.AnalyzeRequest(image=image, mime_type=mime_type)
        )
        return OcrPage(
            lines=[
                OcrLine(b.text, b.confidence, b.box.x0, b.box.y0, b.box.x1, b.box.y1)
                for b in reply.blocks
            ],
            width=reply.width,
            height=reply.height,
            model=reply.model,
        )
