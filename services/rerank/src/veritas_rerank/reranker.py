"""Rerankers: score (query, candidate) pairs more precisely than first-stage retrieval.

`Reranker` is the interface; every backend passes the same contract tests:

- `JudgeReranker`: the embedded default, the project's own evidence judge (a cross-encoder
  trained from the development data, `veritas_common.judge`): a passage scores as its best
  sentence's P(the sentence decides the query).
- `CrossEncoderReranker`: a cross-encoder (sentence-transformers `CrossEncoder`) loaded from
  a configured path or hub id, e.g. a bge-reranker checkpoint in production.
- `EmbeddingSimilarityReranker`: the named fallback. It is NOT a cross-encoder: it scores by
  cosine similarity of all-MiniLM bi-encoder embeddings obtained from the embedding service,
  and its model id says so.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from veritas_common.clients import TextEmbedder
from veritas_common.contract import EmbedKind
from veritas_common.errors import FailedPrecondition, InvalidArgument, TooLarge, VeritasError
from veritas_common.judge import EvidenceJudge, decides
from veritas_common.sentences import split_sentences
from veritas_rerank import metrics


class Reranker(ABC):
    """Scores candidates against a query; config in `__init__`, loading in `warm_up()`.
    Scores come back in the order of the candidates; higher is more relevant."""

    # Short backend name used as a metric label.
    backend: str = ""

    def __init__(self, *, max_candidates: int = 512, max_chars: int = 20_000) -> None:
        self.max_candidates = max_candidates
        self.max_chars = max_chars

    @property
    @abstractmethod
    def model_id(self) -> str:
        """The model or method behind the scores (scales differ between models)."""

    @abstractmethod
    async def warm_up(self) -> None:
        """Loads the model or waits for the peer it scores through."""

    @abstractmethod
    async def _score(self, query: str, texts: list[str]) -> list[float]:
        """One score per text, in order; inputs are already validated and non-empty."""

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        """Validates the request, then scores every text against `query`."""
        if not query.strip():
            raise InvalidArgument("query is empty")
        if len(texts) > self.max_candidates:
            raise TooLarge(f"{len(texts)} candidates; the limit is {self.max_candidates}")
        for name, text in [
            ("query", query),
            *((f"candidates[{i}]", t) for i, t in enumerate(texts)),
        ]:
            if len(text) > self.max_chars:
                raise TooLarge(f"{name} has {len(text)} characters; the limit is {self.max_chars}")
        if not texts:
            return []
        start = time.perf_counter()
        scores = await self._score(query, list(texts))
        if len(scores) != len(texts):
            raise VeritasError(f"{self.model_id} returned {len(scores)} scores for {len(texts)}")
        metrics.RERANK_DURATION.labels(self.backend).observe(time.perf_counter() - start)
        metrics.RERANK_CANDIDATES.labels(self.backend).observe(len(texts))
        return scores


class CrossEncoderReranker(Reranker):
    """A sentence-transformers `CrossEncoder` with one relevance output, run in-process."""

    backend = "cross_encoder"

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = 512,
        max_candidates: int = 512,
        max_chars: int = 20_000,
    ) -> None:
        super().__init__(max_candidates=max_candidates, max_chars=max_chars)
        if not model:
            raise ValueError("CrossEncoderReranker needs a model path or hub id")
        self._model_ref = model
        self._device = device
        self._batch_size = batch_size
        self._max_length = max_length
        self._model: Any = None
        # One forward at a time: the fast tokenizer is not thread-safe and CPU cores are shared.
        self._lock = asyncio.Lock()

    @property
    def model_id(self) -> str:
        return self._model_ref

    async def warm_up(self) -> None:
        if self._model is None:
            self._model = await asyncio.to_thread(self._load)

    def _load(self) -> Any:
        from sentence_transformers import CrossEncoder  # heavy import, kept out of startup

        model = CrossEncoder(self._model_ref, device=self._device, max_length=self._max_length)
        if model.num_labels != 1:
            raise FailedPrecondition(
                f"{self._model_ref} has {model.num_labels} outputs; a reranker needs exactly one "
                "relevance score (an NLI or classification head is not a reranker)"
            )
        model.predict([("warm-up", "warm-up")], show_progress_bar=False)
        return model

    async def _score(self, query: str, texts: list[str]) -> list[float]:
        if self._model is None:
            raise FailedPrecondition(f"cross-encoder {self.model_id} is not loaded yet")
        pairs = [(query, text) for text in texts]
        async with self._lock:
            scores = await asyncio.to_thread(
                self._model.predict,
                pairs,
                batch_size=self._batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return [float(s) for s in np.asarray(scores, dtype=np.float64).reshape(-1)]


class JudgeReranker(Reranker):
    """The evidence judge, in-process: each passage is split into sentences (the common
    splitter), every (query, sentence) pair of the request goes through the judge in one
    batch, and a passage scores as its best sentence's P(decides), in [0, 1]."""

    backend = "evidence_judge"

    def __init__(
        self,
        judge: EvidenceJudge,
        *,
        max_sentences: int = 24,
        max_candidates: int = 512,
        max_chars: int = 20_000,
    ) -> None:
        super().__init__(max_candidates=max_candidates, max_chars=max_chars)
        self.judge = judge
        # Sentences read per passage (the first ones); each costs a cross-encoder pair.
        self.max_sentences = max_sentences

    @property
    def model_id(self) -> str:
        return self.judge.model_id

    async def warm_up(self) -> None:
        await asyncio.to_thread(self.judge.warm_up)

    def _sentences(self, text: str) -> list[str]:
        claimable = [s.claim_text() for s in split_sentences(text) if s.claimable]
        return claimable[: self.max_sentences] or [text]

    async def _score(self, query: str, texts: list[str]) -> list[float]:
        per_text = [self._sentences(t) for t in texts]
        flat = [s for sentences in per_text for s in sentences]
        probabilities = await asyncio.to_thread(self.judge.judge, query, flat)
        scores = decides(probabilities)
        out, start = [], 0
        for sentences in per_text:
            out.append(float(scores[start : start + len(sentences)].max()))
            start += len(sentences)
        return out


class WaitableEmbedder(TextEmbedder, Protocol):
    """What the fallback needs from the embedding service (`EmbeddingClient` provides it): it
    also waits for the service at start-up."""

    async def wait_ready(self, timeout_s: float) -> None: ...


class EmbeddingSimilarityReranker(Reranker):
    """Fallback reranker: cosine similarity between the query's and each candidate's bi-encoder
    embedding (from the embedding service). Not a cross-encoder: query and candidate never
    attend to each other, so it mostly re-states dense retrieval; it exists so the pipeline has
    a working, honestly named rerank stage when no cross-encoder is available offline."""

    backend = "embedding_similarity"

    def __init__(
        self,
        embedder: WaitableEmbedder,
        *,
        peer_wait_s: float = 600.0,
        max_candidates: int = 512,
        max_chars: int = 20_000,
    ) -> None:
        super().__init__(max_candidates=max_candidates, max_chars=max_chars)
        self.embedder = embedder
        self.peer_wait_s = peer_wait_s
        self._embedding_model = ""

    @property
    def model_id(self) -> str:
        return f"fallback:bi-encoder-cosine({self._embedding_model or 'embedding service'})"

    async def warm_up(self) -> None:
        """Waits for the embedding service and learns which model it serves."""
        await self.embedder.wait_ready(self.peer_wait_s)
        probe = await self.embedder.embed(["warm-up"], EmbedKind.QUERY)
        self._embedding_model = probe.model

    async def _score(self, query: str, texts: list[str]) -> list[float]:
        query_emb, text_emb = await asyncio.gather(
            self.embedder.embed([query], EmbedKind.QUERY),
            self.embedder.embed(texts, EmbedKind.PASSAGE),
        )
        self._embedding_model = text_emb.model
        # Rows are unit vectors, so the dot product is the cosine.
        return [float(s) for s in text_emb.vectors @ query_emb.vectors[0]]
