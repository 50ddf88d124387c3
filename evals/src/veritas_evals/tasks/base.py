"""What every evaluation task shares: the task interface, the context a task runs in (gateway,
settings, progress bars, loaded datasets, the results it fills in) and the concurrency helper."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from veritas_evals.client import EndpointMissing, GatewayClient
from veritas_evals.datasets import Document, SciFactClaim, sample

if TYPE_CHECKING:
    # Type-only: the runner owns the settings and the results, and imports the tasks.
    from veritas_evals.runner import EvalConfig, Results


class EvalTask(Protocol):
    """One evaluation task (retrieval, answers, ...), run once per evaluation."""

    @property
    def name(self) -> str:
        """The `--tasks` name; also the task's field of Results and its key in records."""
        ...

    @property
    def datasets(self) -> tuple[str, ...]:
        """The dataset folders it reads; the runner loads those of the selected tasks."""
        ...

    def run(self, ctx: TaskContext) -> None:
        """Runs the task's cases through the gateway and records its summary and per-case
        records in `ctx.results`, or why it was skipped."""
        ...


Advance = Callable[[int], None]


class StepProgress:
    """Progress bars for the runner's long steps: the CLI wraps rich's, tests pass none."""

    def __init__(self, rich_progress: Any = None) -> None:
        self.rich = rich_progress

    @contextmanager
    def step(self, description: str, total: int) -> Iterator[Advance]:
        """A bar for one step of `total` units; yields the function that advances it."""
        if self.rich is None:
            yield _no_progress
            return
        task = self.rich.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            self.rich.advance(task, n)

        try:
            yield advance
        finally:
            self.rich.update(task, completed=total)


def _no_progress(n: int = 1) -> None:
    """Progress nobody watches."""


def ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], concurrency: int) -> list[Any]:
    """`fn` over `items` with up to `concurrency` calls in flight, results in input order.
    The first exception stops the work not yet started and is raised."""
    if concurrency <= 1:
        return [fn(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval")
    try:
        return list(pool.map(fn, items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class TaskContext:
    """One evaluation as the tasks see it. `datasets`: the loaded datasets by folder name (a
    missing name was not selected or not found: `missing` says why); `scifact_claims`: the
    sampled SciFact claims (of the configured split) that retrieval, answers and verifier
    share; `ask_usages`: the `usage` of every full-system /v1/ask, which the runner summarises
    as the latency. Every task takes its cases from the configured split before sampling."""

    client: GatewayClient
    config: EvalConfig
    progress: StepProgress
    results: Results
    datasets: dict[str, Any]
    missing: dict[str, str] = field(default_factory=dict)
    scifact_claims: list[SciFactClaim] = field(default_factory=list)
    ask_usages: list[dict[str, float]] = field(default_factory=list)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """`ordered_map` at the configured concurrency."""
        return ordered_map(fn, items, self.config.concurrency)

    def map_or_skip(
        self, task: str, fn: Callable[[Any], dict[str, Any]], items: Sequence[Any]
    ) -> list[dict[str, Any]] | None:
        """`map` for a task whose endpoint may be missing: then the task is skipped with the
        reason (None)."""
        try:
            return self.map(fn, items)
        except EndpointMissing as err:
            self.results.skipped[task] = f"{err} (endpoint not on this gateway)"
            return None

    def dataset_or_skip(self, task: str, name: str) -> Any:
        """The loaded dataset `name`, or None with `task` recorded as skipped for want of it."""
        dataset = self.datasets.get(name)
        if dataset is None:
            self.results.skipped[task] = self.why_missing(name)
        return dataset

    def why_missing(self, *names: str) -> str:
        """Why the datasets `names` were not loaded (not selected, or which file is absent)."""
        return "; ".join(self.missing.get(n, f"{n} not selected or not present") for n in names)

    def sample(self, items: Sequence[Any]) -> list[Any]:
        """The configured number of `items`, drawn with the configured seed."""
        return sample(items, self.config.limit, self.config.seed)

    def ingest(self, dataset: str, documents: Sequence[Document]) -> None:
        """Ingests `documents` into the dataset's collection (idempotently) and records what
        the collection holds, warning about documents it cannot hold."""
        collection = self.config.collection(dataset)
        with self.progress.step(f"ingest {collection}", len(documents)) as advance:
            present = self.client.list_sources(collection)
            advance(sum(1 for d in documents if d.source in present))
            summary = self.client.ingest(
                documents, collection, batch_size=self.config.upload_batch, on_batch=advance
            )
        listed = self.client.list_sources(collection)
        # Identical bytes already stored in another collection of the tenant come back
        # "unchanged" and stay there (a document lives in one collection): say so.
        missing = sorted(d.source for d in documents if d.source not in listed)
        self.results.ingestion[dataset] = asdict(summary) | {
            "collection_docs": len(listed),
            "missing": len(missing),
            "missing_sources": missing[:20],
        }
        if missing:
            self.results.warnings.append(
                f"{len(missing)} {dataset} documents are not in {collection}: the same bytes are "
                "stored in another collection of this tenant (e.g. "
                f"{', '.join(missing[:3])}); delete them there and re-run to include them"
            )

    def ingest_scifact(self) -> None:
        """Ingests the SciFact collection that retrieval and answers both search (the sampled
        claims' documents plus fixed-seed distractors) once, for whichever runs first."""
        if "scifact" in self.results.ingestion:
            return
        scifact = self.datasets["scifact"]
        doc_ids = scifact.corpus_subset(
            self.scifact_claims, self.config.corpus_size(), self.config.seed
        )
        self.ingest("scifact", [scifact.document(d) for d in doc_ids])


def count_values(values: Iterable[str]) -> dict[str, int]:
    """How often each value occurs, in order of first occurrence."""
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def error_record(config: str, dataset: str, case_id: str, err: Exception) -> dict[str, Any]:
    """A request the gateway failed: kept in the records, left out of the metrics, counted."""
    return {
        "config": config,
        "dataset": dataset,
        "case_id": case_id,
        "status": "ERROR",
        "error": str(err),
        # 422: the gateway rejected the request body (e.g. a switch it does not know).
        "http_status": getattr(err, "status", None),
    }
