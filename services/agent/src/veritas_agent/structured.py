"""Structured output: fills the caller's JSON Schema from the answer's evidence.

The schema is checked before any work is done (an invalid one is the caller's error). The
model's output is parsed and validated again here whatever the engine promised, and data is
returned only when valid and, by default, when every number in it appears in the evidence or
the question or is re-derived by the calculator from two figures there (`numeric`): invalid or
ungrounded data is left out and the reason goes into the trace.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from veritas_agent.calculator import Calculator
from veritas_agent.lexical import normalise_number, numbers
from veritas_agent.models import Evidence
from veritas_agent.numeric import check_numbers
from veritas_agent.peers import Generation, Generator
from veritas_common.errors import InvalidArgument, TooLarge

SYSTEM_PROMPT = (
    "You extract data from evidence. Reply with JSON that conforms to the schema, using only "
    "values stated in the evidence."
)


def parse_schema(data_schema: str, max_chars: int) -> dict[str, Any]:
    """The caller's schema as a dict; `InvalidArgument` unless it is a valid Draft 2020-12
    JSON Schema object."""
    if len(data_schema) > max_chars:
        raise TooLarge(f"data_schema has {len(data_schema)} characters; the limit is {max_chars}")
    try:
        schema = json.loads(data_schema)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"data_schema is not JSON: {err.msg} at {err.pos}") from err
    if not isinstance(schema, dict):
        raise InvalidArgument("data_schema must be a JSON object")
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as err:
        path = "/".join(str(p) for p in err.absolute_path) or "(root)"
        raise InvalidArgument(
            f"data_schema is not a valid JSON Schema at {path}: {err.message}"
        ) from err
    return schema


def _json_numbers(value: Any) -> list[str]:
    """Every number in a JSON value: numeric values and numbers written inside strings."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        norm = normalise_number(repr(value))
        return [norm] if norm is not None else []
    if isinstance(value, str):
        return numbers(value)
    if isinstance(value, dict):
        return [n for v in value.values() for n in _json_numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _json_numbers(v)]
    return []


@dataclass
class DataOutcome:
    data_json: str  # empty when the output was rejected
    detail: str
    generation: Generation


class DataExtractor:
    """Asks the generation peer for JSON conforming to the caller's schema."""

    def __init__(
        self,
        generator: Generator,
        *,
        max_new_tokens: int = 256,
        require_grounded_numbers: bool = True,
        calculator: Calculator | None = None,
    ) -> None:
        self.generator = generator
        self.calculator = calculator or Calculator()
        self.max_new_tokens = max_new_tokens
        self.require_grounded_numbers = require_grounded_numbers

    async def extract(
        self, question: str, schema: dict[str, Any], evidence: Sequence[Evidence]
    ) -> DataOutcome:
        quotes = "\n".join(f"[{e.id}] {' '.join(e.quote.split())}" for e in evidence)
        prompt = (
            f"Question: {question}\n\nEvidence:\n{quotes}\n\nJSON Schema:\n{json.dumps(schema)}"
        )
        generation = await self.generator.generate(
            [("system", SYSTEM_PROMPT), ("user", prompt)],
            json_schema=json.dumps(schema),
            max_new_tokens=self.max_new_tokens,
        )
        problem = self.check(generation.text, schema, [question, *(e.quote for e in evidence)])
        if problem:
            return DataOutcome("", f"data omitted: {problem}", generation)
        data = json.loads(generation.text)
        compact = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return DataOutcome(compact, "data valid against the schema", generation)

    def check(self, text: str, schema: dict[str, Any], grounding: Sequence[str]) -> str:
        """Why `text` is not acceptable data for `schema`, or "" when it is."""
        if not text.strip():
            return "empty output"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            return f"output is not JSON ({err.msg})"
        try:
            error = jsonschema.exceptions.best_match(Draft202012Validator(schema).iter_errors(data))
        except Exception as err:  # e.g. an unresolvable $ref: the data cannot be vouched for
            return f"schema could not be applied ({type(err).__name__})"
        if error is not None:
            path = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return f"output invalid at {path}: {error.message[:200]}"
        if self.require_grounded_numbers:
            stated = " ".join(_json_numbers(data))
            grounded = check_numbers(stated, grounding, self.calculator)
            if not grounded.grounded:
                return "numbers not in the evidence: " + ", ".join(sorted(grounded.missing)[:5])
        return ""
