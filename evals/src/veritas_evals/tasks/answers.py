"""Answers: SciFact claims and PubMedQA questions through /v1/ask, scored for the answer/refuse
decision and the citations against the gold evidence; the ablations re-run them with one
component off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from veritas_common.contract import SearchMode
from veritas_evals import metrics
from veritas_evals.client import GatewayError, GatewayUnreachable
from veritas_evals.datasets import AnswerCase, PubMedQA, SciFact, sample
from veritas_evals.tasks.base import TaskContext, count_values, error_record


@dataclass(frozen=True)
class AskConfig:
    """The /v1/ask switches of one system configuration (an ablation turns one off)."""

    name: str
    rerank: bool | None = None  # None: the server's default
    verify: bool = True
    search_mode: SearchMode = SearchMode.HYBRID


FULL_SYSTEM = AskConfig("full")
ABLATION_CONFIGS = {
    "rerank": AskConfig("no rerank", rerank=False),
    "verify": AskConfig("no verify", verify=False),
    "hybrid": AskConfig("no hybrid (dense only)", search_mode=SearchMode.DENSE),
}
ABLATIONS = tuple(ABLATION_CONFIGS)
RERANK_ON = AskConfig("with rerank (off by default)", rerank=True)


class AnswersTask:
    """Decision accuracy, citation precision/recall and unsupported claims per dataset."""

    name = "answers"
    datasets = ("scifact", "pubmedqa")

    def run(self, ctx: TaskContext) -> None:
        """Asks every sampled case with the full system, then with each configured ablation."""
        scifact: SciFact | None = ctx.datasets.get("scifact")
        pubmedqa: PubMedQA | None = ctx.datasets.get("pubmedqa")
        if scifact is None and pubmedqa is None:
            ctx.results.skipped[self.name] = "neither scifact nor pubmedqa selected and present"
            return
        answer_sets: dict[str, list[AnswerCase]] = {}
        if scifact is not None:
            ctx.ingest_scifact()
            answer_sets["scifact"] = scifact.answer_cases(ctx.scifact_claims)
        if pubmedqa is not None:
            items = ctx.sample(pubmedqa.items)
            ctx.results.datasets["pubmedqa"] = {
                "items": len(pubmedqa.items),
                "sampled": len(items),
                "decisions": count_values(i.decision for i in items),
            }
            corpus = pubmedqa.corpus_subset(items, ctx.config.corpus_size(), ctx.config.seed)
            ctx.ingest("pubmedqa", [pubmedqa.document(i) for i in corpus])
            answer_sets["pubmedqa"] = pubmedqa.answer_cases(items)

        records = _ask_all(ctx, answer_sets, FULL_SYSTEM)
        ctx.ask_usages += [r["usage"] for r in records if "usage" in r]
        ctx.results.answers = summarise_answers(records)
        ablated: list[dict[str, Any]] = []
        if ctx.config.ablate:
            ablated = _run_ablations(ctx, answer_sets, records)
        ctx.results.records["answers"] = records + ablated


def _run_ablations(
    ctx: TaskContext, answer_sets: dict[str, list[AnswerCase]], full: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Re-asks a fixed-seed subset of the cases once per configured ablation, fills in
    `ctx.results.ablations` and returns the ablated records."""
    cfg = ctx.config
    # The full system's row is read off the same subset so every delta compares like with like.
    subsets = {
        dataset: sample(cases, cfg.ablation_limit, cfg.seed)
        for dataset, cases in answer_sets.items()
    }
    chosen = {(d, c.case_id) for d, cases in subsets.items() for c in cases}
    full_subset = [r for r in full if (r["dataset"], r["case_id"]) in chosen]
    table = {FULL_SYSTEM.name: summarise_answers(full_subset)}
    records: list[dict[str, Any]] = []
    for name in cfg.ablate:
        config = ABLATION_CONFIGS[name]
        if name == "rerank" and not any(r.get("usage", {}).get("rerank_ms") for r in full_subset):
            # The server does not rerank by default (no cross-encoder): switching it off
            # would change nothing, so the ablation shows what turning it on does.
            config = RERANK_ON
        ablated = _ask_all(ctx, subsets, config)
        records += ablated
        table[config.name] = summarise_answers(ablated)
    ctx.results.ablations = ablation_table(table)
    return records


def _ask_all(
    ctx: TaskContext, answer_sets: dict[str, list[AnswerCase]], config: AskConfig
) -> list[dict[str, Any]]:
    """Every case of `answer_sets` through /v1/ask with `config`'s switches, one record each."""
    jobs = [(dataset, case) for dataset, cases in answer_sets.items() for case in cases]
    with ctx.progress.step(f"ask ({config.name})", len(jobs)) as advance:

        def ask(job: tuple[str, AnswerCase]) -> dict[str, Any]:
            dataset, case = job
            try:
                answer = ctx.client.ask(
                    case.question,
                    collection=ctx.config.collection(dataset),
                    rerank=config.rerank,
                    verify=config.verify,
                    search_mode=config.search_mode,
                )
            except GatewayUnreachable:
                raise
            except GatewayError as err:
                return error_record(config.name, dataset, case.case_id, err)
            finally:
                advance(1)
            counts = metrics.score_citations(answer, case.gold)
            return {
                "config": config.name,
                "dataset": dataset,
                "case_id": case.case_id,
                "expected": case.expected,
                "status": answer.status.value,
                "citations": asdict(counts),
                "usage": answer.usage.model_dump(),
                # For auditing the citation rule by eye.
                "cited": [
                    {"source": ev.source, "quote": ev.quote[:300], "correct": ok}
                    for ev, ok in metrics.judge_citations(answer, case.gold)
                ],
            }

        return ctx.map(ask, jobs)


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
