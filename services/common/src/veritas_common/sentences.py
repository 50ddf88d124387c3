"""The one sentence splitter of Veritas: text into sentences with character offsets.

Ingestion chunks between these sentences and stores each chunk's sentences (spans, kinds and
vectors); the agent reads them back instead of splitting again. Every `Sentence` satisfies
`text[s.start:s.end] == s.text`: offsets are what citations are made of, so nothing here
rewrites the text. Table rows and list items are sentences too; headings are kept (marked) so
callers can skip them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from veritas.v1 import common_pb2
from veritas_common.contract import SentenceKind


@dataclass(frozen=True)
class Sentence:
    """A span of a text: `start`/`end` are offsets into the text it was split from."""

    start: int
    end: int
    text: str
    kind: SentenceKind = SentenceKind.PROSE
    # Cells of a table row or header, stripped.
    cells: tuple[str, ...] = ()
    # The header row of the table this row belongs to, when there is one.
    header: Sentence | None = None

    @property
    def claimable(self) -> bool:
        """Whether the span can stand as a claim (headings and bare headers cannot)."""
        return self.kind not in (SentenceKind.HEADING, SentenceKind.TABLE_HEADER)

    def claim_text(self) -> str:
        """The span as a sentence of prose: whitespace collapsed, a table row read out against
        its header ("Line item: Revenue; Fiscal 2024: 482.6."), closing punctuation added
        where the span has none (rows, list items), so joined claims stay separate sentences."""
        if self.kind == SentenceKind.TABLE_ROW:
            header = self.header.cells if self.header is not None else ()
            if len(header) == len(self.cells):
                text = "; ".join(f"{h}: {c}" for h, c in zip(header, self.cells, strict=True) if c)
            else:
                text = " | ".join(c for c in self.cells if c)
        else:
            text = " ".join(self.text.split())
        if text and not _CLOSED.search(text):
            text += "."
        return text


# Lower-cased tokens that end in a period without ending a sentence.
_ABBREVIATIONS_TEXT = """
    inc. corp. co. ltd. llc. plc. mr. mrs. ms. dr. prof. sr. jr. st. vs. etc. e.g. i.e. cf.
    approx. no. nos. fig. figs. ref. vol. pp. p. eq. dept. est. jan. feb. mar. apr. jun. jul.
    aug. sep. sept. oct. nov. dec. mg. ml. min. max. avg. u.s. u.k. n.a.
"""
ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())

_LINE = re.compile(r"[^\n]*\n?")
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*•‣◦▪]|\d{1,3}[.)]|[a-z][.)])[ \t]+")
_TABLE_SEPARATOR = re.compile(r"^[\s|:+-]+$")
_HEADING_MARKER = re.compile(r"^[ \t]*#{1,6}[ \t]+")
_END_PUNCT = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*")
_STARTS_SENTENCE = re.compile(r"[A-Z0-9\"'\u201c\u2018(\[$€£¥]")
_TRAILING_FUNCTION_WORD = re.compile(
    r"\b(?:a|an|the|of|to|in|on|at|for|and|or|but|with|by|was|were|is|are|be|from|as)$", re.I
)
_CLOSED = re.compile(r"[.!?:;][\"'\u201d\u2019)\]]*$")
_FUNCTION_WORD = re.compile(r"a|an|the|of|to|in|on|at|for|and|or|with|by|from|as|vs\.?", re.I)
# A paragraph longer than this is split at its line breaks too (e.g. unpunctuated PDF text).
MAX_SENTENCE_CHARS = 600


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cells(line: str) -> tuple[str, ...]:
    body = line.strip()
    if "|" in body:
        body = body.removeprefix("|").removesuffix("|")
        return tuple(cell.strip() for cell in body.split("|"))
    if "\t" in body:
        return tuple(cell.strip() for cell in body.split("\t"))
    return (body,)


def _is_table_line(line: str, table_mode: bool) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    return table_mode or stripped.startswith("|") or stripped.count("\t") >= 1


def _looks_like_heading(line: str, next_line: str) -> bool:
    """A short, unpunctuated, title-cased line opening a paragraph: a heading of text that
    was extracted without markup (PDF "Highlights", HTML "2 Dosage and Administration")."""
    stripped = line.strip()
    words = stripped.split()
    if not words or len(words) > 10 or stripped[-1] in ".!?:;,-":
        return False
    if not _STARTS_SENTENCE.match(stripped) or _TRAILING_FUNCTION_WORD.search(stripped):
        return False
    alpha = [w for w in words if w[:1].isalpha() and not _FUNCTION_WORD.fullmatch(w)]
    if not alpha or sum(w[0].isupper() for w in alpha) < 0.7 * len(alpha):
        return False
    following = next_line.strip()
    return not following or (bool(_STARTS_SENTENCE.match(following)) and following[0] != "$")


def _ends_sentence(text: str, start: int, punct_end: int) -> bool:
    """Whether the punctuation ending at `punct_end` closes a sentence started at `start`."""
    rest = text[punct_end:]
    stripped = rest.lstrip()
    if not stripped or len(stripped) == len(rest):
        return not stripped  # end of text, or punctuation glued to the next character
    if not _STARTS_SENTENCE.match(stripped):
        return False
    word_match = re.search(r"(\S+)$", text[start:punct_end])
    word = word_match.group(1).lower() if word_match else ""
    word = word.lstrip("(\"'\u201c\u2018[")
    if word in ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.){2,}", word):
        return False
    # A single capital initial ("J. Smith") is not a sentence end.
    return not re.fullmatch(r"[a-z]\.", word)


def _split_prose(text: str, start: int, end: int, kind: SentenceKind) -> list[Sentence]:
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _END_PUNCT.finditer(text, start, end):
        if match.end() >= end:
            break
        if _ends_sentence(text[:end], cursor, match.end()):
            spans.append((cursor, match.end()))
            cursor = match.end()
    spans.append((cursor, end))
    out: list[Sentence] = []
    for s, e in spans:
        pieces = [(s, e)]
        if e - s > MAX_SENTENCE_CHARS and "\n" in text[s:e]:
            pieces = [(m.start() + s, m.end() + s) for m in _LINE.finditer(text[s:e])]
        for ps, pe in pieces:
            ps, pe = _strip_span(text, ps, pe)
            if pe > ps:
                out.append(Sentence(ps, pe, text[ps:pe], kind))
    return out


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences of the prose `text[start:end]` as absolute (start, end) offsets, whitespace
    excluded (the chunker packs these; no line or table structure is read)."""
    end = len(text) if end is None else end
    return [(s.start, s.end) for s in _split_prose(text, start, end, SentenceKind.PROSE)]


def split_sentences(text: str, *, table: bool = False) -> list[Sentence]:
    """Sentences, list items, table rows and headings of `text`, in order, with offsets.

    `table=True` treats every non-empty line as a table row (chunks of table modality).
    """
    lines = [(m.start(), m.end()) for m in _LINE.finditer(text) if m.end() > m.start()]
    out: list[Sentence] = []
    para: tuple[int, int] | None = None
    para_kind = SentenceKind.PROSE
    header: Sentence | None = None
    table_rows: list[Sentence] = []

    def flush() -> None:
        nonlocal para
        if para is not None:
            out.extend(_split_prose(text, para[0], para[1], para_kind))
            para = None

    def end_table() -> None:
        nonlocal header, table_rows
        # Tables without a markdown separator (tab-separated, table chunks): first row heads.
        if table_rows and header is None and len(table_rows) > 1 and len(table_rows[0].cells) > 1:
            first = table_rows[0]
            header = Sentence(
                first.start, first.end, first.text, SentenceKind.TABLE_HEADER, first.cells
            )
            table_rows = [header] + [
                Sentence(r.start, r.end, r.text, r.kind, r.cells, header) for r in table_rows[1:]
            ]
        out.extend(table_rows)
        header, table_rows = None, []

    for index, (ls, le) in enumerate(lines):
        line = text[ls:le]
        next_line = (
            text[lines[index + 1][0] : lines[index + 1][1]] if index + 1 < len(lines) else ""
        )
        if not line.strip():
            flush()
            end_table()
            continue
        if _is_table_line(line, table):
            flush()
            if _TABLE_SEPARATOR.match(line) and "-" in line:
                # The row above a markdown separator is the header of what follows.
                if table_rows and header is None:
                    first = table_rows.pop()
                    header = Sentence(
                        first.start, first.end, first.text, SentenceKind.TABLE_HEADER, first.cells
                    )
                    table_rows.append(header)
                continue
            s, e = _strip_span(text, ls, le)
            table_rows.append(
                Sentence(s, e, text[s:e], SentenceKind.TABLE_ROW, _cells(line), header)
            )
            continue
        end_table()
        heading = _HEADING_MARKER.match(line)
        marker = _LIST_MARKER.match(line)
        if marker:
            flush()
            para, para_kind = (ls + marker.end(), le), SentenceKind.LIST_ITEM
            continue
        # Extracted text (PDF) often has no blank line between paragraphs: a heading may also
        # follow a line that closed a sentence.
        opens = para is None or text[para[0] : para[1]].rstrip()[-1:] in (".", "!", "?", ":")
        heading = _HEADING_MARKER.match(line)
        if heading or (opens and _looks_like_heading(line, next_line)):
            flush()
            s, e = _strip_span(text, ls + (heading.end() if heading else 0), le)
            if e > s:
                out.append(Sentence(s, e, text[s:e], SentenceKind.HEADING))
            continue
        if para is not None and para_kind == SentenceKind.LIST_ITEM and not line[:1].isspace():
            flush()  # an unindented line after a list item starts a new paragraph
        if para is None:
            para, para_kind = (ls, le), SentenceKind.PROSE
        else:
            para = (para[0], le)
    flush()
    end_table()
    return out


def sentences_to_proto(sentences: Sequence[Sentence]) -> list[common_pb2.ChunkSentence]:
    """Spans, kinds and header links of a chunk's sentences, as ingestion stores them."""
    index = {id(s): i for i, s in enumerate(sentences)}
    return [
        common_pb2.ChunkSentence(
            start=s.start,
            end=s.end,
            kind=s.kind.to_proto(),
            header=index[id(s.header)] + 1 if s.header is not None and id(s.header) in index else 0,
        )
        for s in sentences
    ]


class StoredSentence(Protocol):
    """What is stored of a sentence (`veritas.v1.ChunkSentence` or a record of it)."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def kind(self) -> int: ...
    @property
    def header(self) -> int: ...


def sentences_from_proto(text: str, stored: Sequence[StoredSentence]) -> list[Sentence] | None:
    """The chunk's sentences rebuilt from what ingestion stored; None when the spans do not fit
    the text (they cannot be cited)."""
    out: list[Sentence] = []
    for s in stored:
        if not 0 <= s.start < s.end <= len(text):
            return None
        kind = SentenceKind.from_proto(s.kind) or SentenceKind.PROSE
        span = text[s.start : s.end]
        table = kind in (SentenceKind.TABLE_ROW, SentenceKind.TABLE_HEADER)
        header = out[s.header - 1] if 0 < s.header <= len(out) else None
        out.append(Sentence(s.start, s.end, span, kind, _cells(span) if table else (), header))
    return out
