"""Dynamic batching: concurrent Embed requests arriving within a few milliseconds share one
forward pass, which is several times cheaper than one pass per request.

One asyncio worker drains a queue; the model runs in a worker thread so the event loop keeps
accepting requests (and filling the next batch) while a pass is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from veritas_common.contract import EmbedKind
from veritas_common.errors import FailedPrecondition
from veritas_embedding import metrics
from veritas_embedding.embedder import Embedder

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    texts: list[str]
    kind: EmbedKind
    future: asyncio.Future[np.ndarray]
    enqueued: float = field(default_factory=time.perf_counter)


class DynamicBatcher:
    """Merges concurrent `embed` calls of the same kind into passes of at most `max_batch_size`
    texts. A single request larger than that runs alone (the embedder splits it internally)."""

    def __init__(self, embedder: Embedder, *, max_batch_size: int = 64, max_wait_ms: float = 5.0):
        self.embedder = embedder
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self._pending: deque[_Pending] = deque()
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts the worker on the running event loop (idempotent)."""
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stops the worker; requests still queued fail with FailedPrecondition."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        while self._pending:
            item = self._pending.popleft()
            if not item.future.done():
                item.future.set_exception(FailedPrecondition("embedding service is stopping"))

    async def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        """Vectors for `texts`, computed in a pass shared with other concurrent callers."""
        if self._worker is None or self._worker.done():
            raise FailedPrecondition(
                "embedding service is not ready (model loading or shutting down)"
            )
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(list(texts), kind, future))
        self._arrived.set()
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
            batch = await self._collect(loop.time() + self.max_wait_s)
            try:
                await self._process(batch)
            except Exception:  # keep serving; the callers already got the error
                log.exception("embedding batch failed")

    async def _collect(self, deadline: float) -> list[_Pending]:
        """Takes the oldest request, then same-kind requests until the batch is full or the
        wait window closes. Requests of the other kind stay queued, in order, for the next pass."""
        first = self._pending.popleft()
        batch, size = [first], len(first.texts)
        while size < self.max_batch_size:
            fits = next(
                (
                    p
                    for p in self._pending
                    if p.kind == first.kind and size + len(p.texts) <= self.max_batch_size
                ),
                None,
            )
            if fits is not None:
                self._pending.remove(fits)
                batch.append(fits)
                size += len(fits.texts)
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            # Wait for the next arrival (or the deadline); items stay in the deque, so a
            # timeout can never lose one.
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
        return batch

    async def _process(self, batch: list[_Pending]) -> None:
        live = [p for p in batch if not p.future.done()]  # callers that gave up are skipped
        if not live:
            return
        texts = [t for p in live for t in p.texts]
        kind = live[0].kind
        start = time.perf_counter()
        for p in live:
            metrics.QUEUE_WAIT.observe(start - p.enqueued)
        try:
            vectors = await asyncio.to_thread(self.embedder.embed, texts, kind)
        except Exception as exc:
            for p in live:
                if not p.future.done():
                    p.future.set_exception(exc)
            raise
        metrics.INFERENCE_DURATION.observe(time.perf_counter() - start)
        metrics.BATCH_SIZE.observe(len(texts))
        metrics.TEXTS.labels(kind.value).inc(len(texts))
        offset = 0
        for p in live:
            if not p.future.done():
                p.future.set_result(vectors[offset : offset + len(p.texts)])
            offset += len(p.texts)
