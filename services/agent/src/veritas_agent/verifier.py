"""Claim verification: does the evidence a claim cites support it?

`ClaimVerifier` is the interface; `SimilarityPolarityVerifier` is the embedded backend. An NLI
backend (a cross-encoder entailment model, configured in production) implements the same
`verify`. The agent treats CONTRADICTED like UNSUPPORTED and refuses with "evidence contradicts"
when that is all there is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from veritas_agent.evidence import cosine
from veritas_agent.lexical import content_words, numbers, overlap
from veritas_agent.polarity import conflict
from veritas_common.clients import TextEmbedder
from veritas_common.contract import EmbedKind, Support


@dataclass(frozen=True)
class Verdict:
    support: Support
    # How strongly the quotes bear on the claim, in [0, 1] (relatedness; 0 when unusable).
    score: float
    # Why, in a few words (goes into the trace).
    reason: str


class ClaimVerifier(ABC):
    """Decides whether cited quotes support a claim."""

    name: str = "verifier"

    def warm_up(self) -> None:  # noqa: B027 - optional hook, a no-op for model-free backends
        """Loads models; backends without any keep the default no-op."""

    @abstractmethod
    async def verify(self, claim: str, quotes: Sequence[str]) -> Verdict:
        """Verdict on `claim` given the texts of the evidence it cites."""


class SimilarityPolarityVerifier(ClaimVerifier):
    """Three checks, in order:

    1. every number in the claim appears in the quotes (1,240 and 1240, 48.10% and 48.1 are
       the same number), else UNSUPPORTED: catches invented figures;
    2. relatedness = w * best cosine(claim, quote) + (1 - w) * share of the claim's content
       words found in the quotes must reach `threshold`, else UNSUPPORTED: catches unrelated
       text, while paraphrases ("DUSP4 loss" vs "DUSP4 downregulation") still count;
    3. the claim must not take the opposite side of the quotes on direction or valence
       (`polarity.conflict`), else CONTRADICTED.

    A related claim that passes all three is SUPPORTED. The embedding service gives the
    cosines (all-MiniLM-L6-v2 on the embedded default).
    """

    name = "similarity-polarity"

    def __init__(
        self, embedder: TextEmbedder, *, similarity_weight: float = 0.5, threshold: float = 0.34
    ) -> None:
        self.embedder = embedder
        self.similarity_weight = similarity_weight
        self.threshold = threshold

    async def verify(self, claim: str, quotes: Sequence[str]) -> Verdict:
        quotes = [q for q in quotes if q.strip()]
        if not quotes:
            return Verdict(Support.UNSUPPORTED, 0.0, "no cited evidence")
        claim_words = content_words(claim)
        if not claim_words:
            return Verdict(Support.UNSUPPORTED, 0.0, "claim has no content words")
        cited = " \n".join(quotes)
        missing = sorted(set(numbers(claim)) - set(numbers(cited)))
        if missing:
            return Verdict(
                Support.UNSUPPORTED, 0.0, "numbers not in cited evidence: " + ", ".join(missing)
            )
        vectors = (await self.embedder.embed([claim, *quotes], EmbedKind.PASSAGE)).vectors
        similarity = max(cosine(vectors[0], v) for v in vectors[1:])
        word_share = overlap(claim_words, content_words(cited))
        w = self.similarity_weight
        relatedness = min(1.0, max(0.0, w * similarity + (1 - w) * word_share))
        score = round(relatedness, 4)
        measured = f"similarity {similarity:.2f}, word overlap {word_share:.2f}"
        if relatedness < self.threshold:
            return Verdict(
                Support.UNSUPPORTED,
                score,
                f"relatedness {relatedness:.2f} below {self.threshold:.2f} ({measured})",
            )
        opposite = conflict(claim, cited)
        if opposite is not None:
            return Verdict(Support.CONTRADICTED, score, f"{opposite} ({measured})")
        return Verdict(Support.SUPPORTED, score, f"relatedness {relatedness:.2f} ({measured})")
