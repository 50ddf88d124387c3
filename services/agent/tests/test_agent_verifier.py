"""The lexical/numeric claim verifier and the word and number handling beneath it."""

from __future__ import annotations

import pytest

from veritas_agent.lexical import content_words, normalise_number, numbers, overlap
from veritas_agent.models import Support
from veritas_agent.verifier import ClaimVerifier, LexicalNumericVerifier

QUOTE = "Total revenue rose 12.4% to $482.6 million. The fleet grew to 1,240 trucks in 2024."


@pytest.fixture
def verifier() -> LexicalNumericVerifier:
    return LexicalNumericVerifier(overlap_threshold=0.6)


def test_is_a_claim_verifier(verifier):
    assert isinstance(verifier, ClaimVerifier) and verifier.name == "lexical-numeric"


def test_claim_equal_to_its_quote_is_supported_with_full_score(verifier):
    verdict = verifier.verify("Total revenue rose 12.4% to $482.6 million.", [QUOTE])
    assert verdict.support == Support.SUPPORTED and verdict.score == 1.0


@pytest.mark.parametrize(
    "claim",
    [
        "The fleet grew to 1240 trucks in 2024.",  # separators dropped
        "The fleet grew to 1,240.00 trucks in 2024.",  # trailing zeros
        "Revenues rose 12.40 percent to 482.6 million.",  # % written out, plural, zero
        "In 2024, the fleet grew to 1,240 trucks.",  # reordered
    ],
)
def test_reformatted_numbers_are_the_same_numbers(verifier, claim):
    verdict = verifier.verify(claim, [QUOTE])
    assert verdict.support == Support.SUPPORTED, verdict.reason


@pytest.mark.parametrize(
    ("claim", "missing"),
    [
        ("Total revenue rose 12.5% to $482.6 million.", "12.5"),
        ("Total revenue rose 12.4% to $500 million.", "500"),
        ("The fleet grew to 1,250 trucks in 2024.", "1250"),
        ("The fleet grew to 1,240 trucks in 2023.", "2023"),
        ("The fleet grew to three thousand trucks in 2024.", "3"),
    ],
)
def test_a_number_missing_from_the_quotes_makes_it_unsupported(verifier, claim, missing):
    verdict = verifier.verify(claim, [QUOTE])
    assert verdict.support == Support.UNSUPPORTED
    assert verdict.reason == f"numbers not in cited evidence: {missing}"
    assert 0.0 <= verdict.score < 1.0


def test_paraphrase_with_low_overlap_is_unsupported(verifier):
    verdict = verifier.verify("Sales climbed sharply thanks to strong demand.", [QUOTE])
    assert verdict.support == Support.UNSUPPORTED
    assert verdict.reason.startswith("word overlap") and "below 0.60" in verdict.reason
    assert verdict.score < 0.6


def test_unrelated_claim_scores_zero(verifier):
    verdict = verifier.verify("Paris is the capital of France.", [QUOTE])
    assert verdict.support == Support.UNSUPPORTED and verdict.score == 0.0


@pytest.mark.parametrize("quotes", [[], [""], ["   "]])
def test_claim_without_citations_is_unsupported(verifier, quotes):
    verdict = verifier.verify("Total revenue rose 12.4%.", quotes)
    assert verdict == verdict.__class__(Support.UNSUPPORTED, 0.0, "no cited evidence")


def test_claim_without_content_words_is_unsupported(verifier):
    assert verifier.verify("It was the one.", [QUOTE]).support == Support.UNSUPPORTED


def test_support_may_come_from_several_quotes(verifier):
    claim = "Line item (USD millions): Revenue; Fiscal 2024: 482.6."
    header = "| Line item (USD millions) | Fiscal 2024 | Fiscal 2023 |"
    row = "| Revenue | 482.6 | 429.4 |"
    assert verifier.verify(claim, [row]).support == Support.UNSUPPORTED
    assert verifier.verify(claim, [row, header]).support == Support.SUPPORTED


def test_threshold_is_configurable():
    claim = "Total revenue rose 12.4% to $482.6 million amid strong spectrometer sales."
    assert LexicalNumericVerifier(0.6).verify(claim, [QUOTE]).support == Support.SUPPORTED
    assert LexicalNumericVerifier(0.95).verify(claim, [QUOTE]).support == Support.UNSUPPORTED


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("1,240", "1240"), ("1240.00", "1240"), ("48.10", "48.1"), ("0.50", "0.5"), (".5", "0.5"),
     ("-3", "-3"), ("1,234,567.890", "1234567.89"), ("2024", "2024")],
)  # fmt: skip
def test_normalise_number(raw, norm):
    assert normalise_number(raw) == norm


def test_numbers_in_text():
    text = "Q3-2024 revenue was $88.4 million (up 6.1%), fleet 1,240; three times; FY2024 ─ -2"
    assert numbers(text) == ["2024", "88.4", "6.1", "1240", "-2", "3"]


def test_content_words_drop_stopwords_and_match_word_forms():
    assert content_words("What was Acme's total revenue in fiscal 2024?") == {
        "acm", "total", "revenu", "fiscal", "2024"
    }  # fmt: skip
    assert content_words("revenues increased") == content_words("Revenue increase")
    assert overlap(set(), {"a"}) == 0.0
    assert overlap({"a", "b"}, {"a"}) == 0.5
