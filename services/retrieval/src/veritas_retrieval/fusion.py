"""Hybrid score fusion, done in our own code so every index backend ranks the same way.

We use relative-score fusion: a convex combination of normalised BM25 and dense scores,
`alpha * dense + (1 - alpha) * bm25`. It is what Weaviate's hybrid query does by default
(`relativeScoreFusion`, same `alpha` convention), so moving from the embedded LanceDB index to the
production Weaviate backend keeps rankings and the meaning of `alpha` stable. Unlike reciprocal
rank fusion it keeps score magnitudes: a chunk that is a far better lexical match than the
runner-up stays far ahead, and callers can threshold the fused score.

Normalisation: BM25 is divided by the best BM25 score among the candidates (0 is BM25's natural
floor, so a weak lexical hit still beats a non-hit); the dense cosine is min-max scaled over all
candidates, because every candidate has an exact cosine (we compute it for lexical hits too).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def relative_score_fusion(
    bm25: Mapping[K, float], dense: Mapping[K, float], alpha: float
) -> dict[K, float]:
    """Fused scores in [0, 1] for every key of `dense` (all candidates); keys missing from
    `bm25` were not lexical matches and contribute 0 on that side."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    best_bm25 = max(bm25.values(), default=0.0)
    low, high = min(dense.values(), default=0.0), max(dense.values(), default=0.0)
    fused: dict[K, float] = {}
    for key, cosine in dense.items():
        lexical = bm25.get(key, 0.0) / best_bm25 if best_bm25 > 0 else 0.0
        # All candidates equally similar: the dense side cannot separate them.
        semantic = (cosine - low) / (high - low) if high > low else 1.0
        fused[key] = alpha * semantic + (1.0 - alpha) * lexical
    return fused
