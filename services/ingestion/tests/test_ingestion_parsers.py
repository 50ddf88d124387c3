"""Parsers on the bundled samples and on malformed input: normalised text, blocks, sections,
pages, titles, and clear errors."""

from __future__ import annotations

import io
import unicodedata

import pytest
from ingestion_fakes import LAB_LINES, SAMPLES
from pypdf import PdfWriter

from veritas_common.errors import InvalidArgument
from veritas_ingestion.document import BlockKind, Modality, ParsedDocument
from veritas_ingestion.images import OcrPage
from veritas_ingestion.parsers import (
    decode_text,
    file_name,
    ocr_document,
    parse_html,
    parse_markdown,
    parse_pdf,
    parse_text,
)


def block_texts(doc: ParsedDocument, kind: BlockKind | None = None) -> list[str]:
    return [doc.text[b.start : b.end] for b in doc.blocks if kind is None or b.kind is kind]


def assert_well_formed(doc: ParsedDocument) -> None:
    """The invariants every parser must keep."""
    assert doc.text == unicodedata.normalize("NFC", doc.text)
    assert "\n\n\n" not in doc.text and doc.text == doc.text.strip()
    previous_end = -2
    for block in doc.blocks:
        assert doc.text[previous_end : block.start] in ("", "\n\n") or previous_end < 0
        assert block.start < block.end
        assert doc.text[block.start : block.end] == doc.text[block.start : block.end].strip()
        for start, end in block.units:
            assert block.start <= start < end <= block.end
        previous_end = block.end
    assert previous_end == len(doc.text)


def test_markdown_sample_sections_table_and_title():
    doc = parse_markdown((SAMPLES / "acme-annual-report-2024.md").read_bytes(), "acme.md")
    assert_well_formed(doc)
    assert doc.title == "Acme Instruments Inc. Annual Report 2024"
    assert doc.page_count == 1
    by_text = {doc.text[b.start : b.end][:25]: b for b in doc.blocks}
    gross = by_text["Gross margin improved to "]
    assert gross.section_path == (
        "Acme Instruments Inc. Annual Report 2024",
        "Item 7. Management's Discussion and Analysis",
        "Results of Operations",
    )
    risk = by_text["Acme buys most optical se"]
    assert risk.section_path == (
        "Acme Instruments Inc. Annual Report 2024",
        "Item 1A. Risk Factors",
    )
    # Hard-wrapped lines are one paragraph, joined with a space.
    assert "Total revenue rose 12.4% to $482.6 million, driven by demand" in doc.text
    (table,) = [b for b in doc.blocks if b.kind is BlockKind.TABLE]
    assert table.modality is Modality.TABLE
    rows = [doc.text[s:e] for s, e in table.units]
    assert rows[0] == "Line item (USD millions) | Fiscal 2024 | Fiscal 2023"
    assert rows[1] == "Revenue | 482.6 | 429.4"
    assert len(rows) == 8  # header + 7 rows; the |---| separator is not a row
    assert table.section_path[-1] == "Consolidated Income Statement"
    assert "#" not in doc.text and "|---" not in doc.text


def test_html_sample_sections_title_and_pre_heading_text():
    doc = parse_html((SAMPLES / "zentrivex-label.html").read_bytes(), "zentrivex-label.html")
    assert_well_formed(doc)
    assert doc.title == "Zentrivex (velorapine tablets) Prescribing Information"
    first = doc.blocks[0]
    assert doc.text[first.start : first.end].startswith("Fictional drug label")
    assert first.section_path == ()
    hepato = next(b for b in doc.blocks if doc.text[b.start : b.end].startswith("Elevations"))
    assert hepato.section_path == (
        "Zentrivex (velorapine tablets) Prescribing Information",
        "5 Warnings and Precautions",
        "5.1 Hepatotoxicity",
    )
    dose = next(b for b in doc.blocks if "reduce the dose to 20 mg" in doc.text[b.start : b.end])
    assert dose.section_path[-1] == "2 Dosage and Administration"
    assert "<" not in doc.text


def test_html_drops_scripts_and_navigation_and_keeps_tables_and_inline_text():
    html = b"""<html><head><title>T</title><style>p{}</style></head><body>
    <nav>Home | About</nav><script>alert('x')</script>
    <h2>Dosing</h2><div>Take <b>one</b> tablet<br>daily. <!-- hidden --></div>
    <table><thead><tr><th>Dose</th><th>Age</th></tr></thead>
    <tbody><tr><td>20&nbsp;mg</td><td>adults</td></tr>
    <tr><td>10 mg</td><td>children</td></tr></tbody>
    </table></body></html>"""
    doc = parse_html(html, "x.html")
    assert_well_formed(doc)
    assert block_texts(doc) == [
        "Dosing",
        "Take one tablet daily.",
        "Dose | Age\n20 mg | adults\n10 mg | children",
    ]
    assert doc.blocks[2].kind is BlockKind.TABLE and doc.blocks[2].section_path == ("Dosing",)


def test_pdf_sample_pages_and_title():
    doc = parse_pdf((SAMPLES / "northwind-q3-2024.pdf").read_bytes(), "northwind-q3-2024.pdf")
    assert_well_formed(doc)
    assert doc.title == "Northwind Freight Corp. Quarterly Report Q3 2024"
    assert doc.page_count == 2
    pages = {doc.text[b.start : b.end]: b.page for b in doc.blocks}
    assert pages["Highlights"] == 1
    assert pages["Outlook"] == 2
    revenue = next(t for t in pages if t.startswith("Quarterly revenue"))
    assert pages[revenue] == 1
    # Lines of one paragraph are joined into it.
    assert revenue.endswith("Operating margin was 9.7%. The fleet grew to 1,240 trucks.")
    outlook = next(t for t in pages if t.startswith("Management expects"))
    assert pages[outlook] == 2 and "Fuel costs remain" in outlook


def _pdf_bytes(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\nthis is not really a PDF",
        b"plain words, not a PDF",
        (SAMPLES / "northwind-q3-2024.pdf").read_bytes()[:700],
    ],
    ids=["garbage", "no-header", "truncated"],
)
def test_malformed_pdf_is_invalid_argument(data):
    with pytest.raises(InvalidArgument, match="PDF"):
        parse_pdf(data, "bad.pdf")


def test_password_protected_pdf_is_invalid_argument():
    writer = PdfWriter(clone_from=SAMPLES / "northwind-q3-2024.pdf")
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    with pytest.raises(InvalidArgument, match="encrypted"):
        parse_pdf(_pdf_bytes(writer), "locked.pdf")


def test_pdf_encrypted_without_user_password_opens():
    writer = PdfWriter(clone_from=SAMPLES / "northwind-q3-2024.pdf")
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    assert "Fuel costs" in parse_pdf(_pdf_bytes(writer), "open.pdf").text


def test_pdf_without_text_layer_is_invalid_argument():
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_blank_page(612, 792)
    with pytest.raises(InvalidArgument, match="no extractable text in 2 page"):
        parse_pdf(_pdf_bytes(writer), "scan.pdf")


def test_text_paragraphs_whitespace_and_unicode_are_normalised():
    raw = (
        "Cafe\u0301  costs\t\u00a0 4\u00a0\u20ac.\r\nStill the same\u200b paragraph.\n \nNext one."
    )
    doc = parse_text(raw.encode("utf-8"), "notes/readme.txt")
    assert doc.text == "Caf\u00e9 costs 4 \u20ac. Still the same paragraph.\n\nNext one."
    assert doc.title == "readme.txt"


def test_legacy_encodings_and_boms_decode():
    assert decode_text(
        "Gr\u00fc\u00dfe aus K\u00f6ln, sch\u00f6ne Gr\u00fc\u00dfe".encode("cp1252")
    ) == ("Gr\u00fc\u00dfe aus K\u00f6ln, sch\u00f6ne Gr\u00fc\u00dfe")
    assert decode_text("\ufeffhello".encode("utf-8")) == "hello"
    assert decode_text("hello".encode("utf-16")) == "hello"


def test_markdown_front_matter_code_lists_and_inline_markup():
    md = b"""---
title: Dosing notes
---
Intro with **bold**, `code` and a [link](http://x).

- first item
- second item

```
x = 1
```
"""
    doc = parse_markdown(md, "notes.md")
    assert doc.title == "Dosing notes"
    assert block_texts(doc) == [
        "Intro with bold, code and a link.",
        "first item",
        "second item",
        "x = 1",
    ]
    assert doc.blocks[-1].kind is BlockKind.CODE


def test_ocr_lines_become_paragraphs_with_their_lowest_confidence():
    doc = ocr_document(OcrPage(LAB_LINES, 1100, 520, "fake"), "scans/lab.png")
    assert_well_formed(doc)
    texts = block_texts(doc)
    # The two boxes on the glucose line are joined into one line.
    assert "Glucose 98 mg/dL (reference 70-99)" in texts
    glucose = doc.blocks[texts.index("Glucose 98 mg/dL (reference 70-99)")]
    assert glucose.modality is Modality.OCR
    assert glucose.confidence == pytest.approx(0.62)
    assert doc.title == "lab.png"


def test_file_name_of_paths_and_uris():
    assert file_name("reports/2024/acme.md") == "acme.md"
    assert file_name("https://example.org/docs/label%20v2.html?x=1") == "label v2.html"
    assert file_name("C:\\docs\\a.pdf") == "a.pdf"
