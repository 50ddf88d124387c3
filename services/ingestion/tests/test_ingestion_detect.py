"""Type detection: declared MIME type, then extension, then magic bytes."""

from __future__ import annotations

import pytest

from veritas_common.errors import InvalidArgument
from veritas_ingestion.detect import detect_mime_type


@pytest.mark.parametrize(
    ("source", "content", "declared", "expected"),
    [
        ("a.bin", b"# hi", "text/markdown; charset=utf-8", "text/markdown"),
        ("a.txt", b"%PDF-1.7", "application/pdf", "application/pdf"),
        ("photo.JPG", b"...", "", "image/jpeg"),
        ("https://x.org/label.htm?v=2", b"<p>x</p>", "", "text/html"),
        ("upload", b"%PDF-1.4 ...", "application/octet-stream", "application/pdf"),
        ("upload", b"\x89PNG\r\n\x1a\n....", "", "image/png"),
        ("upload", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "", "image/webp"),
        ("upload", b"II*\x00\x08\x00", "", "image/tiff"),
        ("upload", b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00", "", "image/bmp"),
        ("upload", b"\xff\xd8\xff\xe0", "", "image/jpeg"),
        ("upload", b"  <!DOCTYPE html><html>", "", "text/html"),
        ("upload", b"BMW annual report", "", "text/plain"),
        ("notes", "Gr\u00fc\u00dfe".encode("cp1252"), "", "text/plain"),
        ("scan.tif", b"", "image/jpg", "image/jpeg"),
    ],
)
def test_detected_type(source, content, declared, expected):
    assert detect_mime_type(source, content, declared) == expected


def test_unsupported_declared_type_is_named():
    with pytest.raises(InvalidArgument, match="application/zip"):
        detect_mime_type("a.zip", b"PK\x03\x04", "application/zip")


def test_unsupported_extension_with_binary_content_is_named():
    with pytest.raises(InvalidArgument, match=r"extension '\.docx'"):
        detect_mime_type("report.docx", b"PK\x03\x04\x14\x00\x00\x00", "")
