"""Structured output: TAT-QA questions through /v1/ask with a data_schema, scored for JSON
parsing, schema validity and whether the returned number matches the gold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsonschema

from veritas_common import schemas
from veritas_common.contract import AnswerStatus
from veritas_evals import metrics
from veritas_evals.client import GatewayError, GatewayUnreachable
from veritas_evals.datasets import ExtractionCase, TatQA, decimal_places
from veritas_evals.tasks.base import TaskContext, error_record

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


class StructuredTask:
    """JSON parse, schema-valid, data-returned and value-match rates on TAT-QA."""

    name = "structured"
    datasets = ("tatqa",)

    def run(self, ctx: TaskContext) -> None:
        """Ingests the sampled questions' contexts (questions of the configured split; other
        contexts fill the corpus as distractors) and asks each question with a schema."""
        tatqa: TatQA | None = ctx.dataset_or_skip(self.name, "tatqa")
        if tatqa is None:
            return
        cfg = ctx.config
        numeric = tatqa.extraction_cases(cfg.split)
        if not numeric:
            ctx.results.skipped[self.name] = f"no numeric TAT-QA question in the {cfg.split} split"
            return
        cases: list[ExtractionCase] = ctx.sample(numeric)
        questions = {q.uid: q for q in tatqa.questions}
        needed = [questions[c.case_id.removeprefix("tatqa-")] for c in cases]
        contexts = tatqa.corpus_subset(needed, cfg.corpus_size(), cfg.seed)
        ctx.results.datasets["tatqa"] = {
            "contexts": len(tatqa.contexts),
            "questions": len(tatqa.questions),
            "numeric_questions": len(numeric),  # of the split
            "sampled": len(cases),
        }
        ctx.ingest("tatqa", [tatqa.document(c) for c in contexts])
        names = list(EXTRACTION_SCHEMAS)
        with ctx.progress.step("ask tatqa with data_schema", len(cases)) as advance:

            def ask(job: tuple[int, ExtractionCase]) -> dict[str, Any]:
                i, case = job
                schema_name = names[i % len(names)]
                schema = EXTRACTION_SCHEMAS[schema_name]
                try:
                    answer = ctx.client.ask(
                        case.question, collection=cfg.collection("tatqa"), data_schema=schema
                    )
                except GatewayUnreachable:
                    raise
                except GatewayError as err:
                    return error_record("full", "tatqa", case.case_id, err)
                finally:
                    advance(1)
                return structured_record(case, schema_name, schema, answer) | {
                    "config": "full",
                    "usage": answer.usage.model_dump(),
                }

            records = ctx.map(ask, list(enumerate(cases)))
        ctx.ask_usages += [r["usage"] for r in records if "usage" in r]
        ctx.results.structured = summarise_structured(records)
        ctx.results.records["structured"] = records


def structured_record(
    case: ExtractionCase, schema_name: str, schema: dict[str, Any], answer: schemas.Answer
) -> dict[str, Any]:
    """Classifies one data_schema answer. `data` is what a client receives; when it is null on a
    non-refused answer, the `structure` trace step says why (not JSON, schema, grounding)."""
    data = answer.data
    detail = next((s.detail for s in answer.trace if s.name == "structure"), "")
    refused = answer.status is AnswerStatus.REFUSED
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
        "status": answer.status.value,
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
