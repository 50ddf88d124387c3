"""The `ChunkIndex` interface: what the retriever needs from a chunk index backend.

It is kept apart from any backend so the retriever and the contract tests depend on the
interface only, and another backend is one more implementation of it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from veritas_common.contract import SearchMode
from veritas_retrieval.models import ChunkRecord, ScoredChunk, SearchScope


class ChunkIndex(ABC):
    """A persistent chunk index with lexical, vector and hybrid search. Blocking methods;
    call them from a worker thread. `open()` is the warm-up."""

    @abstractmethod
    def open(self) -> None:
        """Opens (or prepares to create) the on-disk index."""

    @abstractmethod
    def close(self) -> None:
        """Releases the index; `open()` may be called again."""

    @property
    @abstractmethod
    def embedding_model(self) -> str | None:
        """Model id of the vectors in the index; None while it is empty and new."""

    @abstractmethod
    def upsert(self, chunks: Sequence[ChunkRecord], vectors: np.ndarray, model: str) -> int:
        """Adds chunks, replacing those with the same (tenant, chunk_id); returns the count."""

    @abstractmethod
    def delete(self, tenant: str, doc_id: str) -> int:
        """Removes every chunk of a tenant's document; returns how many were removed."""

    @abstractmethod
    def count(self) -> int:
        """Chunks in the index, all tenants."""

    @abstractmethod
    def search(
        self,
        query: str,
        query_vector: np.ndarray,
        scope: SearchScope,
        mode: SearchMode,
        top_k: int,
    ) -> list[ScoredChunk]:
        """The `top_k` best chunks in `scope`, best first; empty when nothing matches."""
