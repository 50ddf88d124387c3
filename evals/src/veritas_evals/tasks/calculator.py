"""Calculator: TAT-QA derivations and ConvFinQA programs through /v1/calculate, in the
dataset's own notation, scored against the gold value."""

from __future__ import annotations

from typing import Any

from veritas_evals import metrics
from veritas_evals.client import EndpointMissing, GatewayError, GatewayUnreachable
from veritas_evals.datasets import CalculationCase, ConvFinQA, TatQA
from veritas_evals.tasks.base import TaskContext


class CalculatorTask:
    """Accuracy per dataset, next to the exact local evaluation of the same expressions."""

    name = "calculator"
    datasets = ("tatqa", "convfinqa")

    def run(self, ctx: TaskContext) -> None:
        """Sends the sampled arithmetic cases of the configured split of each dataset present."""
        tatqa: TatQA | None = ctx.datasets.get("tatqa")
        convfinqa: ConvFinQA | None = ctx.datasets.get("convfinqa")
        cases: list[CalculationCase] = []
        if tatqa is not None:
            tatqa_cases = tatqa.calculation_cases(ctx.config.split)
            ctx.results.datasets.setdefault("tatqa", {})["arithmetic_cases"] = len(tatqa_cases)
            cases += ctx.sample(tatqa_cases)
        if convfinqa is not None:
            conv_cases = convfinqa.calculation_cases(ctx.config.split)
            ctx.results.datasets["convfinqa"] = {
                "conversations": len(convfinqa.conversations),
                "turns": convfinqa.turns,
                "arithmetic_turns": len(conv_cases),  # of the split
            }
            cases += ctx.sample(conv_cases)
        if not cases:
            ctx.results.skipped[self.name] = "no cases: " + (
                ctx.why_missing("tatqa", "convfinqa")
                if tatqa is None and convfinqa is None
                else f"no arithmetic case in the {ctx.config.split} split"
            )
            return

        with ctx.progress.step("calculate", len(cases)) as advance:

            def calculate(case: CalculationCase) -> dict[str, Any]:
                value: float | None = None
                error = ""
                try:
                    value = ctx.client.calculate(case.text).value
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

            records = ctx.map_or_skip(self.name, calculate, cases)
        if records is None:
            return
        ctx.results.calculator = summarise_calculator(records)
        ctx.results.records["calculator"] = records


def calculation_correct(case: CalculationCase, value: float) -> bool:
    """Whether `value` matches the case's gold under the case's rule (rounded or relative)."""
    if case.rule == "rounded":
        return metrics.matches_tatqa(value, case.gold, case.decimals, case.percent)
    return metrics.matches_relative(value, case.gold)


def summarise_calculator(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, the exact-evaluation ceiling and errors per dataset."""
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
    return out
