"""The transformers backend: one worker thread decodes requests in FIFO order with its own token
loop over `model(...)` and a `DynamicCache`, which makes the time to first token, the KV cache of
the running request, stop strings and the grammar mask directly observable."""

from __future__ import annotations

import importlib.util
import logging
import math
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from veritas_common.errors import FailedPrecondition, InvalidArgument, TooLarge, VeritasError
from veritas_generation.adapters import AdapterRegistry
from veritas_generation.constraints import JsonMatcher, JsonSchemaCompiler, JsonSchemaConstraint
from veritas_generation.convert import is_checkpoint
from veritas_generation.decoding import TextAssembler
from veritas_generation.engine import (
    FINISH_LENGTH,
    FINISH_STOP,
    FINISH_STOP_SEQUENCE,
    ROLES,
    EngineStats,
    GenerationChunk,
    GenerationEngine,
    GenerationParams,
    GenerationStream,
    GenerationUsage,
    KvCacheStats,
    NullStatLogger,
    RequestRecord,
    StatLogger,
)

log = logging.getLogger(__name__)

# Internal only (metrics): the caller cancelled; no final chunk is sent.
FINISH_CANCELLED = "cancelled"

DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}
MAX_STOP_STRINGS = 16


@dataclass(frozen=True)
class EngineLimits:
    """Bounds on what one request may ask for, and on the waiting line."""

    default_max_new_tokens: int = 256
    max_new_tokens_limit: int = 1024
    max_prompt_tokens: int = 4096
    max_queue_length: int = 64


@dataclass
class _Request:
    stream: GenerationStream
    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    stop: tuple[str, ...]
    constraint: JsonSchemaConstraint | None
    adapter_id: str
    adapter_path: Path | None
    enqueued_at: float = field(default_factory=time.perf_counter)


def kv_cache_bytes(cache: Any) -> int:
    """Bytes held by the key and value tensors of a transformers cache."""
    total = 0
    for layer in getattr(cache, "layers", ()):
        for tensor in (getattr(layer, "keys", None), getattr(layer, "values", None)):
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()
    return total


class TransformersEngine(GenerationEngine):
    """Serves a causal LM checkpoint with transformers, one request at a time."""

    name = "transformers"

    def __init__(
        self,
        checkpoint: Path,
        *,
        model_name: str,
        adapters: AdapterRegistry,
        dtype: str = "bfloat16",
        limits: EngineLimits | None = None,
        convert_missing: Callable[[Path], Path] | None = None,
        torch_threads: int = 0,
        stat_logger: StatLogger | None = None,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, not {dtype!r}")
        self.checkpoint = checkpoint
        self.model_name = model_name
        self.adapters = adapters
        self.dtype = dtype
        self.limits = limits or EngineLimits()
        self._convert_missing = convert_missing
        self._torch_threads = torch_threads
        self._stats_out: StatLogger = stat_logger or NullStatLogger()

        self._model: Any = None
        self._tokenizer: Any = None
        self._schemas: JsonSchemaCompiler | None = None
        self._eos_ids: frozenset[int] = frozenset()
        self._max_context = 0
        self._tokenizer_lock = threading.Lock()  # callers' threads and the worker share it

        self._jobs: queue.Queue[_Request | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._loaded_adapters: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._queue_length = 0
        self._running: _Request | None = None
        self._kv_used_bytes = 0
        self._generated_tokens_total = 0

    # Lifecycle.

    def warm_up(self) -> None:
        """Loads the checkpoint (converting the embedded model first if it is missing) and
        starts the worker thread."""
        if self._worker is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not is_checkpoint(self.checkpoint):
            if self._convert_missing is None:
                raise FailedPrecondition(f"no model checkpoint at {self.checkpoint}")
            self._convert_missing(self.checkpoint)
        if self._torch_threads:
            torch.set_num_threads(self._torch_threads)
        start = time.perf_counter()
        self._tokenizer = AutoTokenizer.from_pretrained(self.checkpoint)
        model = AutoModelForCausalLM.from_pretrained(self.checkpoint, dtype=DTYPES[self.dtype])
        self._model = model.eval()
        config = self._model.config
        self._max_context = int(getattr(config, "max_position_embeddings", 0) or 0)
        self._eos_ids = frozenset(
            _ids(self._tokenizer.eos_token_id) | _ids(self._model.generation_config.eos_token_id)
        )
        self._schemas = JsonSchemaCompiler(self._tokenizer, config.vocab_size)
        with torch.inference_mode():  # first forward pass allocates and warms the kernels
            self._forward(torch.tensor([self._render([{"role": "user", "content": "hi"}])]))
        log.info(
            "model loaded",
            extra={
                "model": self.model_name,
                "checkpoint": str(self.checkpoint),
                "dtype": self.dtype,
                "seconds": round(time.perf_counter() - start, 2),
            },
        )
        self._worker = threading.Thread(target=self._work, name="generation-worker", daemon=True)
        self._worker.start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            running = self._running
        if running is not None:
            running.stream.cancel()
        self._jobs.put(None)
        if self._worker is not None:
            self._worker.join(timeout=30)

    # Requests.

    def stream(self, params: GenerationParams) -> GenerationStream:
        if self._worker is None:
            raise FailedPrecondition("generation model is not loaded yet")
        request = self._prepare(params)
        with self._lock:
            if self._closed:
                raise FailedPrecondition("generation engine is shutting down")
            if self._queue_length >= self.limits.max_queue_length:
                raise TooLarge(
                    f"generation queue is full ({self._queue_length} requests waiting); retry later"
                )
            self._queue_length += 1
        self._jobs.put(request)
        self._report_scheduler()
        return request.stream

    def stats(self) -> EngineStats:
        with self._lock:
            return EngineStats(
                model=self.model_name,
                engine=self.name,
                kv_cache=KvCacheStats(used_bytes=self._kv_used_bytes, total_bytes=0),
                queue_length=self._queue_length,
                running=int(self._running is not None),
                generated_tokens_total=self._generated_tokens_total,
            )

    def _prepare(self, params: GenerationParams) -> _Request:
        """Validates a request and does the work that can fail on bad input (adapter lookup,
        schema compilation, prompt rendering) before it is queued."""
        if not params.messages:
            raise InvalidArgument("messages must not be empty")
        for message in params.messages:
            if message.role not in ROLES:
                raise InvalidArgument(f"message role must be one of {ROLES}, not {message.role!r}")
        max_new = params.max_new_tokens or self.limits.default_max_new_tokens
        if max_new < 0:
            raise InvalidArgument(f"max_new_tokens must be positive, not {max_new}")
        if max_new > self.limits.max_new_tokens_limit:
            raise InvalidArgument(
                f"max_new_tokens {max_new} exceeds this server's limit of "
                f"{self.limits.max_new_tokens_limit}"
            )
        if not math.isfinite(params.temperature) or params.temperature < 0:
            raise InvalidArgument(f"temperature must be >= 0, not {params.temperature}")
        top_p = params.top_p or 1.0
        if not 0.0 < top_p <= 1.0:
            raise InvalidArgument(f"top_p must be in (0, 1], not {params.top_p}")
        stop = tuple(s for s in params.stop if s)
        if len(stop) > MAX_STOP_STRINGS:
            raise InvalidArgument(f"at most {MAX_STOP_STRINGS} stop strings, not {len(stop)}")

        adapter_path = None
        if params.adapter_id:
            adapter_path = self.adapters.resolve(params.adapter_id)
            if importlib.util.find_spec("peft") is None:
                raise FailedPrecondition("LoRA adapters need the peft package on this server")
        assert self._schemas is not None
        constraint = self._schemas.compile(params.json_schema) if params.json_schema else None

        prompt_ids = self._render([{"role": m.role, "content": m.content} for m in params.messages])
        if len(prompt_ids) > self.limits.max_prompt_tokens:
            raise TooLarge(
                f"prompt has {len(prompt_ids)} tokens; the limit is {self.limits.max_prompt_tokens}"
            )
        if self._max_context and len(prompt_ids) + max_new > self._max_context:
            raise TooLarge(
                f"prompt ({len(prompt_ids)} tokens) plus max_new_tokens ({max_new}) exceeds the "
                f"model's context of {self._max_context} tokens"
            )
        return _Request(
            stream=GenerationStream(model=self.model_name),
            prompt_ids=prompt_ids,
            max_new_tokens=max_new,
            temperature=params.temperature,
            top_p=top_p,
            seed=params.seed,
            stop=stop,
            constraint=constraint,
            adapter_id=params.adapter_id,
            adapter_path=adapter_path,
        )

    def _render(self, messages: list[dict[str, str]]) -> list[int]:
        """Prompt token ids through the model's chat template (ChatML for SmolLM2)."""
        with self._tokenizer_lock:
            text = self._tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            return list(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _decode(self, token_ids: Sequence[int]) -> str:
        with self._tokenizer_lock:
            return str(
                self._tokenizer.decode(
                    list(token_ids), skip_special_tokens=True, clean_up_tokenization_spaces=False
                )
            )

    # The worker.

    def _work(self) -> None:
        while True:
            request = self._jobs.get()
            if request is None:
                return
            with self._lock:
                self._queue_length -= 1
                closed = self._closed
                if not closed and not request.stream.cancelled:
                    self._running = request
            self._report_scheduler()
            if closed:
                request.stream.fail(FailedPrecondition("generation engine is shutting down"))
                continue
            if request.stream.cancelled:
                request.stream.end()
                continue
            try:
                self._run(request)
            except VeritasError as err:
                request.stream.fail(err)
            except Exception as err:  # the caller gets INTERNAL; the traceback stays in the log
                log.exception("generation failed")
                request.stream.fail(err)
            finally:
                request.stream.end()
                with self._lock:
                    self._running = None
                    self._kv_used_bytes = 0
                self._stats_out.on_kv_cache(0)
                self._report_scheduler()

    def _run(self, request: _Request) -> None:
        from transformers import DynamicCache

        started = time.perf_counter()
        self._activate_adapter(request)
        generator = None
        if request.temperature > 0:
            generator = torch.Generator().manual_seed(request.seed or secrets.randbits(63))
        matcher = request.constraint.matcher() if request.constraint else None
        text = TextAssembler(self._decode, request.stop)
        cache = DynamicCache(config=self._model.config)
        tokens: list[int] = []
        first_token_at = 0.0
        finish = FINISH_LENGTH
        with torch.inference_mode():
            logits = self._forward(torch.tensor([request.prompt_ids]), cache)
            while True:
                if request.stream.cancelled:
                    finish = FINISH_CANCELLED  # the caller is gone: nobody reads the rest
                    break
                token = self._next_token(logits, request, generator, matcher)
                if not tokens:
                    first_token_at = time.perf_counter()
                if token in self._eos_ids:
                    finish = FINISH_STOP
                    break
                tokens.append(token)
                self._observe_kv_cache(cache)
                delta = text.push(tokens)
                if delta:
                    request.stream.put(GenerationChunk(delta))
                if text.stopped:
                    finish = FINISH_STOP_SEQUENCE
                    break
                if matcher is not None and matcher.is_stopped:
                    finish = FINISH_STOP  # the JSON value is complete; nothing else may follow
                    break
                if len(tokens) >= request.max_new_tokens:
                    finish = FINISH_LENGTH
                    break
                logits = self._forward(torch.tensor([[token]]), cache)
        finished = time.perf_counter()
        first_token_at = first_token_at or finished
        usage = GenerationUsage(
            prompt_tokens=len(request.prompt_ids),
            completion_tokens=len(tokens),
            prefill_ms=(first_token_at - started) * 1000,
            decode_ms=(finished - first_token_at) * 1000,
        )
        last_delta = text.flush()
        # Counters settle before the final chunk goes out, so a caller that asks for stats
        # right after its response sees its own request finished.
        with self._lock:
            self._generated_tokens_total += len(tokens)
            self._running = None
            self._kv_used_bytes = 0
        self._stats_out.on_kv_cache(0)
        self._report_scheduler()
        if finish != FINISH_CANCELLED:
            request.stream.put(GenerationChunk(last_delta, finish, usage))
        outcome = ""
        if request.constraint is not None and finish != FINISH_CANCELLED:
            outcome = request.constraint.outcome(text.text, finish)
        self._stats_out.on_request_finished(
            RequestRecord(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                queue_s=started - request.enqueued_at,
                prefill_s=usage.prefill_ms / 1000,
                decode_s=usage.decode_ms / 1000,
                finish_reason=finish,
                constrained_outcome=outcome,
            )
        )

    def _forward(self, input_ids: torch.Tensor, cache: Any = None) -> torch.Tensor:
        """Logits of the next token (float32, 1-D), extending `cache` with `input_ids`."""
        use_cache = cache is not None
        out = self._model(
            input_ids=input_ids, past_key_values=cache, use_cache=use_cache, logits_to_keep=1
        )
        return out.logits[0, -1].float()

    def _next_token(
        self,
        logits: torch.Tensor,
        request: _Request,
        generator: torch.Generator | None,
        matcher: JsonMatcher | None,
    ) -> int:
        if matcher is not None:
            matcher.mask_logits(logits)
        if generator is None:
            token = int(torch.argmax(logits))
        else:
            probs = torch.softmax(logits / request.temperature, dim=-1)
            if request.top_p < 1.0:
                sorted_probs, order = torch.sort(probs, descending=True)
                # Keep the smallest head of the distribution whose mass reaches top_p.
                outside = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= request.top_p
                sorted_probs[outside] = 0.0
                pick = torch.multinomial(sorted_probs, 1, generator=generator)
                token = int(order[pick])
            else:
                token = int(torch.multinomial(probs, 1, generator=generator))
        if matcher is not None:
            matcher.consume(token)
        return token

    def _activate_adapter(self, request: _Request) -> None:
        if request.adapter_id:
            if request.adapter_id not in self._loaded_adapters:
                try:
                    self._model.load_adapter(
                        str(request.adapter_path), adapter_name=request.adapter_id
                    )
                except Exception as err:
                    raise FailedPrecondition(
                        f"adapter {request.adapter_id!r} at {request.adapter_path} cannot be "
                        f"loaded: {err}"
                    ) from err
                self._loaded_adapters.add(request.adapter_id)
            self._model.set_adapter(request.adapter_id)
            self._model.enable_adapters()
        elif self._loaded_adapters:
            self._model.disable_adapters()

    def _observe_kv_cache(self, cache: Any) -> None:
        used = kv_cache_bytes(cache)
        with self._lock:
            self._kv_used_bytes = used
        self._stats_out.on_kv_cache(used)

    def _report_scheduler(self) -> None:
        stats = self.stats()
        self._stats_out.on_scheduler(stats.queue_length, stats.running)


def _ids(value: int | list[int] | None) -> set[int]:
    if value is None:
        return set()
    return {value} if isinstance(value, int) else set(value)
