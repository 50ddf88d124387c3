"""The evaluation: sample cases, ingest what they need, run each task against the gateway.

Every task returns plain JSON-ready dicts (summary metrics and per-case records); the report
module turns them into the Markdown page, JSON and plots.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from veritas_evals import metrics
from veritas_evals.baselines import WordOverlapBaseline
from veritas_evals.client import (
    EndpointMissing,
    GatewayClient,
    GatewayError,
    GatewayUnreachable,
    IngestSummary,
)
from veritas_evals.datasets import (
    AnswerCase,
    CalculationCase,
    ConvFinQA,
    Document,
    ExtractionCase,
    PubMedQA,
    SciFact,
    TatQA,
    decimal_places,
    sample,
)

TASKS = ("retrieval", "answers", "structured", "verifier", "calculator")
DATASETS = ("scifact", "pubmedqa", "tatqa", "convfinqa")
ABLATIONS = ("rerank", "verify", "hybrid")
VERDICTS = ("SUPPORTED", "UNSUPPORTED", "CONTRADICTED")


@dataclass(frozen=True)
class RetrievalMode:
    name: str
    mode: str
    rerank: bool


RETRIEVAL_MODES = (
    RetrievalMode("bm25", "bm25", False),
    RetrievalMode("dense", "dense", False),
    RetrievalMode("hybrid", "hybrid", False),
    RetrievalMode("hybrid+rerank", "hybrid", True),
)


@dataclass(frozen=True)
class AskConfig:
    """The /v1/ask switches of one system configuration (an ablation turns one off)."""

    name: str
    rerank: bool | None = None  # None: the server's default
    verify: bool = True
    search_mode: str = "hybrid"


FULL_SYSTEM = AskConfig("full")
ABLATION_CONFIGS = {
    "rerank": AskConfig("no rerank", rerank=False),
    "verify": AskConfig("no verify", verify=False),
    "hybrid": AskConfig("no hybrid (dense only)", search_mode="dense"),
}
RERANK_ON = AskConfig("with rerank (off by default)", rerank=True)

# Extraction schemas for structured output, used in turn over the TAT-QA questions.
EXTRACTION_SCHEMAS: dict[str, dict[str, Any]] = {
    "numeric_fact": {
        "type": "object",
        "properties": {
            "value": {"type": "number"},
            "scale": {"enum": ["", "thousand", "million", "billion", "percent"]},
        },
        "required": ["value", "scale"],
        "additionalProperties": False,
    },
    "metric_value": {
        "type": "object",
        "properties": {
            "metric": {"type": "string", "minLength": 1, "maxLength": 60},
            "year": {"type": "string", "pattern": "^(19|20)[0-9]{2}$"},
            "value": {"type": "number"},
        },
        "required": ["metric", "year", "value"],
        "additionalProperties": False,
    },
    "value_list": {
        "type": "object",
        "properties": {
            "values": {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 4}
        },
        "required": ["values"],
        "additionalProperties": False,
    },
}


@dataclass
class EvalConfig:
    """What to run. `limit`: cases per dataset (None = all); `corpus_limit`: documents per
    corpus to ingest (needed ones first, then fixed-seed distractors; None = 5 x limit when a
    limit is set, else the whole corpus); `ablation_limit`: answer cases per dataset the
    ablations re-run (a fixed-seed subset; None = all); `concurrency`: requests in flight."""

    data_dir: Path
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
        if self.corpus_limit is not None:
            return self.corpus_limit
        return None if self.limit is None else 5 * self.limit

    def collection(self, dataset: str) -> str:
        return f"{self.collection_prefix}{dataset}"


# ---------------------------------------------------------------------------------- progress


Advance = Callable[[int], None]


class StepProgress:
    """Progress bars for the runner's long steps: the CLI wraps rich's, tests pass none."""

    def __init__(self, rich_progress: Any = None) -> None:
        self.rich = rich_progress

    @contextmanager
    def step(self, description: str, total: int) -> Iterator[Advance]:
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


# ------------------------------------------------------------------------------------ runner


@dataclass
class Results:
    """Everything an evaluation measured; `records` are per-case rows (for JSON and plots)."""

    settings: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, Any] = field(default_factory=dict)
    ingestion: dict[str, Any] = field(default_factory=dict)
    retrieval: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)
    structured: dict[str, Any] = field(default_factory=dict)
    verifier: dict[str, Any] = field(default_factory=dict)
    calculator: dict[str, Any] = field(default_factory=dict)
    ablations: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
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
        self._answer_usages: list[dict[str, float]] = []

    def _map_or_skip(
        self, task: str, fn: Callable[[Any], dict[str, Any]], items: Sequence[Any]
    ) -> list[dict[str, Any]] | None:
        """`ordered_map` of a task whose endpoint may be missing: then the task is skipped
        with the reason (None)."""
        try:
            return ordered_map(fn, items, self.config.concurrency)
        except EndpointMissing as err:
            self.results.skipped[task] = f"{err} (endpoint not on this gateway)"
            return None

    # ---- datasets ----------------------------------------------------------------------------
    def _load(self, loader: Any, folder: str) -> Any | None:
        if folder not in self.config.datasets or not (self.config.data_dir / folder).is_dir():
            return None
        return loader.load(self.config.data_dir)

    def run(self) -> Results:
        cfg = self.config
        r = self.results
        r.settings = {
            "data_dir": str(cfg.data_dir),
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
                "whitespace normalisation"
            ),
        }
        needs_scifact = {"retrieval", "answers", "verifier"} & set(cfg.tasks)
        scifact = self._load(SciFact, "scifact") if needs_scifact else None
        pubmedqa = self._load(PubMedQA, "pubmedqa") if "answers" in cfg.tasks else None
        tatqa = (
            self._load(TatQA, "tatqa") if {"structured", "calculator"} & set(cfg.tasks) else None
        )
        convfinqa = self._load(ConvFinQA, "convfinqa") if "calculator" in cfg.tasks else None

        claims = sample(scifact.claims, cfg.limit, cfg.seed) if scifact else []
        if scifact:
            r.datasets["scifact"] = {
                "corpus_docs": len(scifact.corpus),
                "claims": len(scifact.claims),
                "sampled_claims": len(claims),
                "sampled_with_evidence": sum(1 for c in claims if c.evidence),
            }
        if scifact and {"retrieval", "answers"} & set(cfg.tasks):
            doc_ids = scifact.corpus_subset(claims, cfg.corpus_size(), cfg.seed)
            self._ingest("scifact", [scifact.document(d) for d in doc_ids])
        if "retrieval" in cfg.tasks:
            if scifact is None:
                r.skipped["retrieval"] = "scifact not selected or no scifact/ under the data folder"
            else:
                self.run_retrieval(scifact, claims)

        if "answers" in cfg.tasks:
            answer_sets: dict[str, list[AnswerCase]] = {}
            if scifact is not None:
                answer_sets["scifact"] = scifact.answer_cases(claims)
            if pubmedqa is not None:
                items = sample(pubmedqa.items, cfg.limit, cfg.seed)
                r.datasets["pubmedqa"] = {
                    "items": len(pubmedqa.items),
                    "sampled": len(items),
                    "decisions": _count(i.decision for i in items),
                }
                corpus = pubmedqa.corpus_subset(items, cfg.corpus_size(), cfg.seed)
                self._ingest("pubmedqa", [pubmedqa.document(i) for i in corpus])
                answer_sets["pubmedqa"] = pubmedqa.answer_cases(items)
            if answer_sets:
                self.run_answers(answer_sets)
            else:
                r.skipped["answers"] = "neither scifact nor pubmedqa selected and present"

        if "structured" in cfg.tasks:
            if tatqa is None:
                r.skipped["structured"] = "tatqa not selected or no tatqa/ under the data folder"
            else:
                self.run_structured(tatqa)
        if self._answer_usages:
            self._summarise_latency()

        if "verifier" in cfg.tasks:
            if scifact is None:
                r.skipped["verifier"] = "scifact not selected or no scifact/ under the data folder"
            else:
                self.run_verifier(scifact, claims)

        if "calculator" in cfg.tasks:
            cases: list[CalculationCase] = []
            if tatqa is not None:
                r.datasets.setdefault("tatqa", {})
                tatqa_cases = tatqa.calculation_cases()
                r.datasets["tatqa"]["arithmetic_cases"] = len(tatqa_cases)
                cases += sample(tatqa_cases, cfg.limit, cfg.seed)
            if convfinqa is not None:
                conv_cases = convfinqa.calculation_cases()
                r.datasets["convfinqa"] = {
                    "conversations": len(convfinqa.conversations),
                    "turns": convfinqa.turns,
                    "arithmetic_turns": len(conv_cases),
                }
                cases += sample(conv_cases, cfg.limit, cfg.seed)
            if cases:
                self.run_calculator(cases)
            else:
                r.skipped["calculator"] = "neither tatqa nor convfinqa selected and present"
        return r

    def _ingest(self, dataset: str, documents: Sequence[Document]) -> IngestSummary:
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
        return summary

    # ---- retrieval ---------------------------------------------------------------------------
    def run_retrieval(self, scifact: SciFact, claims: Sequence[Any]) -> None:
        cfg = self.config
        cases = scifact.retrieval_cases(claims)
        qrels = {c.case_id: c.qrels for c in cases}
        collection = cfg.collection("scifact")
        out: dict[str, Any] = {}
        records: list[dict[str, Any]] = []
        for mode in RETRIEVAL_MODES:
            depth = cfg.rerank_depth if mode.rerank else cfg.retrieval_depth
            run: dict[str, list[str]] = {}
            latencies = []
            failed: list[str] = []
            with self.progress.step(f"search scifact ({mode.name})", len(cases)) as advance:

                def search(case: Any, mode: RetrievalMode = mode, depth: int = depth) -> Any:
                    start = time.perf_counter()
                    try:
                        hits = self.client.search(
                            case.query,
                            collection=collection,
                            top_k=depth,
                            mode=mode.mode,
                            rerank=mode.rerank,
                        )
                    except GatewayUnreachable:
                        raise
                    except GatewayError as err:
                        return err, 0.0
                    finally:
                        advance(1)
                    return hits, (time.perf_counter() - start) * 1000

                for case, (hits, ms) in zip(
                    cases, ordered_map(search, cases, cfg.concurrency), strict=True
                ):
                    if isinstance(hits, GatewayError):
                        # Excluded from this mode's means (and counted), not scored as a miss.
                        failed.append(case.case_id)
                        records.append(
                            {"mode": mode.name, "case_id": case.case_id, "error": str(hits)}
                        )
                        continue
                    latencies.append(ms)
                    run[case.case_id] = metrics.rank_documents(
                        (h["source"] for h in hits), scifact.doc_id_of
                    )
                    records.append(
                        {
                            "mode": mode.name,
                            "case_id": case.case_id,
                            "ranked": run[case.case_id][:20],  # enough to read by eye
                            "relevant": sorted(case.qrels),
                        }
                    )
            judged = {qid: rel for qid, rel in qrels.items() if qid not in failed}
            scores = asdict(metrics.evaluate_run(run, judged))
            scores["errors"] = len(failed)
            if depth < 100:
                scores["recall_at_100"] = None  # not measurable with fewer than 100 results
            if depth < 10:
                scores["ndcg_at_10"] = scores["recall_at_10"] = None
            scores["depth"] = depth
            scores["search_p50_ms"] = metrics.percentile(latencies, 50)
            scores["search_p95_ms"] = metrics.percentile(latencies, 95)
            out[mode.name] = scores
        self.results.retrieval = {"scifact": out}
        self.results.records["retrieval"] = records

    # ---- answers -----------------------------------------------------------------------------
    def _ask_all(
        self, answer_sets: dict[str, list[AnswerCase]], config: AskConfig
    ) -> list[dict[str, Any]]:
        jobs = [(dataset, case) for dataset, cases in answer_sets.items() for case in cases]
        with self.progress.step(f"ask ({config.name})", len(jobs)) as advance:

            def ask(job: tuple[str, AnswerCase]) -> dict[str, Any]:
                dataset, case = job
                try:
                    answer = self.client.ask(
                        case.question,
                        collection=self.config.collection(dataset),
                        rerank=config.rerank,
                        verify=config.verify,
                        search_mode=config.search_mode,
                    )
                except GatewayUnreachable:
                    raise
                except GatewayError as err:
                    return _error_record(config.name, dataset, case.case_id, err)
                finally:
                    advance(1)
                counts = metrics.score_citations(answer, case.gold)
                return {
                    "config": config.name,
                    "dataset": dataset,
                    "case_id": case.case_id,
                    "expected": case.expected,
                    "status": answer["status"],
                    "citations": asdict(counts),
                    "usage": answer["usage"],
                    # For auditing the citation rule by eye.
                    "cited": [
                        {"source": ev["source"], "quote": ev["quote"][:300], "correct": ok}
                        for ev, ok in metrics.judge_citations(answer, case.gold)
                    ],
                }

            return ordered_map(ask, jobs, self.config.concurrency)

    def run_answers(self, answer_sets: dict[str, list[AnswerCase]]) -> None:
        records = self._ask_all(answer_sets, FULL_SYSTEM)
        self._answer_usages += [r["usage"] for r in records if "usage" in r]
        self.results.answers = summarise_answers(records)
        all_records = list(records)
        if self.config.ablate:
            # The ablations re-run a fixed-seed subset; the full system's row is read off the
            # same cases so every delta compares like with like.
            subsets = {
                dataset: sample(cases, self.config.ablation_limit, self.config.seed)
                for dataset, cases in answer_sets.items()
            }
            chosen = {(d, c.case_id) for d, cases in subsets.items() for c in cases}
            full = [r for r in records if (r["dataset"], r["case_id"]) in chosen]
            table = {FULL_SYSTEM.name: summarise_answers(full)}
            for name in self.config.ablate:
                config = ABLATION_CONFIGS[name]
                if name == "rerank" and not any(r.get("usage", {}).get("rerank_ms") for r in full):
                    # The server does not rerank by default (no cross-encoder): switching it
                    # off would change nothing, so the ablation shows what turning it on does.
                    config = RERANK_ON
                ablated = self._ask_all(subsets, config)
                all_records += ablated
                table[config.name] = summarise_answers(ablated)
            self.results.ablations = ablation_table(table)
        self.results.records["answers"] = all_records

    # ---- structured output -------------------------------------------------------------------
    def run_structured(self, tatqa: TatQA) -> None:
        cfg = self.config
        numeric = tatqa.extraction_cases()
        cases: list[ExtractionCase] = sample(numeric, cfg.limit, cfg.seed)
        questions = {q.uid: q for q in tatqa.questions}
        needed = [questions[c.case_id.removeprefix("tatqa-")] for c in cases]
        contexts = tatqa.corpus_subset(needed, cfg.corpus_size(), cfg.seed)
        self.results.datasets["tatqa"] = {
            "contexts": len(tatqa.contexts),
            "questions": len(tatqa.questions),
            "numeric_questions": len(numeric),
            "sampled": len(cases),
        }
        self._ingest("tatqa", [tatqa.document(c) for c in contexts])
        names = list(EXTRACTION_SCHEMAS)
        with self.progress.step("ask tatqa with data_schema", len(cases)) as advance:

            def ask(job: tuple[int, ExtractionCase]) -> dict[str, Any]:
                i, case = job
                schema_name = names[i % len(names)]
                schema = EXTRACTION_SCHEMAS[schema_name]
                try:
                    answer = self.client.ask(
                        case.question, collection=cfg.collection("tatqa"), data_schema=schema
                    )
                except GatewayUnreachable:
                    raise
                except GatewayError as err:
                    return _error_record("full", "tatqa", case.case_id, err)
                finally:
                    advance(1)
                return structured_record(case, schema_name, schema, answer) | {
                    "config": "full",
                    "usage": answer["usage"],
                }

            records = ordered_map(ask, list(enumerate(cases)), cfg.concurrency)
        self._answer_usages += [r["usage"] for r in records if "usage" in r]
        self.results.structured = summarise_structured(records)
        self.results.records["structured"] = records

    def _summarise_latency(self) -> None:
        usages = self._answer_usages
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
        self.results.latency = {
            "requests": len(usages),
            "stages": stages,
            "throughput": asdict(tput),
            "cost_per_1k_completion_tokens": metrics.cost_per_1k_tokens(
                self.config.price_per_hour, tput.decode_tokens_per_s
            ),
            "cost_per_1k_tokens": metrics.cost_per_1k_tokens(
                self.config.price_per_hour, tput.tokens_per_s
            ),
            "price_per_hour": self.config.price_per_hour,
        }

    # ---- verifier ----------------------------------------------------------------------------
    def run_verifier(self, scifact: SciFact, claims: Sequence[Any]) -> None:
        cases = scifact.verifier_cases([c for c in claims if c.evidence], self.config.seed)
        baseline = WordOverlapBaseline()
        with self.progress.step("verify scifact pairs", len(cases)) as advance:

            def verify(case: Any) -> dict[str, Any]:
                try:
                    reply = self.client.verify(case.claim, case.evidence)
                except (EndpointMissing, GatewayUnreachable):
                    raise
                except GatewayError as err:
                    return {"case_id": case.case_id, "error": str(err)}
                finally:
                    advance(1)
                base_label, base_score = baseline.verify(case.claim, case.evidence)
                return {
                    "case_id": case.case_id,
                    "gold": case.label,
                    "system": reply["support"],
                    "system_score": float(reply.get("score", 0.0)),
                    "verifier": reply.get("verifier", ""),
                    "baseline": base_label,
                    "baseline_score": base_score,
                }

            records = self._map_or_skip("verifier", verify, cases)
        if records is None:
            return
        errors = sum(1 for r in records if "error" in r)
        verifier_name = next((r["verifier"] for r in records if r.get("verifier")), "")
        scored = [r for r in records if "error" not in r]
        gold = [r["gold"] for r in scored]
        self.results.verifier = {
            "pairs": len(scored),
            "errors": errors,
            "gold": _count(gold),
            "verifier": verifier_name,
            "system": asdict(
                metrics.classification_report(gold, [r["system"] for r in scored], VERDICTS)
            ),
            "baseline_name": f"{baseline.name} (threshold {baseline.threshold})",
            "baseline": asdict(
                metrics.classification_report(gold, [r["baseline"] for r in scored], VERDICTS)
            ),
        }
        self.results.records["verifier"] = records

    # ---- calculator --------------------------------------------------------------------------
    def run_calculator(self, cases: Sequence[CalculationCase]) -> None:
        with self.progress.step("calculate", len(cases)) as advance:

            def calculate(case: CalculationCase) -> dict[str, Any]:
                value: float | None = None
                error = ""
                try:
                    value = float(self.client.calculate(case.text)["value"])
                except (EndpointMissing, GatewayUnreachable):
                    raise
                except (GatewayError, KeyError, TypeError, ValueError) as err:
                    error = str(err)[:200]
                finally:
                    advance(1)
                return {
                    "case_id": case.case_id,
                    "dataset": case.dataset,
                    "sent": case.text,
                    "expression": case.expression,
                    "gold": case.gold,
                    "value": value,
                    "correct": value is not None and calculation_correct(case, value),
                    "exact_correct": calculation_correct(case, case.exact),
                    "error": error,
                }

            records = self._map_or_skip("calculator", calculate, cases)
        if records is None:
            return
        out: dict[str, Any] = {}
        for dataset in dict.fromkeys(str(r["dataset"]) for r in records):
            rows = [r for r in records if r["dataset"] == dataset]
            out[dataset] = {
                "cases": len(rows),
                "accuracy": sum(r["correct"] for r in rows) / len(rows),
                "exact_reference_accuracy": sum(r["exact_correct"] for r in rows) / len(rows),
                "errors": sum(1 for r in rows if r["error"]),
                "rule": (
                    "rounds to the gold at its printed decimals (percent: value or value x 100)"
                    if dataset == "tatqa"
                    else "within relative 1e-3 of the gold"
                ),
            }
        self.results.calculator = out
        self.results.records["calculator"] = records


# --------------------------------------------------------------------------- pure summaries


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def calculation_correct(case: CalculationCase, value: float) -> bool:
    if case.rule == "rounded":
        return metrics.matches_tatqa(value, case.gold, case.decimals, case.percent)
    return metrics.matches_relative(value, case.gold)


def _error_record(config: str, dataset: str, case_id: str, err: Exception) -> dict[str, Any]:
    """A request the gateway failed: kept in the records, left out of the metrics, counted."""
    return {
        "config": config,
        "dataset": dataset,
        "case_id": case_id,
        "status": "ERROR",
        "error": str(err),
    }


def summarise_answers(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Decision and citation metrics per dataset from /v1/ask records (failed requests are
    counted in `errors` and left out of the rates)."""
    out: dict[str, Any] = {}
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        failed = sum(1 for r in records if r["dataset"] == dataset and r["status"] == "ERROR")
        rows = [r for r in records if r["dataset"] == dataset and r["status"] != "ERROR"]
        decisions = metrics.DecisionCounts()
        counts = metrics.CitationCounts()
        answerable = metrics.CitationCounts()
        for r in rows:
            decisions.add(r["expected"], r["status"])
            c = metrics.CitationCounts(**r["citations"])
            counts = counts + c
            if r["expected"] != "refuse":
                answerable = answerable + c
        out[dataset] = {
            "cases": len(rows),
            "errors": failed,
            "statuses": decisions.by_status,
            "decision_accuracy": decisions.accuracy,
            "answer_rate": decisions.answer_rate,
            "refusal_rate": decisions.refusal_rate,
            "uncertain_cases": decisions.uncertain,
            "uncertain_answer_rate": decisions.uncertain_answer_rate,
            # Citation precision/recall over cases with gold evidence; the unsupported-claim
            # rate over every claim (a claim answering a not-enough-info case is unsupported).
            "citation_precision": answerable.precision,
            "citation_recall": answerable.recall,
            "unsupported_claim_rate": counts.unsupported_rate,
            "claims": counts.claims,
            "citations": counts.cited,
            "total_ms_p50": metrics.percentile([r["usage"]["total_ms"] for r in rows], 50),
        }
    return out


def ablation_table(table: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each configuration's answer metrics and their deltas against the full system."""
    full = table[FULL_SYSTEM.name]
    out: dict[str, Any] = {}
    for name, summary in table.items():
        rows: dict[str, Any] = {}
        for dataset, values in summary.items():
            rows[dataset] = {}
            for metric, value in values.items():
                if not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                base = full.get(dataset, {}).get(metric)
                delta = value - base if isinstance(base, int | float) else None
                rows[dataset][metric] = {"value": value, "delta": delta}
        out[name] = rows
    return out


def structured_record(
    case: ExtractionCase, schema_name: str, schema: dict[str, Any], answer: dict[str, Any]
) -> dict[str, Any]:
    """Classifies one data_schema answer. `data` is what a client receives; when it is null on a
    non-refused answer, the `structure` trace step says why (not JSON, schema, grounding)."""
    data = answer.get("data")
    detail = next((s["detail"] for s in answer.get("trace", []) if s["name"] == "structure"), "")
    refused = answer["status"] == "REFUSED"
    if data is not None:
        valid = jsonschema.Draft202012Validator(schema).is_valid(data)
        parsed = True
    else:
        lowered = detail.lower()
        parsed = bool(detail) and not ("not json" in lowered or "empty output" in lowered)
        # Omitted only for ungrounded numbers: the agent had found it schema-valid.
        valid = "numbers not in the evidence" in lowered
    value = _data_value(data)
    value_correct = value is not None and metrics.matches_tatqa(
        value, case.gold_value, decimal_places(case.gold_value), case.scale == "percent"
    )
    return {
        "case_id": case.case_id,
        "schema": schema_name,
        "status": answer["status"],
        "refused": refused,
        "returned": data is not None,
        "parsed": parsed and not refused,
        "valid": valid and not refused,
        "value": value,
        "gold": case.gold_value,
        "value_correct": value_correct,
        "detail": detail,
    }


def _data_value(data: Any) -> float | None:
    if not isinstance(data, dict):
        return None
    value = data.get("value")
    if value is None and isinstance(data.get("values"), list) and data["values"]:
        value = data["values"][0]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def summarise_structured(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rates over the answers that were not refused (only those run the structure step), in
    all and per extraction schema."""
    failed = sum(1 for r in records if r["status"] == "ERROR")
    answered = [r for r in records if r["status"] != "ERROR"]
    attempted = [r for r in answered if not r["refused"]]

    def rate(rows: Sequence[dict[str, Any]], key: str) -> float | None:
        return sum(1 for r in rows if r[key]) / len(rows) if rows else None

    def rates(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {
            "attempted": len(rows),
            "json_parse_rate": rate(rows, "parsed"),
            "schema_valid_rate": rate(rows, "valid"),
            "data_returned_rate": rate(rows, "returned"),
            "value_accuracy": rate(rows, "value_correct"),
        }

    schemas = sorted({r["schema"] for r in answered})
    return {
        "requests": len(answered),
        "errors": failed,
        "refused": len(answered) - len(attempted),
        **rates(attempted),
        "schemas": schemas,
        "by_schema": {
            name: rates([r for r in attempted if r["schema"] == name]) for name in schemas
        },
    }
