"""The chunker's contract: every chunk is an exact slice of the document text, chunks stay in
one section and page, tables keep their header first, prose splits between sentences with an
overlap, and nothing in the document is left out."""

from __future__ import annotations

import itertools

import pytest
from ingestion_fakes import SAMPLES

from veritas_common.sentences import sentence_spans
from veritas_ingestion.chunker import ChunkSpan, StructureChunker, word_count
from veritas_ingestion.document import BlockKind, DocumentBuilder, Modality, ParsedDocument
from veritas_ingestion.parsers import parse_html, parse_markdown, parse_pdf

SAMPLE_PARSERS = {
    "acme-annual-report-2024.md": parse_markdown,
    "zentrivex-label.html": parse_html,
    "northwind-q3-2024.pdf": parse_pdf,
}


def parse_sample(name: str) -> ParsedDocument:
    return SAMPLE_PARSERS[name]((SAMPLES / name).read_bytes(), name)


def texts(doc: ParsedDocument, chunks: list[ChunkSpan]) -> list[str]:
    return [doc.text[c.start : c.end] for c in chunks]


@pytest.mark.parametrize("name", sorted(SAMPLE_PARSERS))
@pytest.mark.parametrize("max_words", [12, 25, 60, 180])
def test_chunks_are_exact_slices_in_one_section_and_page(name, max_words):
    doc = parse_sample(name)
    chunks = StructureChunker(max_words=max_words).chunk(doc)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    covered: set[int] = set()
    for chunk in chunks:
        text = doc.text[chunk.start : chunk.end]
        assert text == text.strip() and text
        inside = [b for b in doc.blocks if b.start < chunk.end and chunk.start < b.end]
        body = [b for b in inside if b.kind is not BlockKind.HEADING] or inside
        # Never across a section or a page: every body block has the chunk's section and page.
        assert {b.section_path for b in body} == {chunk.section_path}
        assert {b.page for b in inside} == {chunk.page}
        # Chunks start and end on unit boundaries, never inside a word.
        assert chunk.start == 0 or doc.text[chunk.start - 1] in " \n"
        assert chunk.end == len(doc.text) or doc.text[chunk.end] in " \n"
        covered.update(id(b) for b in inside)
    assert covered == {id(b) for b in doc.blocks}  # nothing left out


def test_markdown_sample_chunks_follow_sections():
    doc = parse_sample("acme-annual-report-2024.md")
    chunks = StructureChunker(max_words=180).chunk(doc)
    assert [c.section_path[-1] for c in chunks] == [
        "Acme Instruments Inc. Annual Report 2024",
        "Letter to Shareholders",
        "Results of Operations",
        "Consolidated Income Statement",
        "Liquidity and Capital Resources",
        "Item 1A. Risk Factors",
    ]
    # A heading without a body of its own opens the chunk of its first subsection.
    assert texts(doc, chunks)[2].startswith(
        "Item 7. Management's Discussion and Analysis\n\nResults of Operations\n\nGross margin"
    )
    table = chunks[3]
    assert table.modality is Modality.TABLE
    assert texts(doc, chunks)[3].startswith(
        "Consolidated Income Statement\n\nLine item (USD millions) | Fiscal 2024 | Fiscal 2023\n"
    )
    assert texts(doc, chunks)[3].endswith("Net income | 61.3 | 52.8")
    assert all(c.modality is Modality.TEXT for c in chunks if c is not table)


def test_long_table_splits_into_row_ranges_starting_at_the_header():
    builder = DocumentBuilder()
    builder.heading("Lab values", 1)
    builder.table(
        [["Test", "Value", "Unit"]] + [[f"Analyte {i}", str(i), "mg/dL"] for i in range(30)]
    )
    doc = builder.build("t")
    chunks = StructureChunker(max_words=20).chunk(doc)
    assert len(chunks) > 3
    assert all(c.modality is Modality.TABLE for c in chunks)
    parts = texts(doc, chunks)
    assert parts[0].startswith("Lab values\n\nTest | Value | Unit\nAnalyte 0 | 0 | mg/dL")
    rows = [row for part in parts for row in part.split("\n") if row.startswith("Analyte")]
    assert rows == [f"Analyte {i} | {i} | mg/dL" for i in range(30)]  # each row once, in order
    assert all(word_count(p) <= 20 for p in parts)


def test_long_paragraph_splits_between_sentences_with_one_sentence_overlap():
    sentences = [
        f"Sentence number {i} talks about revenue growth in region {i}." for i in range(20)
    ]
    builder = DocumentBuilder()
    builder.heading("Results", 1)
    builder.paragraph(" ".join(sentences))
    doc = builder.build("t")
    chunks = StructureChunker(max_words=40, overlap_sentences=1).chunk(doc)
    parts = texts(doc, chunks)
    assert len(parts) > 2
    for part in parts:
        assert word_count(part) <= 40
        assert part.endswith(".")  # ends on a sentence boundary
    for previous, current in itertools.pairwise(parts):
        last_sentence = previous[previous.rindex("Sentence number") :]
        assert current.startswith(last_sentence)  # the overlap
    recovered = {s for part in parts for s in sentences if s in part}
    assert recovered == set(sentences)


def test_without_overlap_chunks_are_disjoint():
    builder = DocumentBuilder()
    builder.paragraph(" ".join(f"This is sentence {i} of the text." for i in range(30)))
    doc = builder.build("t")
    chunks = StructureChunker(max_words=30, overlap_sentences=0).chunk(doc)
    assert all(a.end < b.start for a, b in itertools.pairwise(chunks))


def test_sentence_longer_than_the_budget_is_split_between_words():
    builder = DocumentBuilder()
    builder.paragraph(" ".join(f"word{i}" for i in range(50)))
    doc = builder.build("t")
    chunks = StructureChunker(max_words=20).chunk(doc)
    assert [word_count(t) for t in texts(doc, chunks)] == [20, 20, 10]


def test_empty_section_heading_is_kept_as_its_own_chunk():
    builder = DocumentBuilder()
    builder.heading("A", 1)
    builder.paragraph("Alpha text.")
    builder.heading("B (empty)", 2)
    builder.heading("C", 2)
    builder.paragraph("Gamma text.")
    doc = builder.build("t")
    assert texts(doc, StructureChunker().chunk(doc)) == [
        "A\n\nAlpha text.",
        "B (empty)",
        "C\n\nGamma text.",
    ]


def test_pdf_chunks_do_not_cross_pages():
    doc = parse_sample("northwind-q3-2024.pdf")
    chunks = StructureChunker(max_words=180).chunk(doc)
    assert [c.page for c in chunks] == [1, 2]
    assert texts(doc, chunks)[1].startswith("Outlook\n\nManagement expects")


def test_sentence_spans_respect_abbreviations_numbers_and_initials():
    text = (
        "Acme Inc. is based in the U.S. and grew 12.4% in 2024. Dr. J. Smith agreed, e.g. on "
        'margins. Was it enough? "Yes." Revenue was $482.6 million.'
    )
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Acme Inc. is based in the U.S. and grew 12.4% in 2024.",
        "Dr. J. Smith agreed, e.g. on margins.",
        "Was it enough?",
        '"Yes."',
        "Revenue was $482.6 million.",
    ]


def test_confidence_is_the_lowest_of_the_chunk_blocks():
    builder = DocumentBuilder()
    builder.paragraph("Glucose 98 mg/dL.", modality=Modality.OCR, confidence=0.9)
    builder.paragraph("Creatinine 0.9 mg/dL.", modality=Modality.OCR, confidence=0.6)
    doc = builder.build("t")
    (chunk,) = StructureChunker().chunk(doc)
    assert chunk.modality is Modality.OCR
    assert chunk.confidence == pytest.approx(0.6)
