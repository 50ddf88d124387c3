"""Sentence splitting: offsets are exact (citations depend on it) and units are sensible."""

from __future__ import annotations

import random

import pytest

from veritas_common.sentences import SentenceKind, split_sentences


def spans(text: str, **kwargs) -> list[tuple[str, str]]:
    return [(s.kind.value, s.text) for s in split_sentences(text, **kwargs)]


_WORD_TEXT = (
    "revenue rose 12.4% to $482.6 million Inc. Corp. e.g. the dose is 40 mg. U.S. "
    "Dr. J. Smith said ( ) \" ' ! ? ... 1,240 trucks | - * # 3. a) \t : ; Fiscal 2024"
)
_WORDS = _WORD_TEXT.split(" ")
_SEPARATORS = [" ", " ", " ", "\n", "\n\n", ". ", "! ", "? ", "\n- ", "\n| ", " |\n", "\n# "]


def random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 60)):
        parts.append(rng.choice(_WORDS))
        parts.append(rng.choice(_SEPARATORS))
    return "".join(parts)


@pytest.mark.parametrize("table", [False, True])
def test_every_span_is_the_text_slice(table):
    """Property over 400 random texts mixing prose, lists, tables and headings."""
    rng = random.Random(1234)
    for _ in range(400):
        text = random_text(rng)
        previous_end = 0
        for sentence in split_sentences(text, table=table):
            assert text[sentence.start : sentence.end] == sentence.text
            assert sentence.text and sentence.text == sentence.text.strip()
            assert sentence.start >= previous_end  # in order, never overlapping
            previous_end = sentence.end
            if sentence.header is not None:
                h = sentence.header
                assert text[h.start : h.end] == h.text


def test_abbreviations_decimals_and_initials_do_not_split():
    text = (
        "Acme Instruments Inc. is a maker of devices. Revenue rose 12.4% to $482.6 million, "
        "e.g. from spectrometers. Dr. J. Smith approved it! Was it 1,240.5 units? Yes."
    )
    assert [t for _, t in spans(text)] == [
        "Acme Instruments Inc. is a maker of devices.",
        "Revenue rose 12.4% to $482.6 million, e.g. from spectrometers.",
        "Dr. J. Smith approved it!",
        "Was it 1,240.5 units?",
        "Yes.",
    ]


def test_wrapped_lines_stay_in_one_sentence():
    text = "Total revenue rose 12.4% to\n$482.6 million, driven by demand for\nour products."
    [sentence] = split_sentences(text)
    assert sentence.text == text
    assert sentence.claim_text() == (
        "Total revenue rose 12.4% to $482.6 million, driven by demand for our products."
    )


def test_markdown_tables_rows_read_against_their_header():
    text = (
        "### Income\n\n"
        "| Line item (USD millions) | Fiscal 2024 | Fiscal 2023 |\n"
        "|---|---|---|\n"
        "| Revenue | 482.6 | 429.4 |\n"
        "| Net income | 61.3 | |\n"
    )
    heading, header, revenue, income = split_sentences(text)
    assert (heading.kind, heading.text) == (SentenceKind.HEADING, "Income")
    assert header.kind == SentenceKind.TABLE_HEADER and not header.claimable
    assert revenue.kind == SentenceKind.TABLE_ROW and revenue.header == header
    assert revenue.text == "| Revenue | 482.6 | 429.4 |"
    assert revenue.cells == ("Revenue", "482.6", "429.4")
    assert revenue.claim_text() == (
        "Line item (USD millions): Revenue; Fiscal 2024: 482.6; Fiscal 2023: 429.4."
    )
    assert income.claim_text() == "Line item (USD millions): Net income; Fiscal 2024: 61.3."


def test_table_chunks_without_markup_use_the_first_row_as_header():
    text = "Test\tResult\tRange\nHemoglobin\t13.5 g/dL\t12.0-15.5\nPlatelets\t250\t150-400\n"
    header, *rows = split_sentences(text, table=True)
    assert header.kind == SentenceKind.TABLE_HEADER
    assert [r.claim_text() for r in rows] == [
        "Test: Hemoglobin; Result: 13.5 g/dL; Range: 12.0-15.5.",
        "Test: Platelets; Result: 250; Range: 150-400.",
    ]


def test_list_items_are_sentences_without_their_markers():
    text = (
        "Adverse reactions:\n- Headache in 7% of patients\n- Nausea. Rarely, rash.\n1. Dizziness\n"
    )
    assert spans(text) == [
        ("prose", "Adverse reactions:"),
        ("list_item", "Headache in 7% of patients"),
        ("list_item", "Nausea."),
        ("list_item", "Rarely, rash."),
        ("list_item", "Dizziness"),
    ]
    assert split_sentences(text)[1].claim_text() == "Headache in 7% of patients."


def test_headings_of_extracted_text_are_recognised():
    # pypdf output of the Northwind sample: no markup, no blank lines.
    text = (
        "Northwind Freight Corp. Quarterly Report Q3 2024\n"
        "Northwind Freight Corp. is a fictional logistics company.\n"
        "Highlights\n"
        "Quarterly revenue was $88.4 million, up 6.1% from the third quarter of 2023.\n"
        "Net income was\n$9.1 million.\n"
    )
    assert spans(text) == [
        ("heading", "Northwind Freight Corp. Quarterly Report Q3 2024"),
        ("prose", "Northwind Freight Corp. is a fictional logistics company."),
        ("heading", "Highlights"),
        ("prose", "Quarterly revenue was $88.4 million, up 6.1% from the third quarter of 2023."),
        ("prose", "Net income was\n$9.1 million."),
    ]


def test_html_style_section_headings_are_not_claims():
    text = "2 Dosage and Administration\n\nThe recommended dose is 40 mg once daily.\n"
    heading, prose = split_sentences(text)
    assert heading.kind == SentenceKind.HEADING and not heading.claimable
    assert prose.claimable


def test_empty_and_blank_text():
    assert split_sentences("") == []
    assert split_sentences(" \n\n\t ") == []


def test_offsets_are_relative_to_the_given_text():
    text = "\n\n  First one.  Second one.\n"
    first, second = split_sentences(text)
    assert (first.start, first.end) == (4, 14)
    assert text[second.start : second.end] == "Second one."
