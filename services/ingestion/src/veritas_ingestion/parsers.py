"""Parsers: file bytes -> `ParsedDocument` (normalised text + structural blocks).

Text-bearing formats are parsed here; images are read by the vision service (`images.py`) and
turned into a document by `ocr_document`. Every parser raises `InvalidArgument` with a clear
message for input it cannot read.
"""

from __future__ import annotations

import codecs
import io
import logging
import posixpath
import re
import statistics
from collections import Counter
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from veritas_common.errors import InvalidArgument
from veritas_ingestion import detect
from veritas_ingestion.document import DocumentBuilder, Modality, ParsedDocument
from veritas_ingestion.images import OcrPage

log = logging.getLogger(__name__)


def file_name(source: str) -> str:
    """Base name of a file path or URI, used as the title when the document has none."""
    path = unquote(urlsplit(source).path) if "://" in source else source
    return posixpath.basename(path.replace("\\", "/").rstrip("/")) or source


def decode_text(content: bytes) -> str:
    """Bytes -> str: BOM, then UTF-8, then the most likely legacy encoding."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if content.startswith(bom):
            try:
                return content.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InvalidArgument(f"text is not valid {encoding}: {exc.reason}") from exc
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(content).best()
    if best is None or "\x00" in str(best):
        raise InvalidArgument("content is not text in any recognised encoding")
    return str(best)


# ---------------------------------------------------------------- plain text


def parse_text(content: bytes, source: str) -> ParsedDocument:
    """Paragraphs are separated by blank lines; lines within one are joined."""
    text = decode_text(content).replace("\r\n", "\n").replace("\r", "\n")
    builder = DocumentBuilder()
    for paragraph in re.split(r"\n[ \t\f\v]*\n", text):
        builder.paragraph(paragraph)
    return builder.build(title=file_name(source))


# ---------------------------------------------------------------- Markdown

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def parse_markdown(content: bytes, source: str) -> ParsedDocument:
    """CommonMark + tables: headings open sections, tables keep their header row."""
    from markdown_it import MarkdownIt

    text = decode_text(content).replace("\r\n", "\n").replace("\r", "\n")
    front_title = ""
    if match := _FRONT_MATTER.match(text):
        title_line = re.search(r"^title:\s*(.+)$", match.group(1), re.MULTILINE)
        front_title = title_line.group(1).strip().strip("'\"") if title_line else ""
        text = text[match.end() :]
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)
    builder = DocumentBuilder()
    first_h1 = ""
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "heading_open":
            heading = _inline_text(tokens[i + 1])
            level = int(token.tag[1])
            if level == 1 and not first_h1:
                first_h1 = heading
            builder.heading(heading, level)
            i += 3
            continue
        if token.type == "table_open":
            rows: list[list[str]] = []
            while tokens[i].type != "table_close":
                if tokens[i].type == "tr_open":
                    rows.append([])
                elif tokens[i].type == "inline" and rows:
                    rows[-1].append(_inline_text(tokens[i]))
                i += 1
            builder.table(rows)
        elif token.type in ("fence", "code_block"):
            builder.code(token.content)
        elif token.type == "html_block":
            builder.paragraph(_html_fragment_text(token.content))
        elif token.type == "inline":
            builder.paragraph(_inline_text(token))
        i += 1
    return builder.build(title=first_h1 or front_title or file_name(source))


def _inline_text(token) -> str:  # type: ignore[no-untyped-def]
    """Plain text of an inline token: markup dropped, images as their alt text."""
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)


def _html_fragment_text(fragment: str) -> str:
    from bs4 import BeautifulSoup

    return BeautifulSoup(fragment, "lxml").get_text(" ")


# ---------------------------------------------------------------- HTML

# Elements whose content is never document text.
_HTML_DROP = [
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object",
    "head", "nav", "button", "select", "input", "textarea",
]  # fmt: skip
# Elements that end the paragraph before them and start a new one.
_HTML_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr",
    "html", "li", "main", "ol", "p", "section", "summary", "ul", "caption",
}  # fmt: skip


def parse_html(content: bytes, source: str) -> ParsedDocument:
    """h1-h6 open sections; tables are kept row by row with their header; title from <title>,
    else the first <h1>."""
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, PreformattedString, Tag

    soup = BeautifulSoup(content, "lxml")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ") if title_tag else ""
    first_h1 = soup.find("h1")
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()

    builder = DocumentBuilder()
    buffer: list[str] = []

    def flush() -> None:
        builder.paragraph("".join(buffer))
        buffer.clear()

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA
                continue
            if isinstance(child, NavigableString):
                buffer.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if re.fullmatch(r"h[1-6]", name):
                flush()
                builder.heading(child.get_text(" "), int(name[1]))
            elif name == "table":
                flush()
                builder.table(_html_table_rows(child))
            elif name == "pre":
                flush()
                builder.code(child.get_text())
            elif name == "br":
                buffer.append(" ")
            elif name in _HTML_BLOCKS:
                flush()
                walk(child)
                flush()
            else:
                walk(child)

    walk(soup)
    flush()
    if not title and first_h1 is not None:
        title = first_h1.get_text(" ")
    return builder.build(title=title.strip() or file_name(source))


def _html_table_rows(table) -> list[list[str]]:  # type: ignore[no-untyped-def]
    rows = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue  # a nested table's rows stay with the cell text of the outer one
        rows.append([cell.get_text(" ") for cell in tr.find_all(["th", "td"], recursive=False)])
    return rows


# ---------------------------------------------------------------- PDF

# A line that is only a page number ("7", "Page 7", "7 of 12", "- 7 -").
_PAGE_NUMBER = re.compile(r"^\W*(page\s*)?\d+(\s*(of|/)\s*\d+)?\W*$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?:;\"')\]]$")


def parse_pdf(content: bytes, source: str) -> ParsedDocument:
    """Text layer of each page (pypdf); running headers, footers and page numbers dropped;
    lines joined into paragraphs. Scanned PDFs without a text layer are refused."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:
                raise InvalidArgument(f"PDF is encrypted and cannot be opened: {exc}") from exc
            if not opened:
                raise InvalidArgument("PDF is encrypted with a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = reader.metadata
        meta_title = str(metadata.get("/Title") or "") if metadata else ""
    except InvalidArgument:
        raise
    # pypdf signals malformed input with many exception types; all of them mean a bad file.
    except Exception as exc:
        raise InvalidArgument(f"malformed PDF: {exc or type(exc).__name__}") from exc
    if not pages:
        raise InvalidArgument("PDF has no pages")
    page_lines = _drop_running_lines([_clean_lines(text) for text in pages])
    builder = DocumentBuilder()
    first_paragraph = ""
    for number, lines in enumerate(page_lines, start=1):
        for paragraph in _pdf_paragraphs(lines):
            first_paragraph = first_paragraph or paragraph
            builder.paragraph(paragraph, page=number)
    if builder.empty:
        raise InvalidArgument(
            f"PDF has no extractable text in {len(pages)} page(s); scanned PDFs are not OCRed"
        )
    title = meta_title.strip()
    if title.lower() in ("", "untitled", "anonymous", "unknown") or title.endswith(".pdf"):
        title = first_paragraph if len(first_paragraph.split()) <= 15 else file_name(source)
    return builder.build(title=title, page_count=len(pages))


def _clean_lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "\n").split("\n")]


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Removes page numbers and lines repeated at the top or bottom of most pages."""

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", line.lower())

    repeated: set[str] = set()
    if len(pages) >= 3:
        counts = Counter(
            key(line)
            for lines in pages
            for line in {*_non_blank(lines)[:2], *_non_blank(lines)[-2:]}
        )
        repeated = {k for k, n in counts.items() if n >= max(3, len(pages) // 2)}
    cleaned = []
    for lines in pages:
        body = _non_blank(lines)
        edges = set(body[:2] + body[-2:])
        cleaned.append(
            [
                line
                for line in lines
                if not (line in edges and (key(line) in repeated or _PAGE_NUMBER.match(line)))
            ]
        )
    return cleaned


def _non_blank(lines: list[str]) -> list[str]:
    return [line for line in lines if line]


def _pdf_paragraphs(lines: list[str]) -> list[str]:
    """Joins text lines into paragraphs. A paragraph ends at a blank line, after a short line
    that looks like a heading, or after a sentence that stops well short of the line width."""
    non_blank = _non_blank(lines)
    if not non_blank:
        return []
    lengths = sorted(len(line) for line in non_blank)
    width = lengths[int(0.9 * (len(lengths) - 1))]  # typical full line, robust to one long line
    paragraphs: list[str] = []
    current = ""
    for line in [*lines, ""]:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if _looks_like_heading(line, width):
            if current:
                paragraphs.append(current)
            paragraphs.append(line)
            current = ""
            continue
        if current[-2:-1].isalpha() and current.endswith("-") and line[0].islower():
            current = current[:-1] + line  # a word hyphenated across lines
        else:
            current = f"{current} {line}" if current else line
        if _SENTENCE_END.search(line) and len(line) < 0.7 * width:
            paragraphs.append(current)
            current = ""
    return paragraphs


def _looks_like_heading(line: str, width: int) -> bool:
    """Short, unpunctuated, capitalised and well short of the page's line width."""
    return (
        len(line.split()) <= 10
        and len(line) < 0.8 * width
        and not _SENTENCE_END.search(line)
        and not line.endswith(",")
        and (line[0].isupper() or line[0].isdigit())
    )


# ---------------------------------------------------------------- OCR


def ocr_document(page: OcrPage, source: str) -> ParsedDocument:
    """Recognised lines -> paragraphs: boxes on one visual line are joined, and a vertical gap
    larger than the typical line height starts a new paragraph. Confidence is the lowest of
    the paragraph's lines."""
    # Group blocks (already in reading order) into visual lines.
    lines: list[tuple[str, float, float, float]] = []  # text, confidence, top, bottom
    for block in page.lines:
        if lines:
            text, conf, top, bottom = lines[-1]
            overlap = min(bottom, block.y1) - max(top, block.y0)
            if overlap > 0.5 * min(bottom - top, block.y1 - block.y0):
                lines[-1] = (
                    f"{text} {block.text}",
                    min(conf, block.confidence),
                    min(top, block.y0),
                    max(bottom, block.y1),
                )
                continue
        lines.append((block.text, block.confidence, block.y0, block.y1))
    builder = DocumentBuilder()
    if lines:
        line_height = statistics.median(bottom - top for _, _, top, bottom in lines)
        paragraph: list[str] = []
        confidence = 1.0
        previous_bottom: float | None = None
        for text, conf, top, bottom in lines:
            if previous_bottom is not None and top - previous_bottom > 0.6 * line_height:
                builder.paragraph(" ".join(paragraph), modality=Modality.OCR, confidence=confidence)
                paragraph, confidence = [], 1.0
            paragraph.append(text)
            confidence = min(confidence, conf)
            previous_bottom = bottom
        builder.paragraph(" ".join(paragraph), modality=Modality.OCR, confidence=confidence)
    return builder.build(title=file_name(source))


TEXT_PARSERS: dict[str, Callable[[bytes, str], ParsedDocument]] = {
    detect.TEXT: parse_text,
    detect.MARKDOWN: parse_markdown,
    detect.HTML: parse_html,
    detect.PDF: parse_pdf,
}
