"""Client of the embedding service for the services that index or score with its vectors
(retrieval, rerank). Lives here so they do not depend on the embedding service's model stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from veritas.v1 import embedding_pb2, embedding_pb2_grpc
from veritas_common.client import Peer, wait_healthy
from veritas_common.errors import VeritasError
from veritas_common.settings import VeritasSettings


class EmbedKind(StrEnum):
    """Whether texts are search queries or passages; asymmetric models embed them differently."""

    QUERY = "query"
    PASSAGE = "passage"


_PROTO_KINDS = {
    EmbedKind.QUERY: embedding_pb2.EMBED_KIND_QUERY,
    EmbedKind.PASSAGE: embedding_pb2.EMBED_KIND_PASSAGE,
}


@dataclass(frozen=True)
class Embeddings:
    """Vectors (one unit-norm row per text) and the model that produced them."""

    vectors: np.ndarray
    model: str
    dim: int


class EmbeddingClient:
    """Embeds texts through the embedding service at `addr`, `batch_size` texts per request.

    The gRPC channel is opened on first use, so the client can be built before the event loop
    runs (grpc.aio channels belong to the loop they were created on)."""

    def __init__(
        self, addr: str, *, settings: VeritasSettings | None = None, batch_size: int = 64
    ) -> None:
        self.addr = addr
        self.batch_size = batch_size
        self._settings = settings or VeritasSettings()
        self._peer: Peer[embedding_pb2_grpc.EmbeddingServiceStub] | None = None

    @property
    def peer(self) -> Peer[embedding_pb2_grpc.EmbeddingServiceStub]:
        if self._peer is None:
            self._peer = Peer.from_settings(
                "embedding", self.addr, embedding_pb2_grpc.EmbeddingServiceStub, self._settings
            )
        return self._peer

    async def embed(self, texts: Sequence[str], kind: EmbedKind) -> Embeddings:
        """Vectors for `texts` in order; raises the service's errors as `VeritasError`s."""
        starts = range(0, len(texts), self.batch_size) if texts else [0]
        parts: list[np.ndarray] = []
        model, dim = "", 0
        for start in starts:
            request = embedding_pb2.EmbedRequest(
                texts=list(texts[start : start + self.batch_size]), kind=_PROTO_KINDS[kind]
            )
            reply = await self.peer.call("Embed", request)
            if model and (reply.model, reply.dim) != (model, dim):
                raise VeritasError("embedding service changed model in the middle of a request")
            model, dim = reply.model, reply.dim
            if len(reply.vectors) != len(request.texts):
                raise VeritasError(
                    f"embedding service returned {len(reply.vectors)} vectors "
                    f"for {len(request.texts)} texts"
                )
            parts.append(
                np.array([v.values for v in reply.vectors], dtype=np.float32).reshape(-1, dim)
            )
        return Embeddings(np.concatenate(parts), model, dim)

    async def wait_ready(self, timeout_s: float) -> None:
        """Waits until the embedding service reports SERVING (its model is loaded)."""
        await wait_healthy("embedding", self.addr, timeout_s)

    async def close(self) -> None:
        if self._peer is not None:
            await self._peer.close()
            self._peer = None
