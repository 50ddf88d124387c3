"""Settings of the rerank service (`VERITAS_*` environment variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from veritas_common.settings import VeritasSettings, default_addr


class RerankSettings(VeritasSettings):
    """Rerank settings; every field is read from `VERITAS_<FIELD>`."""

    # Which reranker scores: "evidence_judge" (the project's trained judge, in-process),
    # "cross_encoder" (a sentence-transformers CrossEncoder at `rerank_model`) or
    # "embedding_similarity" (the fallback, NOT a cross-encoder: cosine similarity of
    # bi-encoder embeddings from the embedding service).
    rerank_backend: Literal["evidence_judge", "cross_encoder", "embedding_similarity"] = (
        "evidence_judge"
    )
    # cross_encoder: path or hub id of the CrossEncoder (e.g. a bge-reranker checkpoint).
    # evidence_judge: directory of a judge; empty is the bundled one.
    rerank_model: str = ""
    # evidence_judge: sentences read per candidate passage.
    rerank_judge_sentences: int = Field(default=24, ge=1)
    # Torch device of the cross-encoder ("cpu", "cuda").
    rerank_device: str = "cpu"
    # Pairs per cross-encoder forward pass.
    rerank_batch_size: int = Field(default=32, ge=1)
    # Token window of the cross-encoder (query + candidate); longer pairs are truncated.
    rerank_max_length: int = Field(default=512, ge=8)
    # Most candidates accepted in one Rerank request.
    rerank_max_candidates: int = Field(default=512, ge=1)
    # Longest query or candidate text accepted, in characters.
    rerank_max_chars: int = Field(default=20_000, ge=1)
    # The embedding service the fallback reranker embeds through.
    embedding_addr: str = default_addr("embedding")
    # How long the fallback's warm-up waits for the embedding service to be SERVING, in seconds.
    rerank_peer_wait_s: float = Field(default=600.0, ge=0)
