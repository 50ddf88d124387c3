"""Verifier: SciFact claim/evidence pairs through /v1/verify, scored per gold verdict next to a
word-overlap baseline computed here."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from veritas_evals import metrics
from veritas_evals.baselines import WordOverlapBaseline
from veritas_evals.client import EndpointMissing, GatewayError, GatewayUnreachable
from veritas_evals.datasets import SciFact, VerifierCase
from veritas_evals.tasks.base import TaskContext, count_values

VERDICTS = ("SUPPORTED", "UNSUPPORTED", "CONTRADICTED")


class VerifierTask:
    """Per-class precision/recall/F1 and macro-F1 of the verifier and of the baseline."""

    name = "verifier"
    datasets = ("scifact",)

    def run(self, ctx: TaskContext) -> None:
        """Verifies the pairs built from the sampled claims with evidence."""
        scifact: SciFact | None = ctx.dataset_or_skip(self.name, "scifact")
        if scifact is None:
            return
        claims = [c for c in ctx.scifact_claims if c.evidence]
        cases = scifact.verifier_cases(claims, ctx.config.seed)
        if not cases:
            ctx.results.skipped[self.name] = (
                f"no SciFact claim with evidence among the {ctx.config.split} split's sampled"
            )
            return
        baseline = WordOverlapBaseline()
        with ctx.progress.step("verify scifact pairs", len(cases)) as advance:

            def verify(case: VerifierCase) -> dict[str, Any]:
                try:
                    reply = ctx.client.verify(case.claim, case.evidence)
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
                    "system": reply.support,
                    "system_score": reply.score,
                    "verifier": reply.verifier,
                    "baseline": base_label,
                    "baseline_score": base_score,
                }

            records = ctx.map_or_skip(self.name, verify, cases)
        if records is None:
            return
        errors = sum(1 for r in records if "error" in r)
        verifier_name = next((r["verifier"] for r in records if r.get("verifier")), "")
        scored = [r for r in records if "error" not in r]
        gold = [r["gold"] for r in scored]
        ctx.results.verifier = {
            "pairs": len(scored),
            "errors": errors,
            "gold": count_values(gold),
            "verifier": verifier_name,
            "system": asdict(
                metrics.classification_report(gold, [r["system"] for r in scored], VERDICTS)
            ),
            "baseline_name": f"{baseline.name} (threshold {baseline.threshold})",
            "baseline": asdict(
                metrics.classification_report(gold, [r["baseline"] for r in scored], VERDICTS)
            ),
        }
        ctx.results.records["verifier"] = records
