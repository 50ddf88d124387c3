"""Generation benchmark: the generation service over gRPC against vLLM in this process, on the
same RAG-like prompts (a question over a passage of the bundled samples) at several
concurrency levels, interleaved level by level so that the machine's load falls on both alike.

Per target and level it reports aggregate tokens/s, time to first token and inter-token latency
(p50, p95) and the most KV cache the engine held; each level's tokens/s is compared with one
request at a time and with in-process vLLM at the same level; the service's own vLLM counters
give the prefix-cache hit rate and, with speculative decoding on, its acceptance rate. The table
goes to stdout and, with every request's figures, under reports/bench-generation-<time>/.

Usage: python loadtest/bench_generation.py [--concurrency 1,8,32] [--max-tokens 128]
           [--rounds 3] [--variant NAME:VAR=VALUE,...] [--no-in-process] [--reports DIR]
Every level runs --rounds times (fresh prompts each time); the table gives each figure's median.
The service runs with the default settings (the converted embedded model from
VERITAS_DATA_DIR); each --variant adds a service with those settings changed, e.g.
`--variant ngram:VERITAS_GENERATION_NGRAM_SPECULATIVE_TOKENS=4`; in-process vLLM uses the
default settings' engine arguments.
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
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from veritas.v1 import generation_pb2
from veritas_common.clients import GenerationClient
from veritas_common.testing import ServiceProcess, parse_variant

REPO = Path(__file__).resolve().parents[1]
# Tokens/s of the generation service's earlier engine (transformers, one request at a time in
# FIFO order) at 32 concurrent requests on these prompts, measured before vLLM replaced it
# (services/generation/README.md); the target is 8x this.
FIFO_ENGINE_TOKENS_PER_S = 7.0
SETTLE_S = 3.0
# Requests one after another at concurrency 1 (its TTFT p95 is the 8-concurrent target's base).
SINGLE_REQUESTS = 6
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
    target: str = ""
    speedup_vs_1: float | None = None
    vs_in_process: float | None = None


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


Messages = list[tuple[str, str]]
# A target streams one request: (messages, max_tokens) -> figures.
Send = Callable[[Messages, int], Awaitable[RequestResult]]


class ServiceTarget:
    """The generation service as a process, measured over gRPC like any client."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.process = ServiceProcess("generation", env, log_dir)
        self.client: GenerationClient | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self.process.wait_serving, 600)
        self.client = GenerationClient(self.process.addr, timeout_s=3600)

    async def send(self, messages: Messages, max_tokens: int) -> RequestResult:
        assert self.client is not None
        params = generation_pb2.GenerationParams(
            messages=[generation_pb2.ChatMessage(role=r, content=c) for r, c in messages],
            max_new_tokens=max_tokens,
            temperature=0.0,
        )
        start = time.perf_counter()
        first: float | None = None
        usage = generation_pb2.GenerationUsage()
        request = generation_pb2.GenerateStreamRequest(params=params)
        async for chunk in self.client.generate_stream(request):
            if first is None and chunk.delta:
                first = time.perf_counter() - start
            if chunk.finish_reason:
                usage = chunk.usage
        total = time.perf_counter() - start
        return RequestResult(
            first if first is not None else total,
            total,
            usage.completion_tokens,
            usage.prompt_tokens,
        )

    async def kv(self) -> tuple[int, int]:
        assert self.client is not None
        stats = await self.client.get_stats(generation_pb2.GetStatsRequest())
        return stats.kv_cache_used_bytes, stats.kv_cache_total_bytes

    def counters(self) -> dict[str, float]:
        """The service's vLLM counters (prefix cache, speculative decoding), by series name."""
        body = httpx.get(f"http://127.0.0.1:{self.process.metrics_port}/metrics").text
        found: dict[str, float] = {}
        for line in body.splitlines():
            match = re.match(
                r"(vllm:(?:prefix_cache|spec_decode)\w+_total)(?:\{[^}]*\})? (\S+)", line
            )
            if match:
                found[match.group(1)] = found.get(match.group(1), 0.0) + float(match.group(2))
        return found

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
        self.process.stop()


class InProcessTarget:
    """vLLM's AsyncLLM in this process, with the service's default engine arguments: what the
    engine gives without the service around it."""

    name = "vllm in-process"

    def __init__(self) -> None:
        self.llm: Any = None
        self.tokenizer: Any = None
        self.kv_total = 0

    async def start(self) -> None:
        from veritas_generation.config import GenerationSettings
        from veritas_generation.convert import convert_embedded_model
        from veritas_generation.engine import kv_block_bytes, start_async_llm

        settings = GenerationSettings()
        self.llm = start_async_llm(settings, convert_embedded_model(settings.checkpoint_dir()))
        self.tokenizer = self.llm.get_tokenizer()
        config = self.llm.vllm_config
        self.kv_total = (config.cache_config.num_gpu_blocks or 0) * kv_block_bytes(config)

    async def send(self, messages: Messages, max_tokens: int) -> RequestResult:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        from veritas_generation.engine import ChatMessage, render_prompt

        ids = render_prompt(self.tokenizer, [ChatMessage(r, c) for r, c in messages])
        sampling = SamplingParams(
            max_tokens=max_tokens, temperature=0.0, output_kind=RequestOutputKind.DELTA
        )
        start = time.perf_counter()
        first: float | None = None
        tokens = 0
        outputs = self.llm.generate(
            TokensPrompt(prompt_token_ids=ids), sampling, request_id=uuid.uuid4().hex
        )
        async for output in outputs:
            completion = output.outputs[0]
            tokens += len(completion.token_ids)
            if first is None and completion.text:
                first = time.perf_counter() - start
        total = time.perf_counter() - start
        return RequestResult(first if first is not None else total, total, tokens, len(ids))

    async def kv(self) -> tuple[int, int]:
        return 0, self.kv_total  # usage is the service's figure; vLLM exports it as a metric

    def counters(self) -> dict[str, float]:
        return {}

    async def stop(self) -> None:
        if self.llm is not None:
            self.llm.shutdown()
            self.llm = None


Target = ServiceTarget | InProcessTarget


async def run_level(
    target: Target, prompts: list[Messages], concurrency: int, max_tokens: int
) -> tuple[LevelSummary, list[RequestResult]]:
    """One request per prompt, `concurrency` at once (one after another when it is 1), while
    the engine's KV-cache use is sampled."""
    kv_used, kv_total = 0, 0
    done = asyncio.Event()

    async def sample_kv() -> None:
        nonlocal kv_used, kv_total
        while not done.is_set():
            used, kv_total = await target.kv()
            kv_used = max(kv_used, used)
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample_kv())
    start = time.perf_counter()
    if concurrency == 1:
        results = [await target.send(messages, max_tokens) for messages in prompts]
    else:
        results = list(await asyncio.gather(*(target.send(m, max_tokens) for m in prompts)))
    wall = time.perf_counter() - start
    done.set()
    await sampler
    summary = summarise(concurrency, results, wall, (kv_used, kv_total))
    summary.target = target.name
    return summary, results


def table(levels: list[LevelSummary]) -> str:
    """The results as a Markdown table, level by level."""
    rows = [
        "| concurrent | target | tokens/s | x 1 request | x vLLM | TTFT p50 / p95 (s) "
        "| ITL p50 / p95 (ms) | prompt tokens | KV max used / total (MiB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in sorted(levels, key=lambda lv: lv.concurrency):
        itl = (
            f"{level.itl_p50_ms:.0f} / {level.itl_p95_ms:.0f}"
            if level.itl_p50_ms is not None and level.itl_p95_ms is not None
            else "-"
        )
        speedup = f"{level.speedup_vs_1:.2f}" if level.speedup_vs_1 is not None else "-"
        ratio = f"{level.vs_in_process:.2f}" if level.vs_in_process is not None else "-"
        kv = f"{level.kv_used_max_bytes / 2**20:.1f} / {level.kv_total_bytes / 2**20:.1f}"
        rows.append(
            f"| {level.concurrency} | {level.target} | {level.tokens_per_s:.1f} | {speedup} "
            f"| {ratio} | {level.ttft_p50_s:.2f} / {level.ttft_p95_s:.2f} | {itl} "
            f"| {level.prompt_tokens_mean:.0f} | {kv} |"
        )
    return "\n".join(rows)


def checks(levels: list[LevelSummary], service: str) -> list[str]:
    """The service's figures against its targets: >= 0.9x in-process vLLM and >= 8x the FIFO
    engine at the highest level, TTFT p95 at 8 concurrent <= 3x one request's."""
    own = {lv.concurrency: lv for lv in levels if lv.target == service}
    top = own[max(own)]
    lines = [
        f"{service} at {top.concurrency}: {top.tokens_per_s / FIFO_ENGINE_TOKENS_PER_S:.1f}x the "
        f"FIFO engine's {FIFO_ENGINE_TOKENS_PER_S} tokens/s (target >= 8x)"
    ]
    if top.vs_in_process is not None:
        lines.append(
            f"{service} at {top.concurrency}: {top.vs_in_process:.2f}x in-process vLLM "
            "tokens/s (target >= 0.9x)"
        )
    if 1 in own and 8 in own:
        ratio = own[8].ttft_p95_s / own[1].ttft_p95_s
        lines.append(f"{service}: TTFT p95 at 8 is {ratio:.2f}x one request's (target <= 3x)")
    return lines


def counter_lines(name: str, before: dict[str, float], after: dict[str, float]) -> list[str]:
    """Prefix-cache hit rate and speculative-decoding acceptance over the run."""
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    lines = []
    queries = delta.get("vllm:prefix_cache_queries_total", 0.0)
    if queries:
        hits = delta.get("vllm:prefix_cache_hits_total", 0.0)
        lines.append(f"{name}: prefix cache hit {hits / queries:.0%} of {queries:.0f} tokens")
    drafts = delta.get("vllm:spec_decode_num_draft_tokens_total", 0.0)
    if drafts:
        accepted = delta.get("vllm:spec_decode_num_accepted_tokens_total", 0.0)
        lines.append(
            f"{name}: speculative decoding accepted {accepted / drafts:.0%} of {drafts:.0f} "
            "draft tokens"
        )
    return lines


@dataclass
class BenchRun:
    levels: list[LevelSummary]
    requests: dict[str, dict[int, list[RequestResult]]]
    notes: list[str]


def median_level(samples: list[LevelSummary]) -> LevelSummary:
    """One level's figures over several rounds: the median of each, requests summed, the KV
    cache's maximum."""

    def median(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else None

    first = samples[0]
    return LevelSummary(
        concurrency=first.concurrency,
        requests=sum(s.requests for s in samples),
        wall_s=statistics.median(s.wall_s for s in samples),
        tokens_per_s=statistics.median(s.tokens_per_s for s in samples),
        ttft_p50_s=statistics.median(s.ttft_p50_s for s in samples),
        ttft_p95_s=statistics.median(s.ttft_p95_s for s in samples),
        itl_p50_ms=median([s.itl_p50_ms for s in samples]),
        itl_p95_ms=median([s.itl_p95_ms for s in samples]),
        prompt_tokens_mean=statistics.median(s.prompt_tokens_mean for s in samples),
        kv_used_max_bytes=max(s.kv_used_max_bytes for s in samples),
        kv_total_bytes=max(s.kv_total_bytes for s in samples),
        target=first.target,
    )


async def bench(
    targets: list[Target], levels: list[int], max_tokens: int, rounds: int = 1
) -> BenchRun:
    # Every level of every round asks about passages nothing asked about before (a prompt seen
    # before would be served from the prefix cache); every target gets the same ones. The last
    # prompt warms each target up.
    sizes = [SINGLE_REQUESTS if c == 1 else c for c in levels]
    *prompts, warm_up = rag_prompts(rounds * sum(sizes) + 1)
    batches = iter(prompts)
    run = BenchRun([], {t.name: {} for t in targets}, [])
    samples: dict[tuple[str, int], list[LevelSummary]] = {}
    try:
        for target in targets:
            print(f"bench_generation: starting {target.name} ...", file=sys.stderr, flush=True)
            await target.start()
            # One warm-up request so the first level does not pay for lazy initialisation.
            await target.send(warm_up, 8)
        before = {t.name: t.counters() for t in targets}
        step = 0
        for round_ in range(rounds):
            for concurrency, size in zip(levels, sizes, strict=True):
                batch = [next(batches) for _ in range(size)]
                # Each level starts with the next target, so none is always first after
                # another's run; a pause lets the last run's processes settle.
                first = step % len(targets)
                step += 1
                for target in targets[first:] + targets[:first]:
                    await asyncio.sleep(SETTLE_S)
                    print(
                        f"bench_generation: round {round_ + 1}/{rounds}, {target.name}, "
                        f"{concurrency} concurrent ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    summary, results = await run_level(target, batch, concurrency, max_tokens)
                    samples.setdefault((target.name, concurrency), []).append(summary)
                    run.requests[target.name].setdefault(concurrency, []).extend(results)
        for target in targets:
            run.notes += counter_lines(target.name, before[target.name], target.counters())
    finally:
        for target in targets:
            await target.stop()
    run.levels = [median_level(found) for found in samples.values()]
    by_key = {(lv.target, lv.concurrency): lv for lv in run.levels}
    for level in run.levels:
        base = by_key.get((level.target, 1))
        level.speedup_vs_1 = level.tokens_per_s / base.tokens_per_s if base else None
        vllm = by_key.get((InProcessTarget.name, level.concurrency))
        if vllm is not None and level.target != InProcessTarget.name:
            level.vs_in_process = level.tokens_per_s / vllm.tokens_per_s
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="1,8,32", help="levels, comma-separated")
    parser.add_argument("--max-tokens", type=int, default=128, help="max_new_tokens per request")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of every level; the table gives medians"
    )
    parser.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        default=[],
        help="another service with these settings: NAME:VAR=VALUE[,VAR=VALUE]",
    )
    parser.add_argument("--no-in-process", action="store_true", help="measure the service(s) only")
    parser.add_argument("--reports", type=Path, default=REPO / "reports", help="output folder")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    log_dir = Path(tempfile.mkdtemp(prefix="bench-generation-"))
    data_dir = os.environ.get("VERITAS_DATA_DIR", str(REPO / ".veritas"))
    targets: list[Target] = [ServiceTarget("service", {"VERITAS_DATA_DIR": data_dir}, log_dir)]
    for name, env in args.variant:
        targets.append(ServiceTarget(name, {"VERITAS_DATA_DIR": data_dir, **env}, log_dir))
    if not args.no_in_process:
        targets.append(InProcessTarget())
    run = asyncio.run(bench(targets, levels, args.max_tokens, args.rounds))
    lines = checks(run.levels, "service") + run.notes
    text = (
        f"median of {args.rounds} rounds\n\n"
        + table(run.levels)
        + "\n\n"
        + "\n".join(f"- {line}" for line in lines)
    )
    out = args.reports / time.strftime("bench-generation-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(text + "\n")
    settings = {
        "levels": levels,
        "max_tokens": args.max_tokens,
        "rounds": args.rounds,
        "variants": {name: env for name, env in args.variant},
    }
    results = {
        "settings": settings,
        "levels": [asdict(s) for s in run.levels],
        "checks": lines,
        "requests": {
            target: {c: [asdict(r) for r in rs] for c, rs in by_level.items()}
            for target, by_level in run.requests.items()
        },
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(text)
    print(f"\nreport: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
