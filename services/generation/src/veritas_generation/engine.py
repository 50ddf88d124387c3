"""The generation engine: vLLM's async engine (continuous batching, paged KV cache, prefix
caching, structured outputs, multi-LoRA) behind the service's own request types.

vLLM runs its engine core in a child process; this process renders prompts, validates requests
before they reach the engine, streams text deltas and keeps the figures `GetStats` reports.
vLLM's own Prometheus series (`vllm:*`) are registered in this process's default registry, so
the service's metrics port exports them unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from veritas_common.errors import FailedPrecondition, InvalidArgument, TooLarge
from veritas_generation import constraints
from veritas_generation.adapters import AdapterRegistry
from veritas_generation.config import Dtype, GenerationSettings
from veritas_generation.convert import is_checkpoint
from veritas_generation.metrics import CONSTRAINED_OUTPUTS

if TYPE_CHECKING:
    from vllm.v1.engine.async_llm import AsyncLLM

log = logging.getLogger(__name__)

# Finish reasons (the proto's GenerateResponse.finish_reason).
FINISH_STOP = "stop"  # the model ended the text (end-of-sequence, or a complete constrained output)
FINISH_LENGTH = "length"  # max_new_tokens reached: the text is truncated
FINISH_STOP_SEQUENCE = "stop_sequence"  # one of the request's stop strings was produced

ROLES = ("system", "user", "assistant")
MAX_STOP_STRINGS = 16
ENGINE_NAME = "vllm"


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
    prefill_ms: float  # from the engine scheduling the request to its first token
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
    used_bytes: int  # blocks held by running and cached sequences x bytes per block
    total_bytes: int  # blocks the engine allocated x bytes per block


@dataclass(frozen=True)
class EngineStats:
    model: str
    engine: str
    kv_cache: KvCacheStats
    queue_length: int  # requests waiting for the engine
    running: int  # requests being decoded
    generated_tokens_total: int
    adapters: tuple[str, ...]  # LoRA adapter ids that can be asked for


@dataclass
class _SchedulerView:
    """The engine's latest scheduler figures, as its stat loggers receive them."""

    running: int = 0
    waiting: int = 0
    kv_cache_usage: float = 0.0
    generated_tokens_total: int = 0


def _scheduler_logger(view: _SchedulerView) -> Callable[..., Any]:
    """A vLLM stat-logger factory that keeps `view` current (vLLM calls it per engine)."""
    from vllm.v1.metrics.loggers import StatLoggerBase

    class SchedulerViewLogger(StatLoggerBase):
        def __init__(self, vllm_config: Any, engine_index: int = 0) -> None:
            pass

        def record(
            self,
            scheduler_stats: Any,
            iteration_stats: Any,
            mm_cache_stats: Any = None,
            engine_idx: int = 0,
        ) -> None:
            if scheduler_stats is not None:
                view.running = scheduler_stats.num_running_reqs
                view.waiting = scheduler_stats.num_waiting_reqs
                view.kv_cache_usage = scheduler_stats.kv_cache_usage
            if iteration_stats is not None:
                view.generated_tokens_total += iteration_stats.num_generation_tokens

        def log_engine_initialized(self) -> None:
            pass

    return SchedulerViewLogger


def resolve_dtype(dtype: Dtype) -> Dtype:
    """ "auto" -> bfloat16 where it is fast (GPUs, CPUs with AVX-512 BF16), else float32."""
    if dtype != "auto":
        return dtype
    import torch

    if torch.cuda.is_available():
        return "auto"  # vLLM takes the checkpoint's dtype
    return (
        "bfloat16"
        if torch.backends.cpu.get_cpu_capability() == "AVX512"
        and (torch.cpu._is_avx512_bf16_supported())
        else "float32"
    )


def engine_args(settings: GenerationSettings, checkpoint: Path) -> Any:
    """vLLM's engine arguments for the settings."""
    from vllm.config import StructuredOutputsConfig
    from vllm.engine.arg_utils import AsyncEngineArgs

    # Zero settings keep vLLM's own default for the platform.
    optional: dict[str, Any] = {}
    if settings.generation_max_model_len:
        optional["max_model_len"] = settings.generation_max_model_len
    if settings.generation_max_num_batched_tokens:
        optional["max_num_batched_tokens"] = settings.generation_max_num_batched_tokens
    speculative = None
    if settings.generation_ngram_speculative_tokens:
        speculative = {
            "method": "ngram",
            "num_speculative_tokens": settings.generation_ngram_speculative_tokens,
            "prompt_lookup_min": 2,
            "prompt_lookup_max": 5,
        }
    return AsyncEngineArgs(
        model=str(checkpoint),
        served_model_name=[settings.served_model_name()],
        dtype=resolve_dtype(settings.generation_dtype),
        max_num_seqs=settings.generation_max_num_seqs,
        enable_prefix_caching=settings.generation_prefix_caching,
        enable_chunked_prefill=settings.generation_chunked_prefill,
        gpu_memory_utilization=settings.generation_gpu_memory_utilization,
        tensor_parallel_size=settings.generation_tensor_parallel_size,
        enable_lora=True,
        max_loras=settings.generation_max_loras,
        max_lora_rank=cast(Any, settings.generation_max_lora_rank),  # one of LORA_RANKS
        speculative_config=speculative,
        # Compact JSON: without it a small model spends its budget on free whitespace.
        structured_outputs_config=StructuredOutputsConfig(
            backend="guidance", disable_any_whitespace=True
        ),
        # CUDA graphs and torch.compile cost minutes of start-up for a few percent here.
        enforce_eager=True,
        # Each request is logged once by the service, not per engine step.
        enable_log_requests=False,
        **optional,
    )


def start_async_llm(
    settings: GenerationSettings, checkpoint: Path, stat_loggers: list[Any] | None = None
) -> AsyncLLM:
    """vLLM's AsyncLLM for the settings (the service's engine, and the benchmark's in-process
    baseline); vLLM's own stat loggers stay on beside `stat_loggers`."""
    # Read when vLLM is imported: the CPU KV-cache size, and child processes that start fresh
    # instead of forking a process with gRPC threads.
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(settings.generation_kv_cache_gib)
    os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
    from vllm.v1.engine.async_llm import AsyncLLM

    return AsyncLLM.from_engine_args(engine_args(settings, checkpoint), stat_loggers=stat_loggers)


def render_prompt(tokenizer: Any, messages: Sequence[ChatMessage]) -> list[int]:
    """Prompt token ids through the model's chat template (ChatML for SmolLM2)."""
    text = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages],
        add_generation_prompt=True,
        tokenize=False,
    )
    return list(tokenizer.encode(text, add_special_tokens=False))


@dataclass(frozen=True)
class _Request:
    """A validated request, ready for the engine."""

    prompt_ids: list[int]
    sampling: Any  # vllm.SamplingParams
    lora: Any  # vllm.lora.request.LoRARequest | None
    constraint: constraints.Constraint | None


class VllmEngine:
    """Serves one model checkpoint (and its LoRA adapters) with vLLM's AsyncLLM.

    Config goes in `__init__` (no I/O); `start()` loads the model and starts the engine, inside
    the event loop that will serve requests; `stream()` validates a request (raising
    `VeritasError`s before anything reaches the engine) and yields its chunks.
    """

    name = ENGINE_NAME

    def __init__(
        self,
        settings: GenerationSettings,
        *,
        convert_missing: Callable[[Path], Path] | None = None,
    ) -> None:
        self.settings = settings
        self.checkpoint = settings.checkpoint_dir()
        self.model_name = settings.served_model_name()
        self.adapters = AdapterRegistry(settings.adapters_dir())
        self._convert_missing = convert_missing
        self._llm: AsyncLLM | None = None
        self._tokenizer: Any = None
        self._max_model_len = 0
        self._block_bytes = 0
        self._num_blocks = 0
        self._view = _SchedulerView()
        self._in_flight = 0
        self._lora_ids: dict[str, int] = {}

    # Lifecycle.

    async def start(self) -> None:
        """Converts the embedded model if it is missing, then starts vLLM (20-45 s on a CPU)."""
        if self._llm is not None:
            return
        if not is_checkpoint(self.checkpoint):
            if self._convert_missing is None:
                raise FailedPrecondition(f"no model checkpoint at {self.checkpoint}")
            self._convert_missing(self.checkpoint)
        started = time.perf_counter()
        llm = start_async_llm(self.settings, self.checkpoint, [_scheduler_logger(self._view)])
        self._llm = llm
        self._tokenizer = llm.get_tokenizer()
        config = llm.vllm_config
        self._max_model_len = config.model_config.max_model_len
        self._num_blocks = config.cache_config.num_gpu_blocks or 0
        self._block_bytes = kv_block_bytes(config)
        log.info(
            "model loaded",
            extra={
                "model": self.model_name,
                "checkpoint": str(self.checkpoint),
                "dtype": str(config.model_config.dtype),
                "kv_cache_bytes": self._num_blocks * self._block_bytes,
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

    def close(self) -> None:
        """Stops the engine; requests in flight fail."""
        if self._llm is not None:
            self._llm.shutdown()
            self._llm = None

    # Requests.

    async def stream(self, params: GenerationParams) -> AsyncIterator[GenerationChunk]:
        """The chunks of one request: text deltas, then a final chunk with the finish reason and
        usage. Closing the iterator early (the caller went away) aborts the request."""
        if self._llm is None:
            raise FailedPrecondition("generation model is not loaded yet")
        llm = self._llm
        if self._in_flight >= self.settings.generation_max_num_seqs + (
            self.settings.max_queue_length
        ):
            raise TooLarge(
                f"generation queue is full ({self._in_flight} requests in flight); retry later"
            )
        request = self._prepare(params)
        from vllm.exceptions import VLLMClientError
        from vllm.inputs import TokensPrompt

        self._in_flight += 1
        text: list[str] = []
        completion_tokens = 0
        finish = ""
        try:
            outputs = llm.generate(
                TokensPrompt(prompt_token_ids=request.prompt_ids),
                request.sampling,
                request_id=uuid.uuid4().hex,
                lora_request=request.lora,
            )
            async with contextlib.aclosing(outputs):
                async for output in outputs:
                    completion = output.outputs[0]
                    completion_tokens += len(completion.token_ids)
                    if request.constraint is not None:
                        text.append(completion.text)  # judged against the schema at the end
                    if not output.finished:
                        if completion.text:
                            yield GenerationChunk(completion.text)
                        continue
                    finish = _finish_reason(completion.finish_reason, completion.stop_reason)
                    usage = _usage(output.metrics, len(request.prompt_ids), completion_tokens)
                    yield GenerationChunk(completion.text, finish, usage)
        except VLLMClientError as err:
            raise InvalidArgument(str(err)) from err
        finally:
            self._in_flight -= 1
            if request.constraint is not None and finish:
                CONSTRAINED_OUTPUTS.labels(request.constraint.outcome("".join(text), finish)).inc()

    async def generate(self, params: GenerationParams) -> GenerationResult:
        """The unary result: the stream's deltas joined, with the final chunk's metadata."""
        parts: list[str] = []
        async for chunk in self.stream(params):
            parts.append(chunk.delta)
            if chunk.usage is not None:
                return GenerationResult(
                    "".join(parts), chunk.finish_reason, self.model_name, chunk.usage
                )
        raise RuntimeError("generation stream ended without a final chunk")

    def stats(self) -> EngineStats:
        view = self._view
        used_blocks = round(view.kv_cache_usage * self._num_blocks)
        return EngineStats(
            model=self.model_name,
            engine=self.name,
            kv_cache=KvCacheStats(
                used_bytes=used_blocks * self._block_bytes,
                total_bytes=self._num_blocks * self._block_bytes,
            ),
            queue_length=view.waiting,
            running=view.running,
            generated_tokens_total=view.generated_tokens_total,
            adapters=tuple(self.adapters.available()),
        )

    def _prepare(self, params: GenerationParams) -> _Request:
        """Validates a request and does the work that can fail on bad input (adapter lookup,
        schema checks, prompt rendering) before it reaches the engine."""
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

        if not params.messages:
            raise InvalidArgument("messages must not be empty")
        for message in params.messages:
            if message.role not in ROLES:
                raise InvalidArgument(f"message role must be one of {ROLES}, not {message.role!r}")
        max_new = params.max_new_tokens or self.settings.default_max_new_tokens
        if max_new < 0:
            raise InvalidArgument(f"max_new_tokens must be positive, not {max_new}")
        if max_new > self.settings.max_new_tokens_limit:
            raise InvalidArgument(
                f"max_new_tokens {max_new} exceeds this server's limit of "
                f"{self.settings.max_new_tokens_limit}"
            )
        if not math.isfinite(params.temperature) or params.temperature < 0:
            raise InvalidArgument(f"temperature must be >= 0, not {params.temperature}")
        top_p = params.top_p or 1.0
        if not 0.0 < top_p <= 1.0:
            raise InvalidArgument(f"top_p must be in (0, 1], not {params.top_p}")
        stop = [s for s in params.stop if s]
        if len(stop) > MAX_STOP_STRINGS:
            raise InvalidArgument(f"at most {MAX_STOP_STRINGS} stop strings, not {len(stop)}")

        lora = self._lora_request(params.adapter_id) if params.adapter_id else None
        constraint = constraints.Constraint.parse(params.json_schema, max_new)
        prompt_ids = render_prompt(self._tokenizer, params.messages)
        if len(prompt_ids) > self.settings.max_prompt_tokens:
            raise TooLarge(
                f"prompt has {len(prompt_ids)} tokens; the limit is "
                f"{self.settings.max_prompt_tokens}"
            )
        if len(prompt_ids) + max_new > self._max_model_len:
            raise TooLarge(
                f"prompt ({len(prompt_ids)} tokens) plus max_new_tokens ({max_new}) exceeds the "
                f"model's context of {self._max_model_len} tokens"
            )
        sampling = SamplingParams(
            max_tokens=max_new,
            temperature=params.temperature,
            top_p=top_p,
            seed=(params.seed or None) if params.temperature > 0 else None,
            stop=stop or None,
            structured_outputs=(
                StructuredOutputsParams(json=constraint.guided) if constraint else None
            ),
            output_kind=RequestOutputKind.DELTA,
        )
        return _Request(prompt_ids, sampling, lora, constraint)

    def _lora_request(self, adapter_id: str) -> Any:
        """The adapter as vLLM knows it: loaded from its directory on first use, then cached
        (up to max_loras in one batch)."""
        from vllm.lora.request import LoRARequest

        path = self.adapters.resolve(adapter_id)
        if adapter_id not in self._lora_ids:  # vLLM caches a loaded adapter by its id
            rank = self.adapters.rank(adapter_id)
            if rank > self.settings.generation_max_lora_rank:
                raise FailedPrecondition(
                    f"adapter {adapter_id!r} has rank {rank}; this server serves ranks up to "
                    f"{self.settings.generation_max_lora_rank} (VERITAS_GENERATION_MAX_LORA_RANK)"
                )
            self._lora_ids[adapter_id] = len(self._lora_ids) + 1
        lora_id = self._lora_ids[adapter_id]
        return LoRARequest(adapter_id, lora_id, str(path))


def kv_block_bytes(vllm_config: Any) -> int:
    """Bytes of one KV-cache block over all layers: keys and values of block_size tokens."""
    model = vllm_config.model_config
    parallel = vllm_config.parallel_config
    cache = vllm_config.cache_config
    if cache.cache_dtype in ("auto", None):
        itemsize = model.dtype.itemsize
    else:
        from vllm.utils.torch_utils import STR_DTYPE_TO_TORCH_DTYPE

        itemsize = STR_DTYPE_TO_TORCH_DTYPE[cache.cache_dtype].itemsize
    layers = model.get_num_layers(parallel)
    per_token = 2 * layers * model.get_num_kv_heads(parallel) * model.get_head_size()
    return int(cache.block_size * per_token * itemsize)


def _finish_reason(reason: str | None, stop_reason: int | str | None) -> str:
    if reason == "length":
        return FINISH_LENGTH
    if isinstance(stop_reason, str):
        return FINISH_STOP_SEQUENCE  # vLLM reports the stop string it matched
    return FINISH_STOP


def _usage(metrics: Any, prompt_tokens: int, completion_tokens: int) -> GenerationUsage:
    """Usage from vLLM's per-request timestamps (the engine core's clock)."""
    if metrics is None or not metrics.first_token_ts:
        return GenerationUsage(prompt_tokens, completion_tokens, 0.0, 0.0)
    return GenerationUsage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        prefill_ms=max(0.0, metrics.first_token_ts - metrics.scheduled_ts) * 1000,
        decode_ms=max(0.0, metrics.last_token_ts - metrics.first_token_ts) * 1000,
    )
