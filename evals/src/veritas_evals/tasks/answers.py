"""Answers: SciFact claims and PubMedQA questions through /v1/ask, scored for the answer/refuse
decision and the citations against the gold evidence; the ablations re-run them with one
component off. An ablation whose every request the gateway rejects with 422 (a switch it does
not know) is reported as not supported by this server, and the run goes on."""

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
    selector: bool | None = None  # None: not sent (the server's default)
    gate: bool | None = None  # None: not sent (the server's default)


FULL_SYSTEM = AskConfig("full")
ABLATION_CONFIGS = {
    "rerank": AskConfig("no rerank", rerank=False),
    "verify": AskConfig("no verify", verify=False),
    "hybrid": AskConfig("no hybrid (dense only)", search_mode=SearchMode.DENSE),
    "selector": AskConfig("no selector", selector=False),
    "gate": AskConfig("no gate", gate=False),
}
ABLATIONS = tuple(ABLATION_CONFIGS)
RERANK_ON = AskConfig("with rerank (off by default)", rerank=True)
NOT_SUPPORTED = "not supported by this server"


class AnswersTask:
    """Decision accuracy, citation precision/recall and unsupported claims per dataset."""

    name = "answers"
    datasets = ("scifact", "pubmedqa")

    def run(self, ctx: TaskContext) -> None:
        """Asks every sampled case with the full system, then with each configured ablation."""
        scifact: SciFact | None = ctx.datasets.get("scifact")
        pubmedqa: PubMedQA | None = ctx.datasets.get("pubmedqa")
        if scifact is None and pubmedqa is None:
            ctx.results.skipped[self.name] = "no cases: " + ctx.why_missing("scifact", "pubmedqa")
            return
        answer_sets: dict[str, list[AnswerCase]] = {}
        if scifact is not None:
            ctx.ingest_scifact()
            answer_sets["scifact"] = scifact.answer_cases(ctx.scifact_claims)
        if pubmedqa is not None:
            in_split = pubmedqa.items_of(ctx.config.split)
            items = ctx.sample(in_split)
            ctx.results.datasets["pubmedqa"] = {
                "items": len(pubmedqa.items),
                "split_items": len(in_split),
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
        rejected = rejected_detail(ablated)
        if rejected is not None:
            # The gateway does not know the switch (a request field it forbids): nothing was
            # measured, which the report says instead of a row of errors.
            ctx.results.ablations_not_supported[config.name] = f"{NOT_SUPPORTED} ({rejected[:200]})"
            table[config.name] = {}
            continue
        table[config.name] = summarise_answers(ablated)
        changed = changed_answers(full_subset, ablated)
        for dataset, n in changed.items():
            table[config.name].setdefault(dataset, {})["changed_answers"] = n
        compared = sum(1 for r in ablated if r["status"] != "ERROR")
        if compared and not any(changed.values()):
            ctx.results.warnings.append(
                f"ablation `{config.name}` changed no decision or citation on any of its "
                f"{compared} cases (a server that ignores the switch gives the same)"
            )
    for summary in table[FULL_SYSTEM.name].values():
        summary["changed_answers"] = 0
    ctx.results.ablations = ablation_table(table)
    return records


def rejected_detail(records: Sequence[dict[str, Any]]) -> str | None:
    """The gateway's reason when it rejected every request of a configuration with 422 (the
    request body, i.e. a switch it does not know), else None."""
    if records and all(r.get("http_status") == 422 for r in records):
        return str(records[0]["error"])
    return None


def _answer_key(record: dict[str, Any]) -> tuple[Any, ...]:
    """What an ablation can change: the decision and the cited spans."""
    cited = tuple((c["source"], c["quote"]) for c in record.get("cited", ()))
    return (record["status"], cited)


def changed_answers(
    full: Sequence[dict[str, Any]], ablated: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Per dataset, the cases answered by both configurations whose decision or citations
    differ (0 everywhere: the switch changed nothing, or the server ignores it)."""
    before = {(r["dataset"], r["case_id"]): r for r in full if r["status"] != "ERROR"}
    out: dict[str, int] = {}
    for r in ablated:
        base = before.get((r["dataset"], r["case_id"]))
        if r["status"] == "ERROR" or base is None:
            continue
        out[r["dataset"]] = out.get(r["dataset"], 0) + (_answer_key(r) != _answer_key(base))
    return out


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
                    selector=config.selector,
                    gate=config.gate,
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
                # What each stage reported (the select step names the best evidence score,
                # which `veritas_evals.calibrate` reads).
                "trace": {step.name: step.detail for step in answer.trace},
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
