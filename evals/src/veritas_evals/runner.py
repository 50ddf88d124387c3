"""The evaluation: load the datasets the chosen tasks read, run each task against the gateway,
and assemble what they measured.

Every task fills in plain JSON-ready dicts (summary metrics and per-case records); the report
module turns them into the Markdown page, JSON and plots.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from veritas_evals import metrics
from veritas_evals.client import GatewayClient
from veritas_evals.datasets import (
    ConvFinQA,
    PubMedQA,
    SciFact,
    SciFactClaim,
    Split,
    TatQA,
    sample,
)
from veritas_evals.tasks.answers import AnswersTask
from veritas_evals.tasks.base import EvalTask, StepProgress, TaskContext
from veritas_evals.tasks.calculator import CalculatorTask
from veritas_evals.tasks.retrieval import RetrievalTask
from veritas_evals.tasks.structured import StructuredTask
from veritas_evals.tasks.verifier import VerifierTask

# In the order they run, which fixes the order of the requests (the first task that searches
# SciFact ingests it) and of the report's dataset, collection and skipped lists.
ALL_TASKS: tuple[EvalTask, ...] = (
    RetrievalTask(),
    AnswersTask(),
    StructuredTask(),
    VerifierTask(),
    CalculatorTask(),
)
TASKS = tuple(task.name for task in ALL_TASKS)
DatasetLoader = type[SciFact] | type[PubMedQA] | type[TatQA] | type[ConvFinQA]
LOADERS: dict[str, DatasetLoader] = {
    "scifact": SciFact,
    "pubmedqa": PubMedQA,
    "tatqa": TatQA,
    "convfinqa": ConvFinQA,
}
DATASETS = tuple(LOADERS)
# Names for the report: the dataset and the unit its split counts.
DATASET_TITLES = {
    "scifact": "SciFact",
    "pubmedqa": "PubMedQA",
    "tatqa": "TAT-QA",
    "convfinqa": "ConvFinQA",
}


@dataclass
class EvalConfig:
    """What to run. `split`: the part of each dataset whose cases run (`tuning`: held back from
    training, the default; `train`; `all`: no filtering, for held-out files), applied before
    sampling; `files`: explicit dataset files by dataset and loader keyword (e.g.
    {"scifact": {"claims": Path(...)}}), a relative path taken relative to `data_dir`; `limit`:
    cases per dataset (None = all); `corpus_limit`: documents per corpus to ingest (needed
    ones first, then fixed-seed distractors from any split; None = 5 x limit when a limit is
    set, else the whole corpus); `ablation_limit`: answer cases per dataset the ablations
    re-run (a fixed-seed subset; None = all); `concurrency`: requests in flight."""

    data_dir: Path
    split: Split = "tuning"
    files: dict[str, dict[str, Path]] = field(default_factory=dict)
    limit: int | None = None
    corpus_limit: int | None = None
    seed: int = 0
    tasks: tuple[str, ...] = TASKS
    datasets: tuple[str, ...] = DATASETS
    ablate: tuple[str, ...] = ()
    ablation_limit: int | None = None
    concurrency: int = 1
    retrieval_depth: int = 100
    rerank_depth: int = 100
    price_per_hour: float = 0.0
    collection_prefix: str = "eval-"
    upload_batch: int = 16

    def corpus_size(self) -> int | None:
        """Documents per corpus to ingest (None: the whole corpus)."""
        if self.corpus_limit is not None:
            return self.corpus_limit
        return None if self.limit is None else 5 * self.limit

    def collection(self, dataset: str) -> str:
        """The collection a dataset's documents are ingested into."""
        return f"{self.collection_prefix}{dataset}"


@dataclass
class Results:
    """Everything an evaluation measured; `records` are per-case rows (for JSON and plots)."""

    settings: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, Any] = field(default_factory=dict)
    splits: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    ingestion: dict[str, Any] = field(default_factory=dict)
    retrieval: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)
    structured: dict[str, Any] = field(default_factory=dict)
    verifier: dict[str, Any] = field(default_factory=dict)
    calculator: dict[str, Any] = field(default_factory=dict)
    ablations: dict[str, Any] = field(default_factory=dict)
    ablations_not_supported: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The results as plain dicts and lists."""
        return asdict(self)


class Evaluation:
    """Runs the configured tasks against one gateway."""

    def __init__(
        self, client: GatewayClient, config: EvalConfig, progress: StepProgress | None = None
    ) -> None:
        self.client = client
        self.config = config
        self.progress = progress or StepProgress()
        self.results = Results()
        self.missing: dict[str, str] = {}  # dataset -> why it could not be loaded

    def run(self) -> Results:
        """Runs every selected task in turn; a missing dataset or endpoint skips its task with
        the reason, an unreachable gateway stops the run (GatewayUnreachable)."""
        cfg = self.config
        self.results.settings = self._settings()
        tasks = [task for task in ALL_TASKS if task.name in cfg.tasks]
        datasets = self._load({name for task in tasks for name in task.datasets})
        self.results.splits = {
            name: split_counts(dataset, cfg.split) for name, dataset in datasets.items()
        }
        self._warn_about_inputs(datasets)
        ctx = TaskContext(self.client, cfg, self.progress, self.results, datasets, self.missing)
        if "scifact" in datasets:
            ctx.scifact_claims = self._sample_claims(datasets["scifact"])
        for task in tasks:
            task.run(ctx)
        if ctx.ask_usages:
            self.results.latency = summarise_latency(ctx.ask_usages, cfg.price_per_hour)
        return self.results

    def _settings(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "data_dir": str(cfg.data_dir),
            "split": cfg.split,
            "files": {},  # the files each loaded dataset was read from (filled in by _load)
            "limit": cfg.limit,
            "corpus_limit": cfg.corpus_size(),
            "seed": cfg.seed,
            "tasks": list(cfg.tasks),
            "datasets": list(cfg.datasets),
            "ablate": list(cfg.ablate),
            "ablation_limit": cfg.ablation_limit,
            "concurrency": cfg.concurrency,
            "retrieval_depth": cfg.retrieval_depth,
            "rerank_depth": cfg.rerank_depth,
            "price_per_hour": cfg.price_per_hour,
            "citation_rule": (
                "a cited span is correct when it comes from a gold document and shares a run of "
                f"characters of at least {metrics.MIN_OVERLAP_SHARE:.0%} of the shorter of it "
                "and a gold unit (SciFact rationale sentence, PubMedQA context), after "
                "whitespace normalisation; PubMedQA's citation figures are document-level "
                "(gold = whole contexts), SciFact's sentence-level"
            ),
        }

    def _load(self, needed: set[str]) -> dict[str, Any]:
        """The needed datasets that are selected and whose files exist (the defaults under
        the data folder, or the explicit ones), all loaded before the first request; why any
        other needed one is missing goes to `self.missing`."""
        cfg = self.config
        loaded: dict[str, Any] = {}
        for name, loader in LOADERS.items():
            if name not in needed:
                continue
            if name not in cfg.datasets:
                self.missing[name] = f"{name} not selected"
                continue
            explicit = cfg.files.get(name, {})
            paths = loader.files(cfg.data_dir, **explicit)
            absent = [str(p) for p in paths.values() if not p.is_file()]
            if absent:
                self.missing[name] = f"no {', '.join(absent)}"
                continue
            loaded[name] = loader.load(cfg.data_dir, **explicit)
            self.results.settings["files"][name] = {k: str(p) for k, p in paths.items()}
        return loaded

    def _warn_about_inputs(self, datasets: dict[str, Any]) -> None:
        """Warnings about what the figures mean: explicit files filtered by a split, and
        SciFact claims without labels."""
        cfg = self.config
        explicit = sorted(name for name in datasets if cfg.files.get(name))
        if explicit and cfg.split != "all":
            self.results.warnings.append(
                f"explicit files for {', '.join(explicit)} are filtered to their {cfg.split} part "
                "(about 20 % for tuning); pass --split all to measure every case of a held-out "
                "file"
            )
        scifact: SciFact | None = datasets.get("scifact")
        unlabelled = sum(1 for c in scifact.claims if not c.labelled) if scifact else 0
        if unlabelled:
            self.results.warnings.append(
                f"{unlabelled} SciFact claims have no `evidence` key (an unlabelled file): they "
                "count as not-enough-info cases, so their decision and citation figures and "
                "their retrieval and verifier cases mean nothing"
            )

    def _sample_claims(self, scifact: SciFact) -> list[SciFactClaim]:
        """The SciFact claims of this run (retrieval, answers and verifier share them): the
        configured split's, then the configured number drawn with the seed."""
        in_split = scifact.claims_of(self.config.split)
        claims: list[SciFactClaim] = sample(in_split, self.config.limit, self.config.seed)
        self.results.datasets["scifact"] = {
            "corpus_docs": len(scifact.corpus),
            "claims": len(scifact.claims),
            "split_claims": len(in_split),
            "sampled_claims": len(claims),
            "sampled_with_evidence": sum(1 for c in claims if c.evidence),
        }
        return claims


def split_counts(dataset: Any, split: Split) -> dict[str, list[int]]:
    """What the split keeps of a dataset: unit -> [in the split, in the file]."""
    if isinstance(dataset, SciFact):
        return {
            "claims": [len(dataset.claims_of(split)), len(dataset.claims)],
            "documents": [len(dataset.doc_ids_of(split)), len(dataset.corpus)],
        }
    if isinstance(dataset, PubMedQA):
        return {"items": [len(dataset.items_of(split)), len(dataset.items)]}
    if isinstance(dataset, TatQA):
        return {
            "contexts": [len(dataset.contexts_of(split)), len(dataset.contexts)],
            "questions": [len(dataset.questions_of(split)), len(dataset.questions)],
        }
    if isinstance(dataset, ConvFinQA):
        conversations = dataset.conversations_of(split)
        return {
            "conversations": [len(conversations), len(dataset.conversations)],
            "turns": [sum(len(c.questions) for c in conversations), dataset.turns],
        }
    raise TypeError(f"not a dataset: {type(dataset).__name__}")


def summarise_latency(usages: list[dict[str, float]], price_per_hour: float) -> dict[str, Any]:
    """Per-stage p50/p95, throughput and cost over the `usage` of full-system /v1/ask calls."""
    stages = {}
    for stage in metrics.STAGES:
        # A stage a request skipped (rerank off, no model call) reports 0 ms; it is left
        # out so the percentiles describe the stage when it runs, with its own count.
        ran = [u[stage] for u in usages if u[stage] > 0]
        stages[stage] = {
            "p50": metrics.percentile(ran, 50),
            "p95": metrics.percentile(ran, 95),
            "requests": len(ran),
        }
    tput = metrics.throughput(usages)
    return {
        "requests": len(usages),
        "stages": stages,
        "throughput": asdict(tput),
        "cost_per_1k_completion_tokens": metrics.cost_per_1k_tokens(
            price_per_hour, tput.decode_tokens_per_s
        ),
        "cost_per_1k_tokens": metrics.cost_per_1k_tokens(price_per_hour, tput.tokens_per_s),
        "price_per_hour": price_per_hour,
    }
