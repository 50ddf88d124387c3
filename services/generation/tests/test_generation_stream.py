"""GenerationStream: the hand-off between the engine thread and sync or async consumers."""

from __future__ import annotations

import threading
import time

import pytest

from veritas_common.errors import InvalidArgument
from veritas_generation.engine import (
    GenerationChunk,
    GenerationStream,
    GenerationUsage,
    collect,
    collect_async,
)

USAGE = GenerationUsage(prompt_tokens=3, completion_tokens=2, prefill_ms=1.0, decode_ms=2.0)


def produce(stream: GenerationStream, items, delay_s: float = 0.01) -> threading.Thread:
    def run():
        for item in items:
            time.sleep(delay_s)
            if isinstance(item, BaseException):
                stream.fail(item)
            else:
                stream.put(item)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_sync_consumer_gets_chunks_in_order_and_stops_after_final():
    stream = GenerationStream(model="m")
    thread = produce(
        stream, [GenerationChunk("a"), GenerationChunk("b"), GenerationChunk("", "stop", USAGE)]
    )
    result = collect(stream, "m")
    thread.join()
    assert (result.text, result.finish_reason, result.usage) == ("ab", "stop", USAGE)
    assert list(stream) == []


async def test_async_consumer_is_woken_by_the_engine_thread():
    stream = GenerationStream(model="m")
    thread = produce(stream, [GenerationChunk("x"), GenerationChunk("y", "length", USAGE)])
    chunks = [chunk async for chunk in stream]
    thread.join()
    assert [c.delta for c in chunks] == ["x", "y"]
    assert chunks[-1].is_final and not chunks[0].is_final


async def test_engine_error_reaches_the_async_consumer_and_cancels():
    stream = GenerationStream(model="m")
    thread = produce(stream, [GenerationChunk("x"), InvalidArgument("bad")])
    with pytest.raises(InvalidArgument, match="bad"):
        await collect_async(stream)
    thread.join()
    assert stream.cancelled  # the engine is told to stop working for a consumer that left


def test_stream_ended_without_final_chunk_was_cancelled():
    stream = GenerationStream(model="m")
    stream.put(GenerationChunk("partial"))
    stream.end()
    stream.end()  # idempotent
    with pytest.raises(RuntimeError, match="without a final chunk"):
        collect(stream, "m")
