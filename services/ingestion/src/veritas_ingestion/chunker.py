"""Structure-aware chunking of a `ParsedDocument` into contiguous spans of its text.

Citation contract: a chunk is `text[start:end]` of the document, nothing injected. Rules, in
order of precedence:
- a chunk never crosses a section (heading) or page boundary;
- a heading that has no body of its own (e.g. "Item 7" directly followed by "Results") is
  glued to the first chunk of the subsection that follows, so no chunk is a bare heading;
- tables are their own chunks, as contiguous row ranges; the first starts at the header;
- prose is packed paragraph by paragraph up to the word budget; a paragraph too long for the
  budget is split between sentences, and a chunk that continues one repeats the previous
  chunk's last sentence(s) for context;
- only a sentence longer than the whole budget is split between words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from veritas_common.sentences import sentence_spans
from veritas_ingestion.document import Block, BlockKind, Modality, ParsedDocument

_WORD = re.compile(r"\S+")


def word_count(text: str) -> int:
    return len(text.split())


@dataclass(frozen=True)
class ChunkSpan:
    """A chunk before it gets its document metadata: `text[start:end]` plus provenance."""

    ordinal: int
    start: int
    end: int
    section_path: tuple[str, ...]
    page: int
    modality: Modality
    confidence: float


@dataclass(frozen=True)
class _Unit:
    """An atomic piece a chunk boundary may fall around."""

    start: int
    end: int
    words: int
    block: Block


class StructureChunker:
    """Splits documents by structure first, then by a word budget (see module docstring)."""

    def __init__(self, max_words: int = 180, overlap_sentences: int = 1) -> None:
        if max_words < 10:
            raise ValueError("max_words must be at least 10")
        self.max_words = max_words
        self.overlap_sentences = max(0, overlap_sentences)

    def chunk(self, document: ParsedDocument) -> list[ChunkSpan]:
        text = document.text
        spans: list[tuple[int, int, list[Block]]] = []
        pending: list[Block] = []  # headings with no body yet, waiting for a subsection
        for segment in _segments(document.blocks):
            if pending and not _continues(pending, segment):
                spans.append(_whole(pending))  # an empty section: keep its heading covered
                pending = []
            headings = [b for b in segment if b.kind is BlockKind.HEADING]
            body = [b for b in segment if b.kind is not BlockKind.HEADING]
            if not body:
                pending.extend(headings)
                continue
            spans.extend(self._chunk_segment(text, [*pending, *headings], body))
            pending = []
        if pending:
            spans.append(_whole(pending))

        chunks = []
        for ordinal, (start, end, blocks) in enumerate(spans):
            body_blocks = [b for b in blocks if b.kind is not BlockKind.HEADING] or blocks
            modality = (
                Modality.TABLE
                if any(b.modality is Modality.TABLE for b in body_blocks)
                else Modality.OCR
                if any(b.modality is Modality.OCR for b in body_blocks)
                else Modality.TEXT
            )
            chunks.append(
                ChunkSpan(
                    ordinal=ordinal,
                    start=start,
                    end=end,
                    section_path=blocks[-1].section_path,
                    page=blocks[0].page,
                    modality=modality,
                    confidence=min(b.confidence for b in body_blocks),
                )
            )
        return chunks

    def _chunk_segment(
        self, text: str, prefix: list[Block], body: list[Block]
    ) -> list[tuple[int, int, list[Block]]]:
        """Chunks of one section on one page; `prefix` headings open the first chunk."""
        out: list[tuple[int, int, list[Block]]] = []
        prefix_units = [_Unit(b.start, b.end, word_count(text[b.start : b.end]), b) for b in prefix]
        runs: list[list[Block]] = []
        for block in body:
            if block.kind is BlockKind.TABLE or not runs or runs[-1][0].kind is BlockKind.TABLE:
                runs.append([block])
            else:
                runs[-1].append(block)
        for run in runs:
            if run[0].kind is BlockKind.TABLE:
                out.extend(self._pack_table(text, prefix_units, run[0]))
            else:
                out.extend(self._pack_prose(text, prefix_units, run))
            prefix_units = []
        return out

    def _pack_table(
        self, text: str, prefix: list[_Unit], table: Block
    ) -> list[tuple[int, int, list[Block]]]:
        rows = [_Unit(s, e, word_count(text[s:e]), table) for s, e in table.units]
        out = []
        current = list(prefix)
        for row in rows:
            if _has_body(current) and _words(current) + row.words > self.max_words:
                out.append(_span(current))
                current = []
            current.append(row)
        out.append(_span(current))
        return out

    def _pack_prose(
        self, text: str, prefix: list[_Unit], blocks: list[Block]
    ) -> list[tuple[int, int, list[Block]]]:
        out: list[tuple[int, int, list[Block]]] = []
        current = list(prefix)
        min_words = self.max_words // 3

        def close() -> list[_Unit]:
            """Emits the current chunk; returns the overlap that opens the next one."""
            out.append(_span(current))
            body = [u for u in current if u.block.kind is not BlockKind.HEADING]
            # A strict suffix: an overlap that is the whole previous chunk would make the next
            # chunk a superset of it.
            keep = min(self.overlap_sentences, len(body) - 1)
            return body[len(body) - keep :] if keep > 0 else []

        for block in blocks:
            units = self._units(text, block)
            block_words = sum(u.words for u in units)
            if _words(current) + block_words <= self.max_words:
                current.extend(units)
                continue
            if _has_body(current) and _body_words(current) >= min_words:
                # Structural break between paragraphs; still carry context over.
                current = self._reopen(close(), units[0].words)
                if _words(current) + block_words <= self.max_words:
                    current.extend(units)
                    continue
            for unit in units:
                if _has_body(current) and _words(current) + unit.words > self.max_words:
                    current = self._reopen(close(), unit.words)
                current.append(unit)
        if current:
            out.append(_span(current))
        return out

    def _reopen(self, overlap: list[_Unit], next_words: int) -> list[_Unit]:
        """Overlap that still leaves room for the next unit, else nothing."""
        while overlap and _words(overlap) + next_words > self.max_words:
            overlap = overlap[1:]
        return list(overlap)

    def _units(self, text: str, block: Block) -> list[_Unit]:
        """Sentences of prose (rows/lines of code); any longer than the budget are cut into
        budget-sized word windows, the only place a sentence is ever split."""
        pieces = list(block.units) or sentence_spans(text, block.start, block.end)
        units = []
        for start, end in pieces:
            words = word_count(text[start:end])
            if words <= self.max_words:
                units.append(_Unit(start, end, words, block))
                continue
            matches = list(_WORD.finditer(text, start, end))
            for i in range(0, len(matches), self.max_words):
                window = matches[i : i + self.max_words]
                units.append(_Unit(window[0].start(), window[-1].end(), len(window), block))
        return units


def _segments(blocks: list[Block]) -> list[list[Block]]:
    """Consecutive blocks of the same section and page."""
    segments: list[list[Block]] = []
    for block in blocks:
        if (
            segments
            and block.kind is not BlockKind.HEADING
            and segments[-1][-1].section_path == block.section_path
            and segments[-1][-1].page == block.page
        ):
            segments[-1].append(block)
        else:
            segments.append([block])
    return segments


def _continues(headings: list[Block], segment: list[Block]) -> bool:
    """Whether `segment` is inside the section that `headings` open (same page)."""
    if not headings:
        return False
    path = headings[-1].section_path
    first = segment[0]
    return first.page == headings[-1].page and first.section_path[: len(path)] == path


def _whole(blocks: list[Block]) -> tuple[int, int, list[Block]]:
    return blocks[0].start, blocks[-1].end, blocks


def _span(units: list[_Unit]) -> tuple[int, int, list[Block]]:
    blocks: list[Block] = []
    for unit in units:
        if not blocks or blocks[-1] is not unit.block:
            blocks.append(unit.block)
    return units[0].start, units[-1].end, blocks


def _words(units: list[_Unit]) -> int:
    return sum(u.words for u in units)


def _body_words(units: list[_Unit]) -> int:
    return sum(u.words for u in units if u.block.kind is not BlockKind.HEADING)


def _has_body(units: list[_Unit]) -> bool:
    return any(u.block.kind is not BlockKind.HEADING for u in units)
