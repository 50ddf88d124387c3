"""The engine interface every generation backend implements, and the types it speaks.

A backend turns `GenerationParams` into a `GenerationStream` of `GenerationChunk`s: text deltas,
then one final chunk with the finish reason and usage. The unary result is the same stream
collected, so a streamed completion always concatenates to the unary one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

# Finish reasons (the proto's GenerateResponse.finish_reason).
FINISH_STOP = "stop"  # the model ended the text (end-of-sequence, or a complete constrained output)
FINISH_LENGTH = "length"  # max_new_tokens reached: the text is truncated
FINISH_STOP_SEQUENCE = "stop_sequence"  # one of the request's stop strings was produced

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class GenerationParams:
    """One request. Zero values mean "use the default", as in the proto."""

    messages: tuple[ChatMessage, ...]
    max_new_tokens: int = 0
    temperature: float = 0.0  # 0 decodes greedily
    top_p: float = 1.0
    seed: int = 0  # 0 draws a random seed
    json_schema: str = ""  # empty for free text
    adapter_id: str = ""  # empty for the base model
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationUsage:
    prompt_tokens: int
    completion_tokens: int
    prefill_ms: float  # from the start of the engine's work on the request to the first token
    decode_ms: float  # from the first token to the last


@dataclass(frozen=True)
class GenerationChunk:
    """A text delta; the last chunk of a stream also carries finish_reason and usage."""

    delta: str
    finish_reason: str = ""
    usage: GenerationUsage | None = None

    @property
    def is_final(self) -> bool:
        return bool(self.finish_reason)


@dataclass(frozen=True)
class GenerationResult:
    text: str
    finish_reason: str
    model: str
    usage: GenerationUsage


@dataclass(frozen=True)
class KvCacheStats:
    used_bytes: int  # KV cache held by the sequences being decoded now
    total_bytes: int  # 0 when the engine's cache is unbounded


@dataclass(frozen=True)
class EngineStats:
    model: str
    engine: str
    kv_cache: KvCacheStats
    queue_length: int  # requests waiting for the engine
    running: int  # requests being decoded
    generated_tokens_total: int


@dataclass(frozen=True)
class RequestRecord:
    """What a finished request reports to the stat logger."""

    prompt_tokens: int
    completion_tokens: int
    queue_s: float
    prefill_s: float
    decode_s: float
    finish_reason: str
    # For JSON-Schema requests: "valid", "invalid" or "truncated"; empty for free text.
    constrained_outcome: str = ""


class StatLogger(Protocol):
    """Receives engine statistics as they happen; `metrics.PrometheusStatLogger` exports them."""

    def on_scheduler(self, queue_length: int, running: int) -> None: ...

    def on_kv_cache(self, used_bytes: int) -> None: ...

    def on_request_finished(self, record: RequestRecord) -> None: ...


class NullStatLogger:
    def on_scheduler(self, queue_length: int, running: int) -> None:
        pass

    def on_kv_cache(self, used_bytes: int) -> None:
        pass

    def on_request_finished(self, record: RequestRecord) -> None:
        pass


_END = object()


@dataclass
class GenerationStream:
    """The chunks of one request, produced by an engine thread and consumed with `for` or
    `async for`. `cancel()` asks the engine to stop (or never start) decoding it."""

    model: str
    _items: collections.deque[object] = field(default_factory=collections.deque, init=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False)
    _wakers: list[Callable[[], None]] = field(default_factory=list, init=False)
    _cancelled: threading.Event = field(default_factory=threading.Event, init=False)
    _done: bool = field(default=False, init=False)  # the consumer reached the end
    _ended: bool = field(default=False, init=False)  # the producer pushed the end

    # Producer side (the engine).

    def put(self, chunk: GenerationChunk) -> None:
        self._push(chunk)
        if chunk.is_final:
            self.end()

    def fail(self, error: BaseException) -> None:
        self._push(error)
        self.end()

    def end(self) -> None:
        """Marks the end of the stream (idempotent); a stream that ends without a final chunk
        was cancelled."""
        with self._cond:
            if self._ended:
                return
            self._ended = True
        self._push(_END)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def _push(self, item: object) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()
            wakers = list(self._wakers)
        for wake in wakers:
            wake()

    # Consumer side.

    def cancel(self) -> None:
        self._cancelled.set()

    def _take(self) -> GenerationChunk | None:
        """The next chunk, None at the end; raises the engine's error. Caller holds _cond."""
        item = self._items.popleft()
        if item is _END:
            self._done = True
            return None
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, GenerationChunk)
        return item

    def __iter__(self) -> Iterator[GenerationChunk]:
        return self

    def __next__(self) -> GenerationChunk:
        with self._cond:
            while not self._done and not self._items:
                self._cond.wait()
            chunk = None if self._done else self._take()
        if chunk is None:
            raise StopIteration
        return chunk

    def __aiter__(self) -> AsyncIterator[GenerationChunk]:
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[GenerationChunk]:
        # The engine thread wakes this coroutine through the loop; no executor thread waits.
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()

        def wake() -> None:
            # A closed loop means nobody is listening any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(ready.set)

        with self._cond:
            self._wakers.append(wake)
        try:
            while True:
                with self._cond:
                    chunk = self._take() if self._items and not self._done else None
                    finished = self._done
                    if chunk is None and not finished:
                        ready.clear()
                if chunk is not None:
                    yield chunk
                elif finished:
                    return
                else:
                    await ready.wait()
        finally:
            with self._cond:
                self._wakers.remove(wake)


def collect(chunks: Iterator[GenerationChunk], model: str) -> GenerationResult:
    """The unary result of a stream: its deltas joined, with the final chunk's metadata."""
    parts: list[str] = []
    for chunk in chunks:
        parts.append(chunk.delta)
        if chunk.is_final:
            assert chunk.usage is not None
            return GenerationResult("".join(parts), chunk.finish_reason, model, chunk.usage)
    raise RuntimeError("generation stream ended without a final chunk")


async def collect_async(stream: GenerationStream) -> GenerationResult:
    """`collect` for async callers; cancels the request if the caller goes away."""
    parts: list[str] = []
    try:
        async for chunk in stream:
            parts.append(chunk.delta)
            if chunk.is_final:
                assert chunk.usage is not None
                return GenerationResult(
                    "".join(parts), chunk.finish_reason, stream.model, chunk.usage
                )
    finally:
        stream.cancel()
    raise RuntimeError("generation stream ended without a final chunk")


class GenerationEngine(ABC):
    """A model server: FIFO requests in, streams of chunks out.

    Config goes in `__init__` (no I/O); `warm_up()` loads the model; `stream()` validates a
    request (raising `VeritasError`s before anything is queued) and returns its stream.
    """

    name: str
    model_name: str

    @abstractmethod
    def warm_up(self) -> None: ...

    @abstractmethod
    def stream(self, params: GenerationParams) -> GenerationStream: ...

    def generate(self, params: GenerationParams) -> GenerationResult:
        stream = self.stream(params)
        try:
            return collect(stream, self.model_name)
        finally:
            stream.cancel()

    @abstractmethod
    def stats(self) -> EngineStats: ...

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing here
        """Stops the engine's workers; queued requests fail."""
