"""Baselines computed inside the harness, so a system's gain over them shows in the same run."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Function words carry no evidence; the list is short on purpose (a plain baseline).
STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "might",
        "more",
        "most",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "over",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "under",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "will",
        "with",
        "would",
    )
)
_WORD = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


class WordOverlapBaseline:
    """SUPPORTED when at least `threshold` of the claim's content words occur in the evidence,
    else UNSUPPORTED. It cannot say CONTRADICTED. The threshold is fixed up front (0.5), not
    tuned on the evaluation data."""

    name = "word-overlap"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def score(self, claim: str, evidence: Sequence[str]) -> float:
        words = content_words(claim)
        if not words:
            return 0.0
        seen = set().union(*(content_words(e) for e in evidence)) if evidence else set()
        return len(words & seen) / len(words)

    def verify(self, claim: str, evidence: Sequence[str]) -> tuple[str, float]:
        share = self.score(claim, evidence)
        return ("SUPPORTED" if share >= self.threshold else "UNSUPPORTED"), share
