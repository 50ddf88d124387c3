"""Retrieval: the sampled SciFact claims searched in each retrieval mode, scored against the
qrels with BEIR's conventions."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from veritas_common.contract import SearchMode
from veritas_evals import metrics
from veritas_evals.client import GatewayError, GatewayUnreachable
from veritas_evals.datasets import RetrievalCase, SciFact
from veritas_evals.tasks.base import TaskContext


@dataclass(frozen=True)
class RetrievalMode:
    """One /v1/search configuration the task scores."""

    name: str
    mode: SearchMode
    rerank: bool


RETRIEVAL_MODES = (
    RetrievalMode("bm25", SearchMode.BM25, False),
    RetrievalMode("dense", SearchMode.DENSE, False),
    RetrievalMode("hybrid", SearchMode.HYBRID, False),
    RetrievalMode("hybrid+rerank", SearchMode.HYBRID, True),
)


class RetrievalTask:
    """nDCG@10, Recall@10/100, MRR and search latency per retrieval mode on SciFact."""

    name = "retrieval"
    datasets = ("scifact",)

    def run(self, ctx: TaskContext) -> None:
        """Searches every sampled claim with evidence in each mode and scores the rankings."""
        scifact: SciFact | None = ctx.dataset_or_skip(self.name, "scifact")
        if scifact is None:
            return
        cases = scifact.retrieval_cases(ctx.scifact_claims)
        if not cases:
            ctx.results.skipped[self.name] = (
                f"no SciFact claim with evidence among the {ctx.config.split} split's sampled"
            )
            return
        ctx.ingest_scifact()
        out: dict[str, Any] = {}
        records: list[dict[str, Any]] = []
        for mode in RETRIEVAL_MODES:
            out[mode.name] = _score_mode(ctx, scifact, cases, mode, records)
        ctx.results.retrieval = {"scifact": out}
        ctx.results.records["retrieval"] = records


def _score_mode(
    ctx: TaskContext,
    scifact: SciFact,
    cases: list[RetrievalCase],
    mode: RetrievalMode,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """One mode's scores over `cases`; appends a record per case to `records`."""
    cfg = ctx.config
    collection = cfg.collection("scifact")
    depth = cfg.rerank_depth if mode.rerank else cfg.retrieval_depth
    run: dict[str, list[str]] = {}
    latencies = []
    failed: list[str] = []
    with ctx.progress.step(f"search scifact ({mode.name})", len(cases)) as advance:

        def search(case: RetrievalCase) -> Any:
            start = time.perf_counter()
            try:
                hits = ctx.client.search(
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

        for case, (hits, ms) in zip(cases, ctx.map(search, cases), strict=True):
            if isinstance(hits, GatewayError):
                # Excluded from this mode's means (and counted), not scored as a miss.
                failed.append(case.case_id)
                records.append({"mode": mode.name, "case_id": case.case_id, "error": str(hits)})
                continue
            latencies.append(ms)
            run[case.case_id] = metrics.rank_documents((h.source for h in hits), scifact.doc_id_of)
            records.append(
                {
                    "mode": mode.name,
                    "case_id": case.case_id,
                    "ranked": run[case.case_id][:20],  # enough to read by eye
                    "relevant": sorted(case.qrels),
                }
            )
    judged = {c.case_id: c.qrels for c in cases if c.case_id not in failed}
    scores = asdict(metrics.evaluate_run(run, judged))
    scores["errors"] = len(failed)
    if depth < 100:
        scores["recall_at_100"] = None  # not measurable with fewer than 100 results
    if depth < 10:
        scores["ndcg_at_10"] = scores["recall_at_10"] = None
    scores["depth"] = depth
    scores["search_p50_ms"] = metrics.percentile(latencies, 50)
    scores["search_p95_ms"] = metrics.percentile(latencies, 95)
    return scores
