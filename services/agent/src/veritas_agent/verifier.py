"""Claim verification: does the evidence a claim cites support it?

`ClaimVerifier` is the interface, with two checks:
- `verify(claim, quotes)`: the claim against the quotes it cites (abstractive answers, the
  Verify tool): SUPPORTED, CONTRADICTED or UNSUPPORTED;
- `check_extractive(question, claim, context)`: an extractive claim is a quoted sentence, so
  checking it against itself proves nothing; the judge-backed verifier asks instead whether the
  sentence (in its context) decides the question, and drops it when it does not.

`JudgeVerifier` is the default (the project's evidence judge); `SimilarityPolarityVerifier` is
the named fallback without a judge. Both require every number of a claim to be written in, or
re-derived by the calculator from, the cited quotes (`numeric.check_numbers`). The agent treats
CONTRADICTED like UNSUPPORTED and refuses with "evidence contradicts" when that is all there is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from veritas_agent.calculator import Calculator
from veritas_agent.evidence import cosine
from veritas_agent.judging import CachedJudge
from veritas_agent.lexical import content_words, overlap
from veritas_agent.numeric import check_numbers
from veritas_agent.polarity import conflict
from veritas_common.clients import TextEmbedder
from veritas_common.contract import EmbedKind, Support
from veritas_common.judge import CONTRADICT, NEI, SUPPORT


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

    async def check_extractive(self, question: str, claim: str, quotes: Sequence[str]) -> Verdict:
        """Verdict on an extractive claim (a quoted sentence; `quotes` are its cited spans, the
        sentence first in its context where known). Without a judge: the claim against its
        quotes."""
        return await self.verify(claim, quotes)


class JudgeVerifier(ClaimVerifier):
    """The evidence judge (`veritas_common.judge`) as verifier.

    - abstractive: numbers first (written in or derivable from the quotes, else UNSUPPORTED);
      then the judge reads the claim with each quote: when no quote decides it (P(decides)
      below `claim_threshold`) the claim is UNSUPPORTED, else CONTRADICTED when the strongest
      contradiction outweighs the strongest support, else SUPPORTED;
    - extractive: the judge reads the question with the quoted sentence in its context; it is
      SUPPORTED (answers the question) when P(decides) reaches `answer_threshold` (the
      answerability gate's: the sentence already cleared the relevance bar to be selected).
    """

    def __init__(
        self,
        judge: CachedJudge,
        calculator: Calculator,
        *,
        answer_threshold: float = 0.05,
        claim_threshold: float = 0.5,
    ) -> None:
        self.judge = judge
        self.calculator = calculator
        self.answer_threshold = answer_threshold
        self.claim_threshold = claim_threshold

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.judge.name

    def warm_up(self) -> None:
        self.judge.warm_up()

    async def verify(self, claim: str, quotes: Sequence[str]) -> Verdict:
        quotes = [q for q in quotes if q.strip()]
        if not quotes:
            return Verdict(Support.UNSUPPORTED, 0.0, "no cited evidence")
        numbers = check_numbers(claim, quotes, self.calculator)
        if not numbers.grounded:
            return Verdict(Support.UNSUPPORTED, 0.0, numbers.describe())
        p = await self.judge.probabilities(claim, quotes)
        support, contradict = float(p[:, SUPPORT].max()), float(p[:, CONTRADICT].max())
        decides = float((1.0 - p[:, NEI]).max())
        measured = f"P(support) {support:.2f}, P(contradict) {contradict:.2f}"
        if numbers.derived:
            measured += f"; derived {numbers.describe()}"
        if decides < self.claim_threshold:
            return Verdict(
                Support.UNSUPPORTED,
                round(decides, 4),
                f"quotes do not decide the claim ({decides:.2f} below "
                f"{self.claim_threshold:.2f}; {measured})",
            )
        if contradict > support:
            return Verdict(Support.CONTRADICTED, round(contradict, 4), measured)
        return Verdict(Support.SUPPORTED, round(support, 4), measured)

    async def check_extractive(self, question: str, claim: str, quotes: Sequence[str]) -> Verdict:
        if not quotes:
            return Verdict(Support.UNSUPPORTED, 0.0, "no cited evidence")
        p = await self.judge.probabilities(question, list(quotes[:1]))
        decides = float(1.0 - p[0, NEI])
        if decides < self.answer_threshold:
            return Verdict(
                Support.UNSUPPORTED,
                round(decides, 4),
                f"does not answer the question ({decides:.2f} below {self.answer_threshold:.2f})",
            )
        return Verdict(
            Support.SUPPORTED, round(decides, 4), f"answers the question ({decides:.2f})"
        )


class SimilarityPolarityVerifier(ClaimVerifier):
    """Three checks, in order:

    1. every number in the claim appears in the quotes (1,240 and 1240, 48.10% and 48.1 are
       the same number) or is derived from two of theirs, else UNSUPPORTED: catches invented
       figures;
    2. relatedness = w * best cosine(claim, quote) + (1 - w) * share of the claim's content
       words found in the quotes must reach `threshold`, else UNSUPPORTED: catches unrelated
       text, while paraphrases ("DUSP4 loss" vs "DUSP4 downregulation") still count;
    3. the claim must not take the opposite side of the quotes on direction or valence
       (`polarity.conflict`), else CONTRADICTED.

    A related claim that passes all three is SUPPORTED. The embedding service gives the
    cosines (all-MiniLM-L6-v2 on the embedded default).
    """

    name = "fallback:similarity-polarity"

    def __init__(
        self,
        embedder: TextEmbedder,
        calculator: Calculator,
        *,
        similarity_weight: float = 0.5,
        threshold: float = 0.34,
    ) -> None:
        self.embedder = embedder
        self.calculator = calculator
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
        numbers = check_numbers(claim, quotes, self.calculator)
        if not numbers.grounded:
            return Verdict(Support.UNSUPPORTED, 0.0, numbers.describe())
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
