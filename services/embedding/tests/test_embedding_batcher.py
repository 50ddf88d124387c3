"""The dynamic batcher with the real model: merging is asserted through the batch-size
histogram the service exports, not through timing."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from prometheus_client import REGISTRY

from veritas_common.contract import EmbedKind
from veritas_common.errors import FailedPrecondition
from veritas_embedding.batcher import DynamicBatcher
from veritas_embedding.embedder import Embedder


def batch_stats(le: str | None = None) -> tuple[float, float]:
    """(number of passes, texts embedded) so far; with `le`, passes of at most `le` texts."""
    name = "veritas_embedding_batch_size_texts"
    if le is not None:
        return REGISTRY.get_sample_value(f"{name}_bucket", {"le": le}) or 0.0, 0.0
    count = REGISTRY.get_sample_value(f"{name}_count") or 0.0
    total = REGISTRY.get_sample_value(f"{name}_sum") or 0.0
    return count, total


@pytest.fixture
async def batcher(minilm):
    batcher = DynamicBatcher(minilm, max_batch_size=64, max_wait_ms=50)
    batcher.start()
    yield batcher
    await batcher.stop()


SENTENCES = [f"Sentence number {i} is about topic {i % 3}." for i in range(8)]


async def test_concurrent_requests_share_one_forward_pass(batcher, minilm):
    passes, texts = batch_stats()
    results = await asyncio.gather(*(batcher.embed([s], EmbedKind.PASSAGE) for s in SENTENCES))
    passes_after, texts_after = batch_stats()
    assert texts_after - texts == len(SENTENCES)
    assert passes_after - passes == 1  # eight callers, one pass
    # Every caller got the vector of its own text.
    alone = minilm.embed(SENTENCES, EmbedKind.PASSAGE)
    np.testing.assert_allclose(np.vstack(results), alone, atol=1e-5)


async def test_batches_never_exceed_max_batch_size(minilm):
    batcher = DynamicBatcher(minilm, max_batch_size=4, max_wait_ms=50)
    batcher.start()
    passes, _ = batch_stats()
    small_passes, _ = batch_stats(le="4.0")
    results = await asyncio.gather(
        *(batcher.embed([s, s + " again"], EmbedKind.PASSAGE) for s in SENTENCES[:5])
    )
    await batcher.stop()
    passes_after, _ = batch_stats()
    small_after, _ = batch_stats(le="4.0")
    assert [r.shape for r in results] == [(2, 384)] * 5
    assert passes_after - passes == 3  # 2+2, 2+2, 2
    assert small_after - small_passes == 3  # every pass held at most 4 texts


async def test_queries_and_passages_are_not_mixed_in_one_pass(batcher):
    passes, _ = batch_stats()
    await asyncio.gather(
        batcher.embed(["a query"], EmbedKind.QUERY),
        batcher.embed(["a passage"], EmbedKind.PASSAGE),
        batcher.embed(["another query"], EmbedKind.QUERY),
    )
    passes_after, _ = batch_stats()
    assert passes_after - passes == 2


async def test_a_cancelled_caller_does_not_disturb_the_others(batcher):
    doomed = asyncio.ensure_future(batcher.embed(["cancel me"], EmbedKind.PASSAGE))
    kept = asyncio.ensure_future(batcher.embed(["keep me"], EmbedKind.PASSAGE))
    await asyncio.sleep(0)
    doomed.cancel()
    vector = await kept
    assert vector.shape == (1, 384)
    assert doomed.cancelled()


class FailingFakeEmbedder(Embedder):
    """Test fake: fails on a text containing 'fail', otherwise returns constant vectors."""

    model_id = "fake-failing"
    dim = 2

    def warm_up(self) -> None:
        pass

    def embed(self, texts, kind):
        if any("fail" in t for t in texts):
            raise RuntimeError("model exploded")
        return np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (len(texts), 1))


async def test_a_failed_pass_fails_its_callers_and_the_worker_keeps_serving():
    batcher = DynamicBatcher(FailingFakeEmbedder(), max_batch_size=8, max_wait_ms=20)
    batcher.start()
    outcomes = await asyncio.gather(
        batcher.embed(["fail"], EmbedKind.PASSAGE),
        batcher.embed(["innocent bystander"], EmbedKind.PASSAGE),
        return_exceptions=True,
    )
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert (await batcher.embed(["later"], EmbedKind.PASSAGE)).shape == (1, 2)
    await batcher.stop()


async def test_requests_are_refused_when_the_batcher_is_not_running(minilm):
    batcher = DynamicBatcher(minilm)
    with pytest.raises(FailedPrecondition, match="not ready"):
        await batcher.embed(["x"], EmbedKind.QUERY)
