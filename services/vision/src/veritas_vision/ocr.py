"""Text recognition in images: the `ImageAnalyzer` interface and its RapidOCR backend.

Images are decoded here (not by the engine) so that undecodable or oversized input becomes a
clear `InvalidArgument` / `TooLarge` before any model runs.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from veritas_common.errors import FailedPrecondition, InvalidArgument, TooLarge
from veritas_vision.metrics import OCR_DURATION, TEXT_BLOCKS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in image pixels."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True)
class TextBlock:
    """One recognised line of text."""

    text: str
    box: Box
    confidence: float


@dataclass(frozen=True)
class ImageAnalysis:
    """Text blocks of one image, in reading order."""

    blocks: list[TextBlock]
    width: int
    height: int
    model: str
    caption: str = ""


class ImageAnalyzer(Protocol):
    """Reads text from encoded image bytes."""

    model: str

    def warm_up(self) -> None:
        """Loads the models; called once before serving."""

    def analyze(self, image: bytes) -> ImageAnalysis:
        """Recognises the text blocks of `image` (PNG, JPEG, ...) in reading order."""
        ...


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """Decodes `data` into an RGB image, honouring EXIF orientation; raises `InvalidArgument`
    for bytes that are not an image and `TooLarge` above `max_pixels`."""
    if not data:
        raise InvalidArgument("image is empty")
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        # The header is enough to know the size: refuse huge images before decoding pixels.
        if image.width * image.height > max_pixels:
            raise TooLarge(
                f"image is {image.width}x{image.height} pixels, above the limit of {max_pixels}"
            )
        image.load()
    except Image.DecompressionBombError as exc:
        raise TooLarge(f"image is too large to decode: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidArgument(f"cannot decode image: {exc}") from exc
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels are usually black underneath; OCR needs them as background.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def reading_order(blocks: list[TextBlock]) -> list[TextBlock]:
    """Orders blocks top-to-bottom by line, then left-to-right within a line.

    Blocks belong to the same line when their vertical extents overlap by more than half the
    smaller height; detectors return lines in no guaranteed order, and boxes of one line often
    differ by a few pixels vertically."""
    lines: list[list[TextBlock]] = []
    line_top = line_bottom = 0.0
    for block in sorted(blocks, key=lambda b: (b.box.y0 + b.box.y1) / 2):
        if lines:
            overlap = min(line_bottom, block.box.y1) - max(line_top, block.box.y0)
            smaller = min(line_bottom - line_top, block.box.height)
            if smaller > 0 and overlap > 0.5 * smaller:
                lines[-1].append(block)
                line_top = min(line_top, block.box.y0)
                line_bottom = max(line_bottom, block.box.y1)
                continue
        lines.append([block])
        line_top, line_bottom = block.box.y0, block.box.y1
    return [block for line in lines for block in sorted(line, key=lambda b: b.box.x0)]


@dataclass
class RapidOcrAnalyzer:
    """PP-OCR detection + recognition ONNX models run by `rapidocr` (the models ship in the
    wheel; nothing is downloaded). One inference at a time: the engine mutates per-call state
    and the models already use every core."""

    min_confidence: float = 0.5
    max_image_pixels: int = 40_000_000
    threads: int = -1
    model: str = "rapidocr"
    _engine: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def warm_up(self) -> None:
        from rapidocr import RapidOCR

        params: dict[str, Any] = {
            "Global.log_level": "warning",
            "Global.text_score": self.min_confidence,
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
        }
        engine = RapidOCR(params=params)
        det, rec = engine.cfg.Det, engine.cfg.Rec
        self.model = _model_name(det.ocr_version.value, det.model_type.value)
        if (rec.ocr_version, rec.model_type) != (det.ocr_version, det.model_type):
            rec_name = _model_name(rec.ocr_version.value, rec.model_type.value)
            self.model += "+" + rec_name.removeprefix("rapidocr-")
        # Models load lazily on first use; one call on rendered text loads all three stages.
        engine(_sample_text_image())
        self._engine = engine
        log.info("ocr engine ready", extra={"model": self.model})

    def analyze(self, image: bytes) -> ImageAnalysis:
        if self._engine is None:
            raise FailedPrecondition("OCR engine is not loaded yet")
        start = time.perf_counter()
        decoded = decode_image(image, self.max_image_pixels)
        with self._lock:
            output = self._engine(decoded)
        blocks = []
        boxes, texts, scores = (getattr(output, k, None) for k in ("boxes", "txts", "scores"))
        if boxes is not None and texts is not None and scores is not None:
            for polygon, text, score in zip(boxes, texts, scores, strict=True):
                if not text.strip():
                    continue
                xs = [float(p[0]) for p in polygon]
                ys = [float(p[1]) for p in polygon]
                # Clamp: polygons are unclipped outwards and can leave the image.
                box = Box(
                    max(0.0, min(xs)),
                    max(0.0, min(ys)),
                    min(float(decoded.width), max(xs)),
                    min(float(decoded.height), max(ys)),
                )
                blocks.append(TextBlock(text.strip(), box, float(score)))
        ordered = reading_order(blocks)
        OCR_DURATION.labels(self.model).observe(time.perf_counter() - start)
        TEXT_BLOCKS.labels(self.model).inc(len(ordered))
        return ImageAnalysis(ordered, decoded.width, decoded.height, self.model)


def _model_name(version: str, size: str) -> str:
    """E.g. ("PP-OCRv6", "small") -> "rapidocr-ppocrv6-small"."""
    return f"rapidocr-{version.replace('-', '')}-{size}".lower()


def _sample_text_image() -> Image.Image:
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGB", (320, 64), "white")
    font = ImageFont.load_default(24)
    ImageDraw.Draw(image).text((10, 16), "Veritas 42", fill="black", font=font)
    return image
