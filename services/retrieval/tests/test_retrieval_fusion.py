"""Relative-score fusion of BM25 and dense scores."""

from __future__ import annotations

import pytest

from veritas_retrieval.fusion import relative_score_fusion


def test_alpha_moves_the_ranking_between_lexical_and_dense():
    bm25 = {"lexical": 8.0, "both": 4.0}
    dense = {"lexical": 0.2, "both": 0.6, "semantic": 0.9}
    pure_dense = relative_score_fusion(bm25, dense, alpha=1.0)
    pure_bm25 = relative_score_fusion(bm25, dense, alpha=0.0)
    balanced = relative_score_fusion(bm25, dense, alpha=0.5)
    assert max(pure_dense, key=pure_dense.get) == "semantic"
    assert max(pure_bm25, key=pure_bm25.get) == "lexical"
    assert pure_bm25["semantic"] == 0.0  # not a lexical match
    # both: 0.5 * (0.6-0.2)/0.7 + 0.5 * 4/8 beats either single-signal chunk
    assert max(balanced, key=balanced.get) == "both"
    assert balanced["both"] == pytest.approx(0.5 * 0.4 / 0.7 + 0.25)


def test_scores_stay_in_unit_range_and_cover_every_candidate():
    fused = relative_score_fusion({"a": 1.5}, {"a": -0.1, "b": 0.3, "c": 0.3}, alpha=0.3)
    assert set(fused) == {"a", "b", "c"}
    assert all(0.0 <= s <= 1.0 for s in fused.values())


def test_degenerate_inputs():
    assert relative_score_fusion({}, {}, 0.5) == {}
    # one candidate: its dense side is 1 (nothing to separate), no lexical evidence
    assert relative_score_fusion({}, {"only": 0.4}, 0.5) == {"only": 0.5}
    with pytest.raises(ValueError):
        relative_score_fusion({}, {"a": 1.0}, 1.5)
