"""Image decoding and reading order (no model), then the real RapidOCR engine on the sample."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from prometheus_client import REGISTRY
from vision_engine import loaded_analyzer

from veritas_common.errors import InvalidArgument, TooLarge
from veritas_vision.ocr import Box, RapidOcrAnalyzer, TextBlock, decode_image, reading_order

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


@pytest.fixture
def analyzer() -> RapidOcrAnalyzer:
    """The real engine (loaded on first use, a few seconds)."""
    return loaded_analyzer()


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _block(text: str, x0: float, y0: float, x1: float, y1: float) -> TextBlock:
    return TextBlock(text, Box(x0, y0, x1, y1), 0.9)


def test_reading_order_is_lines_top_down_then_left_to_right():
    # Two columns on one line whose boxes differ by a few pixels, given scrambled.
    blocks = [
        _block("right-2", 300, 62, 400, 88),
        _block("left-1", 10, 12, 120, 40),
        _block("left-2", 10, 60, 120, 86),
        _block("right-1", 300, 8, 400, 36),
        _block("footer", 10, 200, 200, 230),
    ]
    assert [b.text for b in reading_order(blocks)] == [
        "left-1",
        "right-1",
        "left-2",
        "right-2",
        "footer",
    ]


def test_reading_order_keeps_close_but_separate_lines_apart():
    blocks = [_block("second", 0, 31, 50, 60), _block("first", 100, 0, 150, 30)]
    assert [b.text for b in reading_order(blocks)] == ["first", "second"]


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_undecodable_bytes_are_invalid_argument(data):
    with pytest.raises(InvalidArgument):
        decode_image(data, max_pixels=10_000_000)


def test_truncated_image_is_invalid_argument():
    data = _png(Image.new("RGB", (64, 64), "white"))
    with pytest.raises(InvalidArgument, match="cannot decode"):
        decode_image(data[: len(data) // 2], max_pixels=10_000_000)


def test_images_above_the_pixel_limit_are_too_large():
    with pytest.raises(TooLarge, match="100x100"):
        decode_image(_png(Image.new("RGB", (100, 100))), max_pixels=5_000)


def test_transparent_background_becomes_white_rgb():
    image = decode_image(_png(Image.new("RGBA", (8, 8), (0, 0, 0, 0))), max_pixels=100)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.slow
def test_lab_report_lines_are_recognised_in_reading_order(analyzer):
    before = REGISTRY.get_sample_value(
        "veritas_vision_text_blocks_total", {"model": analyzer.model}
    )
    result = analyzer.analyze((SAMPLES / "lab-report-2024-09-14.png").read_bytes())
    assert (result.width, result.height) == (1100, 520)
    assert result.model.startswith("rapidocr-ppocr")
    texts = [b.text for b in result.blocks]
    glucose = next(b for b in result.blocks if b.text.startswith("Glucose"))
    assert "98 mg/dL" in glucose.text
    assert glucose.confidence > 0.5
    assert 0 <= glucose.box.x0 < glucose.box.x1 <= 1100
    assert 0 <= glucose.box.y0 < glucose.box.y1 <= 520
    # The report's lines, top to bottom.
    assert texts[0] == "Northfield Clinical Laboratory"
    order = [
        "Comprehensive Metabolic Panel",
        "Glucose",
        "Creatinine",
        "Alanine aminotransferase",
        "Potassium",
    ]
    positions = [next(i for i, t in enumerate(texts) if t.startswith(p)) for p in order]
    assert positions == sorted(positions)
    after = REGISTRY.get_sample_value("veritas_vision_text_blocks_total", {"model": analyzer.model})
    assert after == (before or 0) + len(result.blocks)


@pytest.mark.slow
def test_blank_image_has_no_blocks(analyzer):
    result = analyzer.analyze(_png(Image.new("RGB", (200, 100), "white")))
    assert result.blocks == []
    assert (result.width, result.height) == (200, 100)


@pytest.mark.slow
def test_bad_image_is_invalid_argument_with_a_loaded_engine(analyzer):
    with pytest.raises(InvalidArgument):
        analyzer.analyze(b"GIF89a but not really")
