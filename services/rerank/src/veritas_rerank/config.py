"""Settings of the rerank service (`VERITAS_*` environment variables)."""

from __future__ import annotations

from pydantic import Field

from veritas_common.settings import VeritasSettings, default_addr


class RerankSettings(VeritasSettings):
    """Rerank settings; every field is read from `VERITAS_<FIELD>`."""

    # Path or hub id of a sentence-transformers CrossEncoder (e.g. a bge-reranker checkpoint).
    # Empty selects the embedded fallback, which is NOT a cross-encoder: it scores by cosine
    # similarity of bi-encoder embeddings from the embedding service.
    rerank_model: str = ""
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
