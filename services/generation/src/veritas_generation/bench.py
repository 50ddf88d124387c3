"""Single-request decode speed of the engine per dtype: how the `dtype` default was chosen.

Usage: `python -m veritas_generation.bench [--dtypes float32 bfloat16] [--runs 3]
[--max-new-tokens 96] [--json out.json]`. Prints a table (median of the runs) and optionally
writes the numbers as JSON. Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from veritas_generation.config import GenerationSettings
from veritas_generation.engine import ChatMessage, GenerationParams
from veritas_generation.service import build_engine

PROMPT = "Write a long paragraph about the history of the printing press."


def measure(settings: GenerationSettings, runs: int, max_new_tokens: int) -> dict[str, Any]:
    engine = build_engine(settings)
    start = time.perf_counter()
    engine.warm_up()
    load_s = time.perf_counter() - start
    params = GenerationParams(
        messages=(ChatMessage("user", PROMPT),), max_new_tokens=max_new_tokens
    )
    engine.generate(GenerationParams(messages=params.messages, max_new_tokens=4))
    rates, prefills = [], []
    for _ in range(runs):
        usage = engine.generate(params).usage
        total_s = (usage.prefill_ms + usage.decode_ms) / 1000
        rates.append(usage.completion_tokens / total_s)
        prefills.append(usage.prefill_ms)
    engine.close()
    return {
        "tokens_per_s": statistics.median(rates),
        "tokens_per_s_runs": rates,
        "prefill_ms": statistics.median(prefills),
        "load_s": load_s,
    }


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    base = GenerationSettings()
    results = {
        dtype: measure(base.model_copy(update={"dtype": dtype}), args.runs, args.max_new_tokens)
        for dtype in args.dtypes
    }
    baseline = results[args.dtypes[0]]["tokens_per_s"]
    print(
        f"{'dtype':<10} {'tok/s':>8} {'vs ' + args.dtypes[0]:>12} {'prefill ms':>11} {'load s':>7}"
    )
    for dtype, r in results.items():
        print(
            f"{dtype:<10} {r['tokens_per_s']:>8.1f} {r['tokens_per_s'] / baseline:>11.2f}x "
            f"{r['prefill_ms']:>11.0f} {r['load_s']:>7.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
