"""Claim verification: does the evidence a claim cites support it?

`ClaimVerifier` is the interface; `LexicalNumericVerifier` is the embedded backend. An NLI
backend (a cross-encoder entailment model, configured by path in production) implements the
same `verify` and is the one that can return `Support.CONTRADICTED`; the agent already treats
CONTRADICTED like UNSUPPORTED and refuses with "evidence contradicts" when that is all there is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from veritas_agent.lexical import content_words, numbers, overlap
from veritas_agent.models import Support


@dataclass(frozen=True)
class Verdict:
    support: Support
    # Confidence that the quotes support the claim, in [0, 1].
    score: float
    # Why, in a few words (goes into the trace).
    reason: str


class ClaimVerifier(ABC):
    """Decides whether cited quotes support a claim."""

    name: str = "verifier"

    def warm_up(self) -> None:  # noqa: B027 - optional hook, a no-op for model-free backends
        """Loads models; backends without any keep the default no-op."""

    @abstractmethod
    def verify(self, claim: str, quotes: Sequence[str]) -> Verdict:
        """Verdict on `claim` given the texts of the evidence it cites."""


class LexicalNumericVerifier(ClaimVerifier):
    """A claim is supported when every number in it appears in its cited quotes (1,240 and
    1240, 48.10% and 48.1 are the same number) and at least `overlap_threshold` of its
    content words do too. Catches invented figures and unrelated text; it cannot recognise
    a contradiction phrased in the quote's own words (that needs an NLI model)."""

    name = "lexical-numeric"

    def __init__(self, overlap_threshold: float = 0.6) -> None:
        self.overlap_threshold = overlap_threshold

    def verify(self, claim: str, quotes: Sequence[str]) -> Verdict:
        if not any(q.strip() for q in quotes):
            return Verdict(Support.UNSUPPORTED, 0.0, "no cited evidence")
        claim_words = content_words(claim)
        if not claim_words:
            return Verdict(Support.UNSUPPORTED, 0.0, "claim has no content words")
        cited = " \n".join(quotes)
        cited_numbers = set(numbers(cited))
        claim_numbers = set(numbers(claim))
        missing = sorted(claim_numbers - cited_numbers)
        number_share = (
            1.0 if not claim_numbers else (len(claim_numbers) - len(missing)) / len(claim_numbers)
        )
        word_share = overlap(claim_words, content_words(cited))
        score = round(word_share * number_share, 4)
        if missing:
            return Verdict(
                Support.UNSUPPORTED, score, "numbers not in cited evidence: " + ", ".join(missing)
            )
        if word_share < self.overlap_threshold:
            return Verdict(
                Support.UNSUPPORTED,
                score,
                f"word overlap {word_share:.2f} below {self.overlap_threshold:.2f}",
            )
        return Verdict(Support.SUPPORTED, score, f"word overlap {word_share:.2f}, numbers found")
