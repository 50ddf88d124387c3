"""The parsed form of a document: one normalised text plus structural blocks that index into it.

Every parser emits blocks through `DocumentBuilder`, which owns normalisation (Unicode NFC,
whitespace collapsed, blocks joined with a blank line), so offsets are computed in exactly one
place and always index the final text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import Enum

from veritas_common.contract import Modality  # how a block's text was obtained

BLOCK_SEPARATOR = "\n\n"
ROW_SEPARATOR = "\n"
CELL_SEPARATOR = " | "

# Zero-width and format characters that only get in the way of search and citation quotes.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
# Control characters other than whitespace (left over from PDFs and legacy encodings).
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"\s+")


class BlockKind(Enum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    TABLE = "table"
    CODE = "code"


@dataclass(frozen=True)
class Block:
    """A structural unit of the document text, `text[start:end]`.

    `units` are the block's atomic pieces as absolute offsets (table rows with the header
    first, code lines); empty for prose, which the chunker splits into sentences."""

    kind: BlockKind
    start: int
    end: int
    section_path: tuple[str, ...]
    page: int
    modality: Modality
    confidence: float
    units: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ParsedDocument:
    """Normalised text of a document and the blocks that structure it."""

    text: str
    blocks: list[Block]
    title: str
    page_count: int = 1


def normalize_inline(text: str) -> str:
    """NFC, invisible and control characters removed, every whitespace run one space."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    return _WHITESPACE.sub(" ", text).strip()


@dataclass
class DocumentBuilder:
    """Accumulates normalised blocks and tracks the enclosing headings."""

    _parts: list[str] = field(default_factory=list)
    _length: int = 0
    _blocks: list[Block] = field(default_factory=list)
    _sections: list[tuple[int, str]] = field(default_factory=list)

    @property
    def section_path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._sections)

    @property
    def empty(self) -> bool:
        return not self._blocks

    def heading(self, text: str, level: int, *, page: int = 1, confidence: float = 1.0) -> None:
        """A heading of `level` (1 outermost); it opens a section that lasts until the next
        heading of the same or a higher level."""
        text = normalize_inline(text)
        if not text:
            return
        while self._sections and self._sections[-1][0] >= level:
            self._sections.pop()
        self._sections.append((level, text))
        self._append(BlockKind.HEADING, [text], page, Modality.TEXT, confidence, units=False)

    def paragraph(
        self,
        text: str,
        *,
        page: int = 1,
        modality: Modality = Modality.TEXT,
        confidence: float = 1.0,
    ) -> None:
        text = normalize_inline(text)
        if text:
            self._append(BlockKind.PARAGRAPH, [text], page, modality, confidence, units=False)

    def table(
        self,
        rows: list[list[str]],
        *,
        page: int = 1,
        modality: Modality = Modality.TABLE,
        confidence: float = 1.0,
    ) -> None:
        """A table as one line per row, cells joined with " | "; the first row is the header."""
        lines = []
        for row in rows:
            cells = [normalize_inline(cell) for cell in row]
            if any(cells):
                lines.append(CELL_SEPARATOR.join(cells))
        if lines:
            self._append(BlockKind.TABLE, lines, page, modality, confidence, units=True)

    def code(self, text: str, *, page: int = 1) -> None:
        """Preformatted text: one unit per non-blank line."""
        lines = [normalize_inline(line) for line in text.splitlines()]
        lines = [line for line in lines if line]
        if lines:
            self._append(BlockKind.CODE, lines, page, Modality.TEXT, 1.0, units=True)

    def build(self, title: str, page_count: int = 1) -> ParsedDocument:
        return ParsedDocument(
            text="".join(self._parts),
            blocks=list(self._blocks),
            title=normalize_inline(title),
            page_count=max(1, page_count),
        )

    def _append(
        self,
        kind: BlockKind,
        lines: list[str],
        page: int,
        modality: Modality,
        confidence: float,
        *,
        units: bool,
    ) -> None:
        if self._parts:
            self._parts.append(BLOCK_SEPARATOR)
            self._length += len(BLOCK_SEPARATOR)
        start = self._length
        spans = []
        for i, line in enumerate(lines):
            if i:
                self._parts.append(ROW_SEPARATOR)
                self._length += len(ROW_SEPARATOR)
            spans.append((self._length, self._length + len(line)))
            self._parts.append(line)
            self._length += len(line)
        self._blocks.append(
            Block(
                kind=kind,
                start=start,
                end=self._length,
                section_path=self.section_path,
                page=page,
                modality=modality,
                confidence=max(0.0, min(1.0, confidence)),
                units=tuple(spans) if units else (),
            )
        )
