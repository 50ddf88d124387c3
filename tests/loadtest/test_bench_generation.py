"""The generation benchmark's arithmetic, against hand-computed values (the benchmark itself is
a command, `make bench-generation`, not a test)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "bench_generation", REPO / "loadtest/bench_generation.py"
)
assert spec and spec.loader
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench  # dataclasses resolve their module by name
spec.loader.exec_module(bench)


def test_percentiles_interpolate_between_ranks():
    assert bench.percentile([4.0], 95) == 4.0
    assert bench.percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert bench.percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)


def test_level_summary_counts_every_token_over_the_wall_time():
    results = [
        bench.RequestResult(ttft_s=1.0, total_s=5.0, completion_tokens=9, prompt_tokens=100),
        bench.RequestResult(ttft_s=3.0, total_s=4.0, completion_tokens=1, prompt_tokens=120),
    ]
    level = bench.summarise(2, results, wall_s=5.0, kv=(2**20, 2**22))
    assert level.tokens_per_s == pytest.approx(10 / 5.0)
    assert (level.ttft_p50_s, level.ttft_p95_s) == (pytest.approx(2.0), pytest.approx(2.9))
    # Only the request with more than one token has an inter-token gap: 4 s over 8 gaps.
    assert level.itl_p50_ms == pytest.approx(500.0)
    assert level.prompt_tokens_mean == 110
    assert (level.kv_used_max_bytes, level.kv_total_bytes) == (2**20, 2**22)


def test_prompts_are_distinct_passages_of_the_samples():
    if not (REPO / "samples").is_dir():
        pytest.skip("samples/ not found")
    prompts = bench.rag_prompts(8)
    assert len(prompts) == 8
    assert len({user for (_, _), (_, user) in prompts}) == 8
    assert all(role == "system" for (role, _), _ in prompts)


def level(target: str, concurrency: int, tokens_per_s: float, ttft_p95_s: float = 1.0):
    summary = bench.summarise(
        concurrency,
        [bench.RequestResult(ttft_s=ttft_p95_s, total_s=1.0, completion_tokens=1, prompt_tokens=1)],
        wall_s=1.0 / tokens_per_s,
        kv=(0, 0),
    )
    summary.target = target
    return summary


def test_checks_compare_the_service_with_vllm_the_fifo_engine_and_its_own_ttft():
    levels = [
        level("service", 1, 10.0, ttft_p95_s=0.5),
        level("service", 8, 60.0, ttft_p95_s=1.0),
        level("service", 32, 140.0),
    ]
    levels[2].vs_in_process = 0.95
    lines = bench.checks(levels, "service")
    fifo = 140.0 / bench.FIFO_ENGINE_TOKENS_PER_S
    assert lines[0].startswith(f"service at 32: {fifo:.1f}x the FIFO engine")
    assert "0.95x in-process vLLM" in lines[1]
    assert "TTFT p95 at 8 is 2.00x one request's" in lines[2]


def test_counters_give_prefix_cache_hits_and_speculative_acceptance_over_the_run():
    before = {"vllm:prefix_cache_queries_total": 100.0, "vllm:prefix_cache_hits_total": 10.0}
    after = {
        "vllm:prefix_cache_queries_total": 1100.0,
        "vllm:prefix_cache_hits_total": 610.0,
        "vllm:spec_decode_num_draft_tokens_total": 400.0,
        "vllm:spec_decode_num_accepted_tokens_total": 100.0,
    }
    assert bench.counter_lines("service", before, after) == [
        "service: prefix cache hit 60% of 1000 tokens",
        "service: speculative decoding accepted 25% of 400 draft tokens",
    ]


def test_variants_name_a_service_and_its_settings():
    assert bench.parse_variant("ngram:VERITAS_A=4,VERITAS_B=false") == (
        "ngram",
        {"VERITAS_A": "4", "VERITAS_B": "false"},
    )
    with pytest.raises(Exception, match="NAME:VAR=VALUE"):
        bench.parse_variant("no-settings")


def test_rounds_are_summarised_by_their_medians():
    rounds = [
        level("service", 8, rate, ttft_p95_s=t) for rate, t in ((50, 1.0), (70, 3.0), (60, 2.0))
    ]
    rounds[1].kv_used_max_bytes = 2**20
    merged = bench.median_level(rounds)
    assert (merged.tokens_per_s, merged.ttft_p95_s) == (pytest.approx(60.0), pytest.approx(2.0))
    assert (merged.requests, merged.kv_used_max_bytes, merged.target) == (3, 2**20, "service")
