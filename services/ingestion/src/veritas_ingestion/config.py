"""Settings of the ingestion service (`VERITAS_*` environment variables)."""

from __future__ import annotations

from pydantic import Field

from veritas_common.settings import VeritasSettings, default_addr


class IngestionSettings(VeritasSettings):
    """Ingestion settings; every field is read from `VERITAS_<FIELD>`."""

    # Retrieval service that indexes (and embeds) the chunks.
    retrieval_addr: str = Field(default_factory=lambda: default_addr("retrieval"))
    # Vision service that reads text from images.
    vision_addr: str = Field(default_factory=lambda: default_addr("vision"))
    # Largest file accepted, in bytes; larger ones are refused with RESOURCE_EXHAUSTED.
    max_document_bytes: int = 50 * 1024 * 1024
    # Word budget of one chunk (structure decides first; this caps long sections).
    chunk_max_words: int = 180
    # Sentences a chunk repeats from the previous one when a section is split by the budget.
    chunk_overlap_sentences: int = 1
    # Chunks sent to the retrieval service per Upsert call.
    index_batch_size: int = 64
    # Seconds an Upsert call may take (the retrieval service embeds the chunks in it).
    index_timeout_s: float = 120.0
    # Files of one Ingest stream processed at once (answers still come in request order). One
    # file at a time leaves the embedding service one small request per file (a SciFact
    # abstract is ~12 texts); several in flight let its dynamic batcher merge them and overlap
    # parsing with indexing. Files indexed together hold at most index_batch_size chunks (a
    # larger file is indexed alone), so an Upsert never waits longer than before.
    ingest_concurrency: int = Field(default=8, ge=1)
