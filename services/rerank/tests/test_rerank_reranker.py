"""The reranker contract, run against every backend, plus what each backend adds."""

from __future__ import annotations

import math

import pytest
from prometheus_client import REGISTRY

from veritas_common.clients import EmbeddingClient
from veritas_common.contract import EmbedKind
from veritas_common.errors import FailedPrecondition, InvalidArgument, PeerUnavailable, TooLarge
from veritas_common.judge import EvidenceJudge
from veritas_common.testing import free_port
from veritas_embedding.testing import embedding_server
from veritas_rerank.__main__ import build_reranker
from veritas_rerank.config import RerankSettings
from veritas_rerank.reranker import (
    CrossEncoderReranker,
    EmbeddingSimilarityReranker,
    JudgeReranker,
    Reranker,
)

QUERY = "What dose of ibuprofen is given to adults?"
CANDIDATES = [
    "The quick brown fox jumps over the lazy dog.",
    "The recommended adult dose of ibuprofen is 200 to 400 mg every four to six hours.",
    "Revenue grew 12 percent in fiscal year 2023.",
    "Warfarin may increase the risk of bleeding.",
]


class RerankerContract:
    """Behaviour every `Reranker` backend must have. Subclasses provide `reranker`, warmed up,
    with max_candidates=8 and max_chars=500."""

    async def test_one_finite_score_per_candidate_in_request_order(self, reranker: Reranker):
        scores = await reranker.rerank(QUERY, CANDIDATES)
        assert len(scores) == len(CANDIDATES)
        assert all(isinstance(s, float) and math.isfinite(s) for s in scores)
        reversed_scores = await reranker.rerank(QUERY, CANDIDATES[::-1])
        assert reversed_scores == pytest.approx(scores[::-1], abs=1e-5)
        assert len(set(round(s, 7) for s in scores)) > 1  # the candidates are told apart

    async def test_scores_depend_on_the_query(self, reranker: Reranker):
        first = await reranker.rerank(QUERY, CANDIDATES)
        second = await reranker.rerank("Which drug raises the risk of bleeding?", CANDIDATES)
        assert first != pytest.approx(second, abs=1e-6)

    async def test_identical_candidates_get_identical_scores(self, reranker: Reranker):
        scores = await reranker.rerank(QUERY, [CANDIDATES[1], CANDIDATES[0], CANDIDATES[1]])
        assert scores[0] == pytest.approx(scores[2], abs=1e-5)

    async def test_no_candidates_give_no_scores(self, reranker: Reranker):
        assert await reranker.rerank(QUERY, []) == []

    async def test_empty_query_is_invalid(self, reranker: Reranker):
        with pytest.raises(InvalidArgument, match="query is empty"):
            await reranker.rerank("  ", CANDIDATES)

    async def test_limits(self, reranker: Reranker):
        with pytest.raises(TooLarge, match="9 candidates"):
            await reranker.rerank(QUERY, ["x"] * 9)
        with pytest.raises(TooLarge, match=r"candidates\[1\] has 501 characters"):
            await reranker.rerank(QUERY, ["x", "y" * 501])
        with pytest.raises(TooLarge, match="query has"):
            await reranker.rerank("q" * 501, ["x"])

    async def test_model_id_and_metrics(self, reranker: Reranker):
        labels = {"backend": reranker.backend}
        before = REGISTRY.get_sample_value("veritas_rerank_candidates_sum", labels) or 0.0
        await reranker.rerank(QUERY, CANDIDATES)
        after = REGISTRY.get_sample_value("veritas_rerank_candidates_sum", labels)
        assert after == before + len(CANDIDATES)
        assert reranker.model_id and reranker.backend


class TestCrossEncoderReranker(RerankerContract):
    @pytest.fixture
    async def reranker(self, tiny_cross_encoder):
        reranker = CrossEncoderReranker(
            str(tiny_cross_encoder), max_length=64, max_candidates=8, max_chars=500
        )
        await reranker.warm_up()
        return reranker

    def test_model_id_is_the_configured_model(self, reranker, tiny_cross_encoder):
        assert reranker.model_id == str(tiny_cross_encoder)

    async def test_scoring_before_warm_up_is_a_failed_precondition(self, tiny_cross_encoder):
        cold = CrossEncoderReranker(str(tiny_cross_encoder))
        with pytest.raises(FailedPrecondition, match="not loaded"):
            await cold.rerank(QUERY, CANDIDATES)

    async def test_a_model_with_several_outputs_is_refused(self, tmp_path, make_tiny_cross_encoder):
        path = make_tiny_cross_encoder(tmp_path / "three-labels", num_labels=3)
        with pytest.raises(FailedPrecondition, match="3 outputs"):
            await CrossEncoderReranker(str(path)).warm_up()


class TestEmbeddingSimilarityReranker(RerankerContract):
    @pytest.fixture
    async def reranker(self, minilm):
        async with embedding_server(minilm) as addr:
            client = EmbeddingClient(addr)
            reranker = EmbeddingSimilarityReranker(
                client, peer_wait_s=10, max_candidates=8, max_chars=500
            )
            await reranker.warm_up()
            yield reranker
            await client.close()

    def test_model_id_says_it_is_a_bi_encoder_fallback(self, reranker):
        assert reranker.model_id == (
            "fallback:bi-encoder-cosine(sentence-transformers/all-MiniLM-L6-v2)"
        )

    async def test_the_answer_scores_highest_and_scores_are_cosines(self, reranker, minilm):
        scores = await reranker.rerank(QUERY, CANDIDATES)
        assert max(range(len(scores)), key=scores.__getitem__) == 1
        query = minilm.embed([QUERY], EmbedKind.QUERY)[0]
        expected = minilm.embed(CANDIDATES, EmbedKind.PASSAGE) @ query
        assert scores == pytest.approx(expected.tolist(), abs=1e-5)

    async def test_warm_up_fails_when_the_embedding_service_never_comes(self):
        client = EmbeddingClient(f"127.0.0.1:{free_port()}")
        reranker = EmbeddingSimilarityReranker(client, peer_wait_s=0.5)
        with pytest.raises(PeerUnavailable, match="embedding"):
            await reranker.warm_up()
        await client.close()


class TestJudgeReranker(RerankerContract):
    """The default: the project's trained evidence judge."""

    @pytest.fixture(scope="class")
    def judge(self):
        judge = EvidenceJudge()
        judge.warm_up()
        return judge

    @pytest.fixture
    async def reranker(self, judge):
        reranker = JudgeReranker(judge, max_candidates=8, max_chars=500)
        await reranker.warm_up()
        return reranker

    def test_model_id_names_the_judge_and_its_weights(self, reranker):
        assert reranker.model_id.startswith("evidence-judge@")

    async def test_the_answer_scores_highest_and_scores_are_probabilities(self, reranker):
        scores = await reranker.rerank(QUERY, CANDIDATES)
        assert max(range(len(scores)), key=scores.__getitem__) == 1
        assert all(0.0 <= s <= 1.0 for s in scores)

    async def test_a_passage_scores_as_its_best_sentence(self, reranker):
        answer, noise = CANDIDATES[1], CANDIDATES[0]
        alone, buried = await reranker.rerank(QUERY, [answer, f"{noise} {answer} {noise}"])
        assert buried == pytest.approx(alone, abs=1e-4)


def test_build_reranker_picks_the_backend_from_settings(tiny_cross_encoder):
    judge, none = build_reranker(RerankSettings())
    assert isinstance(judge, JudgeReranker) and none is None
    few, _ = build_reranker(RerankSettings(rerank_judge_sentences=3))
    assert isinstance(few, JudgeReranker) and few.max_sentences == 3
    fallback, client = build_reranker(RerankSettings(rerank_backend="embedding_similarity"))
    assert isinstance(fallback, EmbeddingSimilarityReranker) and client is not None
    assert fallback.model_id.startswith("fallback:bi-encoder-cosine(")
    cross, none = build_reranker(
        RerankSettings(
            rerank_backend="cross_encoder",
            rerank_model=str(tiny_cross_encoder),
            rerank_max_candidates=3,
        )
    )
    assert isinstance(cross, CrossEncoderReranker) and none is None
    assert cross.max_candidates == 3
    with pytest.raises(ValueError, match="needs VERITAS_RERANK_MODEL"):
        build_reranker(RerankSettings(rerank_backend="cross_encoder"))
