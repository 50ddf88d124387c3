"""Settings of the retrieval service (`VERITAS_*` environment variables)."""

from __future__ import annotations

from pydantic import Field

from veritas_common.settings import VeritasSettings, default_addr


class RetrievalSettings(VeritasSettings):
    """Retrieval settings; every field is read from `VERITAS_<FIELD>`."""

    # The embedding service that embeds chunks on Upsert and queries on Search.
    embedding_addr: str = default_addr("embedding")
    # Weight of the dense score in hybrid fusion: 1 is pure vector, 0 pure BM25 (Weaviate's
    # convention, so the production backend reads the same value).
    retrieval_hybrid_alpha: float = Field(default=0.5, ge=0.0, le=1.0)
    # Candidates each of BM25 and vector search contribute before fusion (at least top_k).
    retrieval_candidate_pool: int = Field(default=50, ge=1)
    # Results returned when a request leaves top_k at 0.
    retrieval_default_top_k: int = Field(default=10, ge=1)
    # Largest top_k accepted (larger requests get RESOURCE_EXHAUSTED).
    retrieval_max_top_k: int = Field(default=200, ge=1)
    # Longest query accepted, in characters.
    retrieval_max_query_chars: int = Field(default=4_000, ge=1)
    # Most chunks accepted in one Upsert request.
    retrieval_max_upsert_chunks: int = Field(default=4_096, ge=1)
    # Texts per Embed call to the embedding service during Upsert.
    retrieval_embed_batch_size: int = Field(default=64, ge=1)
    # Compact the table and fold new rows into the BM25 index every this many writes
    # (new rows are searchable before that, just scanned instead of indexed).
    retrieval_optimize_every: int = Field(default=20, ge=1)
