"""Generation benchmark: the generation service over gRPC at several concurrency levels, on the
same RAG-like prompts each time (a question over a passage of the bundled samples).

Per level it reports aggregate tokens/s, time to first token and inter-token latency (p50,
p95) and the most KV cache the engine held, compares each level's tokens/s with one request
at a time (the baseline of the same run), prints the table and writes it, with every request's
figures, under reports/bench-generation-<time>/.

Usage: python loadtest/bench_generation.py [--addr HOST:PORT] [--concurrency 1,8,32]
                                            [--max-tokens 128] [--reports DIR]
Without --addr it starts a generation service on free ports (the converted embedded model,
from VERITAS_DATA_DIR) and stops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from veritas.v1 import generation_pb2
from veritas_common.clients import GenerationClient
from veritas_common.testing import ServiceProcess

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
SYSTEM = (
    "You answer questions from the context only. Quote the sentence that answers the question "
    "and say which section it comes from."
)
QUESTIONS = (
    "What does this passage report?",
    "Which figure does this passage give, and for which period?",
    "Summarise the passage in one sentence.",
    "What risk or warning does this passage mention?",
)


@dataclass
class RequestResult:
    """One streamed request: when its first token came, how long it took, how many tokens."""

    ttft_s: float
    total_s: float
    completion_tokens: int
    prompt_tokens: int

    @property
    def inter_token_s(self) -> float | None:
        """Mean gap between tokens after the first (None for a single-token answer)."""
        if self.completion_tokens < 2:
            return None
        return (self.total_s - self.ttft_s) / (self.completion_tokens - 1)


@dataclass
class LevelSummary:
    concurrency: int
    requests: int
    wall_s: float
    tokens_per_s: float
    ttft_p50_s: float
    ttft_p95_s: float
    itl_p50_ms: float | None
    itl_p95_ms: float | None
    prompt_tokens_mean: float
    kv_used_max_bytes: int
    kv_total_bytes: int
    speedup_vs_1: float | None = None


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(
    concurrency: int, results: list[RequestResult], wall_s: float, kv: tuple[int, int]
) -> LevelSummary:
    """One level's figures; tokens/s is every completion token over the level's wall time."""
    ttfts = [r.ttft_s for r in results]
    gaps = [g for r in results if (g := r.inter_token_s) is not None]
    return LevelSummary(
        concurrency=concurrency,
        requests=len(results),
        wall_s=wall_s,
        tokens_per_s=sum(r.completion_tokens for r in results) / wall_s,
        ttft_p50_s=percentile(ttfts, 50),
        ttft_p95_s=percentile(ttfts, 95),
        itl_p50_ms=percentile(gaps, 50) * 1000 if gaps else None,
        itl_p95_ms=percentile(gaps, 95) * 1000 if gaps else None,
        prompt_tokens_mean=statistics.fmean(r.prompt_tokens for r in results),
        kv_used_max_bytes=kv[0],
        kv_total_bytes=kv[1],
    )


def rag_prompts(count: int, words: int = 70) -> list[list[tuple[str, str]]]:
    """`count` chat prompts, each a question over its own ~`words`-word passage of the samples."""
    text = " ".join(
        re.sub(r"\s+", " ", path.read_text(errors="replace"))
        for path in sorted(SAMPLES.glob("*"))
        if path.suffix in (".md", ".html", ".txt")
    )
    tokens = re.sub(r"<[^>]+>", " ", text).split()
    if len(tokens) < words:
        raise SystemExit(f"bench_generation: too little sample text under {SAMPLES}")
    step = max(1, (len(tokens) - words) // max(1, count))
    prompts = []
    for i in range(count):
        passage = " ".join(tokens[i * step : i * step + words])
        question = QUESTIONS[i % len(QUESTIONS)]
        user = f"Context:\n{passage}\n\nQuestion: {question}"
        prompts.append([("system", SYSTEM), ("user", user)])
    return prompts


async def one_request(
    client: GenerationClient, messages: list[tuple[str, str]], max_tokens: int
) -> RequestResult:
    params = generation_pb2.GenerationParams(
        messages=[generation_pb2.ChatMessage(role=r, content=c) for r, c in messages],
        max_new_tokens=max_tokens,
        temperature=0.0,
    )
    start = time.perf_counter()
    first: float | None = None
    usage = generation_pb2.GenerationUsage()
    async for chunk in client.generate_stream(generation_pb2.GenerateStreamRequest(params=params)):
        if first is None and chunk.delta:
            first = time.perf_counter() - start
        if chunk.finish_reason:
            usage = chunk.usage
    total = time.perf_counter() - start
    return RequestResult(
        ttft_s=first if first is not None else total,
        total_s=total,
        completion_tokens=usage.completion_tokens,
        prompt_tokens=usage.prompt_tokens,
    )


async def run_level(
    client: GenerationClient,
    prompts: list[list[tuple[str, str]]],
    concurrency: int,
    max_tokens: int,
) -> tuple[LevelSummary, list[RequestResult]]:
    """`concurrency` requests at once (one request three times in a row when it is 1), while
    the engine's KV-cache use is sampled."""
    kv_used, kv_total = 0, 0
    done = asyncio.Event()

    async def sample_kv() -> None:
        nonlocal kv_used, kv_total
        while not done.is_set():
            stats = await client.get_stats(generation_pb2.GetStatsRequest())
            kv_used = max(kv_used, stats.kv_cache_used_bytes)
            kv_total = stats.kv_cache_total_bytes
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample_kv())
    start = time.perf_counter()
    if concurrency == 1:
        results = [await one_request(client, prompts[i], max_tokens) for i in range(3)]
    else:
        batch = [prompts[i % len(prompts)] for i in range(concurrency)]
        results = list(await asyncio.gather(*(one_request(client, m, max_tokens) for m in batch)))
    wall = time.perf_counter() - start
    done.set()
    await sampler
    return summarise(concurrency, results, wall, (kv_used, kv_total)), results


def table(levels: list[LevelSummary], engine: str, model: str) -> str:
    """The results as a Markdown table."""
    rows = [
        f"engine: {engine}, model: {model}",
        "",
        "| concurrent | requests | tokens/s | x 1 request | TTFT p50 / p95 (s) "
        "| ITL p50 / p95 (ms) | prompt tokens | KV max used / total (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        itl = (
            f"{level.itl_p50_ms:.0f} / {level.itl_p95_ms:.0f}"
            if level.itl_p50_ms is not None and level.itl_p95_ms is not None
            else "-"
        )
        speedup = f"{level.speedup_vs_1:.2f}" if level.speedup_vs_1 is not None else "-"
        kv = f"{level.kv_used_max_bytes / 2**20:.1f} / {level.kv_total_bytes / 2**20:.1f}"
        rows.append(
            f"| {level.concurrency} | {level.requests} | {level.tokens_per_s:.1f} | {speedup} "
            f"| {level.ttft_p50_s:.2f} / {level.ttft_p95_s:.2f} | {itl} "
            f"| {level.prompt_tokens_mean:.0f} | {kv} |"
        )
    return "\n".join(rows)


@dataclass
class BenchRun:
    engine: str
    model: str
    levels: list[LevelSummary]
    requests: dict[int, list[RequestResult]]


async def bench(addr: str, levels: list[int], max_tokens: int) -> BenchRun:
    client = GenerationClient(addr, timeout_s=3600)
    try:
        stats = await client.get_stats(generation_pb2.GetStatsRequest())
        prompts = rag_prompts(max(3, *levels))
        # One warm-up request so the first level does not pay for lazy initialisation.
        await one_request(client, prompts[0], 8)
        run = BenchRun(stats.engine, stats.model, [], {})
        for concurrency in levels:
            print(f"bench_generation: {concurrency} concurrent ...", file=sys.stderr, flush=True)
            summary, results = await run_level(client, prompts, concurrency, max_tokens)
            run.levels.append(summary)
            run.requests[concurrency] = results
        base = next((s.tokens_per_s for s in run.levels if s.concurrency == 1), None)
        for summary in run.levels:
            summary.speedup_vs_1 = summary.tokens_per_s / base if base else None
        return run
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", help="a running generation service (default: start one)")
    parser.add_argument("--concurrency", default="1,8,32", help="levels, comma-separated")
    parser.add_argument("--max-tokens", type=int, default=128, help="max_new_tokens per request")
    parser.add_argument("--reports", type=Path, default=REPO / "reports", help="output folder")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    process = None
    try:
        addr = args.addr
        if addr is None:
            log_dir = Path(tempfile.mkdtemp(prefix="bench-generation-"))
            env = {"VERITAS_DATA_DIR": os.environ.get("VERITAS_DATA_DIR", str(REPO / ".veritas"))}
            process = ServiceProcess("generation", env, log_dir)
            process.wait_serving(timeout_s=600)
            addr = process.addr
        run = asyncio.run(bench(addr, levels, args.max_tokens))
    finally:
        if process is not None:
            process.stop()
    text = table(run.levels, run.engine, run.model)
    out = args.reports / time.strftime("bench-generation-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(text + "\n")
    settings = {"levels": levels, "max_tokens": args.max_tokens}
    results = {
        "settings": settings | {"engine": run.engine, "model": run.model},
        "levels": [asdict(s) for s in run.levels],
        "requests": {c: [asdict(r) for r in rs] for c, rs in run.requests.items()},
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(text)
    print(f"\nreport: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
