"""Which parser a file needs: by declared MIME type, then file extension, then magic bytes."""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

from veritas_common.errors import InvalidArgument

TEXT = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
PDF = "application/pdf"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/tiff", "image/bmp")
SUPPORTED = (TEXT, MARKDOWN, HTML, PDF, *IMAGE_TYPES)

# Declared types that mean the same as a supported one.
_ALIASES = {
    "text/x-markdown": MARKDOWN,
    "application/xhtml+xml": HTML,
    "application/x-pdf": PDF,
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "image/tif": "image/tiff",
}

# Declared types that say nothing about the content.
_UNINFORMATIVE = {"", "application/octet-stream", "binary/octet-stream"}

_EXTENSIONS = {
    ".txt": TEXT,
    ".text": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": HTML,
    ".pdf": PDF,
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".bmp": "image/bmp",
}


def detect_mime_type(source: str, content: bytes, declared: str = "") -> str:
    """The supported MIME type of `content`; raises `InvalidArgument` naming the type when it
    is not supported."""
    mime = declared.split(";", 1)[0].strip().lower()
    if mime not in _UNINFORMATIVE:
        mime = _ALIASES.get(mime, mime)
        if mime not in SUPPORTED:
            raise InvalidArgument(f"unsupported type {mime!r}; supported: {', '.join(SUPPORTED)}")
        return mime
    ext = extension(source)
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    sniffed = sniff(content)
    if sniffed is None:
        what = f"extension {ext!r}" if ext else "content with no file extension"
        raise InvalidArgument(
            f"unsupported type: {what} is not one of {', '.join(sorted(_EXTENSIONS))} and the "
            "bytes are not a recognised document"
        )
    return sniffed


def extension(source: str) -> str:
    """Lower-case extension of a file name or URI path ("" when none)."""
    path = urlsplit(source).path if "://" in source else source
    return posixpath.splitext(path.replace("\\", "/"))[1].lower()


def sniff(content: bytes) -> str | None:
    """MIME type from magic bytes, or None when unrecognised."""
    head = content[:16]
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":  # reserved fields are 0
        return "image/bmp"
    sample = content[:4096]
    if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # binary; the text parser decodes and rejects what is not text
    lowered = sample[:512].decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith(("<!doctype html", "<html")):
        return HTML
    return TEXT
