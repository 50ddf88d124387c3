"""What the generation tests share: the test service's settings and LoRA adapters with random
weights. (A module of its own: test folders share the name `conftest`.)"""

from __future__ import annotations

import json
from pathlib import Path

ADAPTERS = ("finance-v1", "medical-v1")
# Small bounds keep the suite fast and make the waiting line easy to fill.
SERVICE_ENV = {
    "VERITAS_DEFAULT_MAX_NEW_TOKENS": "16",
    "VERITAS_MAX_NEW_TOKENS_LIMIT": "64",
    "VERITAS_GENERATION_MAX_NUM_SEQS": "4",
    "VERITAS_MAX_QUEUE_LENGTH": "2",
    "VERITAS_GENERATION_KV_CACHE_GIB": "1",
    # Batched and single decoding agree token for token in float32; in bfloat16 a near-tie
    # between two tokens can fall either way with the batch's shape.
    "VERITAS_GENERATION_DTYPE": "float32",
}


def write_lora_adapter(folder: Path, checkpoint: Path, seed: int, rank: int = 8) -> Path:
    """A PEFT LoRA adapter (q_proj and v_proj of every layer) with random weights, as large as
    a trained one, in the layout the training jobs write."""
    import torch
    from safetensors.torch import save_file

    config = json.loads((checkpoint / "config.json").read_text())
    hidden = config["hidden_size"]
    head_dim = hidden // config["num_attention_heads"]
    outputs = {"q_proj": hidden, "v_proj": config["num_key_value_heads"] * head_dim}
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for layer in range(config["num_hidden_layers"]):
        for module, out in outputs.items():
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            lora_a = torch.randn(rank, hidden, generator=generator)
            tensors[f"{prefix}.lora_A.weight"] = lora_a * 0.1
            tensors[f"{prefix}.lora_B.weight"] = torch.randn(out, rank, generator=generator) * 0.1
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, folder / "adapter_model.safetensors")
    (folder / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "task_type": "CAUSAL_LM",
                "base_model_name_or_path": str(checkpoint),
                "r": rank,
                "lora_alpha": 2 * rank,
                "lora_dropout": 0.0,
                "target_modules": sorted(outputs),
                "bias": "none",
                "fan_in_fan_out": False,
                "modules_to_save": None,
                "use_rslora": False,
                "use_dora": False,
            }
        )
    )
    return folder
