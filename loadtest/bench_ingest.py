"""Ingestion benchmark: SciFact abstracts through the real ingestion, retrieval and embedding
services (local processes on free ports, data in a temporary folder), chunks and their
sentences included, against the previous settings in the same run.

Every target (a stack of the three services with its own settings and data) ingests the same
fixed-seed sample of abstracts, round by round, the targets taking turns so that the machine's
load falls on all alike. Per target the table gives the median over rounds of documents/s,
chunks/s, claimable sentences/s and embedding texts/s, the share of wall time the embedding
model was busy (from the embedding service's `veritas_embedding_inference_duration_seconds`
scraped before and after each round), the services' CPU seconds per document (their
`process_cpu_seconds_total`), the ratio to the baseline (the last variant), and the time the
whole SciFact corpus (5,183 abstracts) would take at that rate, and with that CPU time spread
over every core of an idle machine (a lower bound).

`--embedding-only` measures the embedder in this process instead: the texts retrieval embeds
for each abstract (its chunks, then its claimable sentences read in context) through the
previous code path (one sentence-transformers `encode` of every text, 64 per pass) and through
`SentenceTransformerEmbedder` (passes of similar length), in two request shapes: one request
per document (one document in flight) and 64-text passes mixing documents (what the dynamic
batcher merges with several in flight); vectors are compared too.

Usage: python loadtest/bench_ingest.py [--docs 500] [--rounds 5] [--concurrency 1]
           [--variant NAME:VAR=VALUE,...] [--data ../shared/data] [--out DIR] [--keep]
       python loadtest/bench_ingest.py --embedding-only [--docs 40] [--threads 1,2]
Without --variant the baseline is `previous`: every text padded to the longest of its 64-text
pass (VERITAS_EMBEDDING_MAX_PADDING_TOKENS=512) and one document at a time
(VERITAS_INGEST_CONCURRENCY=1). The table goes to stdout and, with every round's figures, to
DIR (default reports/bench-ingest-<time>/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from veritas.v1 import ingestion_pb2
from veritas_common.clients import IngestionClient
from veritas_common.judge import judge_text
from veritas_common.testing import ServiceProcess, free_port, parse_variant

REPO = Path(__file__).resolve().parents[1]
SCIFACT_CORPUS_DOCS = 5_183
# Wall time of the whole corpus through the API before this benchmark existed (~1.4 docs/s),
# and the target for it.
BEFORE_CORPUS_S = 3_600.0
TARGET_CORPUS_S = 900.0
SETTLE_S = 2.0
COLLECTION = "scifact"
PREVIOUS = (
    "previous",
    {"VERITAS_EMBEDDING_MAX_PADDING_TOKENS": "512", "VERITAS_INGEST_CONCURRENCY": "1"},
)


@dataclass(frozen=True)
class Abstract:
    """One SciFact abstract as the evals upload it (a small Markdown document)."""

    source: str
    text: str


def sample_abstracts(data_dir: Path, count: int, seed: int) -> list[Abstract]:
    """`count` SciFact abstracts drawn with `seed` from the corpus under `data_dir`."""
    from veritas_evals.datasets import SciFact, sample

    scifact = SciFact.load(data_dir)
    ids = sample(sorted(scifact.corpus, key=int), count, seed)
    return [Abstract(d.source, d.text) for d in map(scifact.document, ids)]


def embedding_texts(abstract: Abstract) -> tuple[list[str], list[str]]:
    """The texts retrieval embeds when this abstract is upserted: its chunks, and each
    claimable sentence read in context (as `Retriever.upsert` builds them)."""
    from veritas_common.sentences import split_sentences
    from veritas_ingestion.chunker import StructureChunker
    from veritas_ingestion.document import Modality
    from veritas_ingestion.parsers import parse_markdown

    parsed = parse_markdown(abstract.text.encode(), abstract.source)
    spans = StructureChunker().chunk(parsed)
    chunks = [parsed.text[s.start : s.end] for s in spans]
    sentences = [
        judge_text(sentence.claim_text(), parsed.title, span.section_path)
        for span, text in zip(spans, chunks, strict=True)
        for sentence in split_sentences(text, table=span.modality is Modality.TABLE)
        if sentence.claimable
    ]
    return chunks, sentences


# ---- the services ---------------------------------------------------------------------------
def scrape(metrics_port: int) -> dict[str, float]:
    """Every sample of a /metrics page, summed over labels, by sample name."""
    body = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[sample.name] = found.get(sample.name, 0.0) + sample.value
    return found


@dataclass
class RoundResult:
    target: str
    round: int
    docs: int
    wall_s: float
    chunks: int
    embedded_texts: int
    embedding_busy_s: float
    embedding_passes: int
    # CPU seconds the three services used (process_cpu_seconds_total), by service.
    cpu_s: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def sentences(self) -> int:
        """Claimable sentences embedded: retrieval embeds each chunk and each such sentence."""
        return self.embedded_texts - self.chunks


class StackTarget:
    """Embedding, retrieval and ingestion as processes with their own data folder."""

    def __init__(self, name: str, env: dict[str, str], root: Path) -> None:
        self.name = name
        self.env = {
            "VERITAS_DATA_DIR": str(root / name),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            **env,
        }
        self.log_dir = root / name / "logs"
        self.processes: list[ServiceProcess] = []
        self.client: IngestionClient | None = None

    def start(self) -> None:
        """Starts the three services (peers are found lazily) and waits until all serve."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        embedding = ServiceProcess("embedding", self.env, self.log_dir)
        self.processes.append(embedding)
        retrieval = ServiceProcess(
            "retrieval", {**self.env, "VERITAS_EMBEDDING_ADDR": embedding.addr}, self.log_dir
        )
        self.processes.append(retrieval)
        # No vision service: Markdown never needs one; a closed port makes a mistake loud.
        ingestion = ServiceProcess(
            "ingestion",
            {
                **self.env,
                "VERITAS_RETRIEVAL_ADDR": retrieval.addr,
                "VERITAS_VISION_ADDR": f"127.0.0.1:{free_port()}",
            },
            self.log_dir,
        )
        self.processes.append(ingestion)
        for process in self.processes:
            process.wait_serving(600)
        self.client = IngestionClient(ingestion.addr, timeout_s=3600)

    @property
    def embedding(self) -> ServiceProcess:
        return self.processes[0]

    async def ingest(self, abstracts: Sequence[Abstract], streams: int, round_: int) -> RoundResult:
        """Ingests `abstracts` over `streams` concurrent Ingest streams (documents dealt out
        round-robin), with the embedding service's counters read before and after."""
        assert self.client is not None
        client = self.client
        statuses: dict[str, int] = {}
        chunks = 0

        async def stream(share: Sequence[Abstract]) -> None:
            nonlocal chunks

            async def requests() -> AsyncIterator[ingestion_pb2.IngestRequest]:
                for abstract in share:
                    yield ingestion_pb2.IngestRequest(
                        source=abstract.source,
                        content=abstract.text.encode(),
                        mime_type="text/markdown",
                        collection=COLLECTION,
                    )

            async for reply in client.ingest(requests(), timeout_s=3600):
                status = ingestion_pb2.IngestStatus.Name(reply.status)
                statuses[status] = statuses.get(status, 0) + 1
                chunks += reply.chunks

        before = await asyncio.to_thread(self.scrape_all)
        start = time.perf_counter()
        await asyncio.gather(*(stream(abstracts[i::streams]) for i in range(streams)))
        wall = time.perf_counter() - start
        after = await asyncio.to_thread(self.scrape_all)

        def delta(name: str, service: str = "embedding") -> float:
            return after[service].get(name, 0.0) - before[service].get(name, 0.0)

        return RoundResult(
            target=self.name,
            round=round_,
            docs=len(abstracts),
            wall_s=wall,
            chunks=chunks,
            embedded_texts=int(delta("veritas_embedding_texts_total")),
            embedding_busy_s=delta("veritas_embedding_inference_duration_seconds_sum"),
            embedding_passes=int(delta("veritas_embedding_inference_duration_seconds_count")),
            cpu_s={p.name: delta("process_cpu_seconds_total", p.name) for p in self.processes},
            statuses=statuses,
        )

    def scrape_all(self) -> dict[str, dict[str, float]]:
        return {p.name: scrape(p.metrics_port) for p in self.processes}

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
        for process in reversed(self.processes):
            process.stop()


@dataclass
class TargetSummary:
    target: str
    docs: int
    wall_s: float
    docs_per_s: float
    chunks_per_s: float
    sentences_per_s: float
    texts_per_s: float
    embedding_share: float
    texts_per_pass: float
    cpu_s_per_doc: float
    corpus_min: float
    # The corpus's CPU time spread over every core of this machine: what an idle machine
    # would take if the services kept all cores busy (a lower bound).
    corpus_idle_min: float
    vs_baseline: float | None = None


def summarise(name: str, rounds: list[RoundResult]) -> TargetSummary:
    """Medians over rounds of each rate; the corpus time from the median documents/s."""

    def median(rate: Callable[[RoundResult], float]) -> float:
        return statistics.median(rate(r) for r in rounds)

    docs_per_s = median(lambda r: r.docs / r.wall_s)
    cpu_s_per_doc = median(lambda r: sum(r.cpu_s.values()) / r.docs)
    return TargetSummary(
        target=name,
        docs=sum(r.docs for r in rounds),
        wall_s=sum(r.wall_s for r in rounds),
        docs_per_s=docs_per_s,
        chunks_per_s=median(lambda r: r.chunks / r.wall_s),
        sentences_per_s=median(lambda r: r.sentences / r.wall_s),
        texts_per_s=median(lambda r: r.embedded_texts / r.wall_s),
        embedding_share=median(lambda r: r.embedding_busy_s / r.wall_s),
        texts_per_pass=median(lambda r: r.embedded_texts / max(1, r.embedding_passes)),
        cpu_s_per_doc=cpu_s_per_doc,
        corpus_min=SCIFACT_CORPUS_DOCS / docs_per_s / 60,
        corpus_idle_min=SCIFACT_CORPUS_DOCS * cpu_s_per_doc / (os.cpu_count() or 1) / 60,
    )


def ingest_table(summaries: list[TargetSummary]) -> str:
    rows = [
        "| target | docs | docs/s | chunks/s | sentences/s | embedding texts/s "
        "| embedding busy | texts/pass | CPU s/doc | x baseline | SciFact corpus (min) "
        "| same, idle cores (min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        ratio = f"{s.vs_baseline:.2f}" if s.vs_baseline is not None else "-"
        rows.append(
            f"| {s.target} | {s.docs} | {s.docs_per_s:.2f} | {s.chunks_per_s:.2f} "
            f"| {s.sentences_per_s:.1f} | {s.texts_per_s:.1f} | {s.embedding_share:.0%} "
            f"| {s.texts_per_pass:.1f} | {s.cpu_s_per_doc:.2f} | {ratio} | {s.corpus_min:.1f} "
            f"| {s.corpus_idle_min:.1f} |"
        )
    return "\n".join(rows)


async def bench_ingest(
    targets: list[StackTarget],
    abstracts: list[Abstract],
    warm_up: list[Abstract],
    rounds: int,
    streams: int,
) -> list[RoundResult]:
    results: list[RoundResult] = []
    for target in targets:
        # First writes create the index table and load lazily imported code: not measured.
        await target.ingest(warm_up, 1, -1)
    size = -(-len(abstracts) // rounds)
    for round_ in range(rounds):
        batch = abstracts[round_ * size : (round_ + 1) * size]
        if not batch:
            break
        first = round_ % len(targets)
        for target in targets[first:] + targets[:first]:
            await asyncio.sleep(SETTLE_S)
            print(
                f"bench_ingest: round {round_ + 1}/{rounds}, {target.name}, {len(batch)} docs ...",
                file=sys.stderr,
                flush=True,
            )
            result = await target.ingest(batch, streams, round_)
            results.append(result)
            print(
                f"bench_ingest:   {result.docs / result.wall_s:.2f} docs/s, "
                f"{result.embedded_texts} texts, embedding busy "
                f"{result.embedding_busy_s / result.wall_s:.0%}",
                file=sys.stderr,
                flush=True,
            )
    return results


def run_ingest(args: argparse.Namespace, abstracts: list[Abstract], warm_up: list[Abstract]):
    variants = args.variant or [PREVIOUS]
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    targets = [StackTarget("default", {}, root)]
    targets += [StackTarget(name, env, root) for name, env in variants]
    try:
        for target in targets:
            print(f"bench_ingest: starting {target.name} ...", file=sys.stderr, flush=True)
            target.start()
        rounds = asyncio.run(
            bench_ingest(targets, abstracts, warm_up, args.rounds, args.concurrency)
        )
    finally:

        async def stop_all() -> None:
            for target in targets:
                await target.stop()

        asyncio.run(stop_all())
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    summaries = [summarise(t.name, [r for r in rounds if r.target == t.name]) for t in targets]
    baseline = summaries[-1] if len(summaries) > 1 else None
    for s in summaries:
        if baseline is not None:
            s.vs_baseline = s.docs_per_s / baseline.docs_per_s
    best = summaries[0]
    lines = [
        f"default: SciFact corpus ({SCIFACT_CORPUS_DOCS} abstracts) in {best.corpus_min:.1f} min "
        f"at {best.docs_per_s:.2f} docs/s (target <= {TARGET_CORPUS_S / 60:.0f} min; "
        f"~{BEFORE_CORPUS_S / 60:.0f} min before); its CPU time over {os.cpu_count()} idle "
        f"cores: {best.corpus_idle_min:.1f} min",
        f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cores",
        f"services' logs and data: {root}"
        if args.keep
        else "services' data and logs removed (--keep keeps them)",
    ]
    text = (
        f"{len(abstracts)} SciFact abstracts, median of {args.rounds} rounds, "
        f"{args.concurrency} Ingest stream(s), variants: "
        + ", ".join(f"{name} {env}" for name, env in variants)
        + "\n\n"
        + ingest_table(summaries)
        + "\n\n"
        + "\n".join(f"- {line}" for line in lines)
    )
    results = {
        "summaries": [asdict(s) for s in summaries],
        "rounds": [asdict(r) | {"sentences": r.sentences} for r in rounds],
        "notes": lines,
    }
    return text, results


# ---- the embedder alone ---------------------------------------------------------------------
@dataclass
class EmbedSummary:
    shape: str
    threads: int
    variant: str
    texts: int
    texts_per_s: float
    vs_previous: float | None = None


def run_embedding_only(args: argparse.Namespace, abstracts: list[Abstract]):
    import numpy as np
    import torch

    from veritas_common.contract import EmbedKind
    from veritas_embedding.embedder import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    model: Any = embedder._model  # the previous code path calls the model directly

    def previous(texts: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode_document(
                texts,
                batch_size=64,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )

    def grouped(texts: list[str]) -> np.ndarray:
        return embedder.embed(texts, EmbedKind.PASSAGE)

    variants: dict[str, Callable[[list[str]], np.ndarray]] = {
        "previous": previous,
        "length groups": grouped,
    }
    split = [embedding_texts(a) for a in abstracts]
    per_document = [chunks + sentences for chunks, sentences in split]
    chunk_count = sum(len(chunks) for chunks, _ in split)
    flat = [t for texts in per_document for t in texts]
    shapes = {
        "per document": per_document,
        "64-text passes": [flat[i : i + 64] for i in range(0, len(flat), 64)],
    }
    threads = [int(t) for t in args.threads.split(",")] if args.threads else [0]
    default_threads = torch.get_num_threads()
    speeds: dict[tuple[str, int, str], list[float]] = {}
    for round_ in range(args.rounds):
        for shape, requests in shapes.items():
            for count in threads:
                count = count or default_threads
                torch.set_num_threads(count)
                print(
                    f"bench_ingest: round {round_ + 1}/{args.rounds}, {shape}, {count} thread(s)",
                    file=sys.stderr,
                    flush=True,
                )
                # Request by request, the variants taking turns to go first, so that a burst of
                # load from elsewhere falls on both.
                busy = dict.fromkeys(variants, 0.0)
                for i, texts in enumerate(requests):
                    names = list(variants)[i % 2 :] + list(variants)[: i % 2]
                    for name in names:
                        start = time.perf_counter()
                        variants[name](texts)
                        busy[name] += time.perf_counter() - start
                for name, seconds in busy.items():
                    speeds.setdefault((shape, count, name), []).append(len(flat) / seconds)
    torch.set_num_threads(default_threads)
    cosine = float(np.min(np.sum(previous(flat) * grouped(flat), axis=1)))
    summaries = [
        EmbedSummary(shape, count, name, len(flat), statistics.median(found))
        for (shape, count, name), found in speeds.items()
    ]
    by_key = {(s.shape, s.threads, s.variant): s for s in summaries}
    for s in summaries:
        s.vs_previous = s.texts_per_s / by_key[(s.shape, s.threads, "previous")].texts_per_s
    rows = [
        "| request shape | torch threads | embedder | texts/s | x previous |",
        "|---|---:|---|---:|---:|",
    ]
    for s in summaries:
        rows.append(
            f"| {s.shape} | {s.threads} | {s.variant} | {s.texts_per_s:.1f} | {s.vs_previous:.2f} |"
        )
    text = (
        f"{len(abstracts)} SciFact abstracts -> {len(flat)} texts ({chunk_count} chunks, "
        f"{len(flat) - chunk_count} sentences), median of {args.rounds} rounds\n\n"
        + "\n".join(rows)
        + f"\n\n- lowest cosine between the two embedders' vectors: {cosine:.7f}"
    )
    return text, {"summaries": [asdict(s) for s in summaries], "min_cosine": cosine}


# ---- command line ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=REPO.parent / "shared" / "data", help="datasets folder"
    )
    parser.add_argument(
        "--docs", type=int, help="abstracts to ingest (default 500; 40 with --embedding-only)"
    )
    parser.add_argument("--seed", type=int, default=13, help="seed of the abstracts' sample")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the table gives medians")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="concurrent Ingest streams from the client"
    )
    parser.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        default=[],
        help="another stack with these settings (the last is the baseline): "
        "NAME:VAR=VALUE[,VAR=VALUE]",
    )
    parser.add_argument(
        "--embedding-only", action="store_true", help="the embedder in this process only"
    )
    parser.add_argument(
        "--threads", default="", help="--embedding-only: torch thread counts, e.g. 1,2"
    )
    parser.add_argument("--out", type=Path, help="output folder (default reports/bench-ingest-*)")
    parser.add_argument("--keep", action="store_true", help="keep the services' data and logs")
    args = parser.parse_args(argv)
    count = args.docs or (40 if args.embedding_only else 500)
    abstracts = sample_abstracts(args.data, count + 4, args.seed)
    abstracts, warm_up = abstracts[:count], abstracts[count:]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.embedding_only:
        text, results = run_embedding_only(args, abstracts)
    else:
        text, results = run_ingest(args, abstracts, warm_up)
    out = args.out or REPO / "reports" / time.strftime("bench-ingest-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(text + "\n")
    settings = {
        "docs": count,
        "seed": args.seed,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "embedding_only": args.embedding_only,
        "threads": args.threads,
        "variants": dict(args.variant or [PREVIOUS]),
        "data": str(args.data),
        "loadavg": os.getloadavg(),
    }
    (out / "results.json").write_text(
        json.dumps({"settings": settings, **results}, indent=2) + "\n"
    )
    print(text)
    print(f"\nreport: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
