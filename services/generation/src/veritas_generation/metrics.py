"""Metrics of the generation service beyond vLLM's own `vllm:*` series (which vLLM registers in
this process's default registry, named as the community dashboards expect)."""

from __future__ import annotations

from prometheus_client import Counter

CONSTRAINED_OUTPUTS = Counter(
    "veritas_generation_constrained_outputs_total",
    "JSON-Schema constrained completions by outcome: valid (parses and validates), invalid, "
    "or truncated (max_new_tokens reached).",
    ["outcome"],
)
