"""JSON-Schema constrained output: the caller's schema is checked, bounded so that no value can
outgrow the token budget, and handed to vLLM's structured outputs (guidance backend); the
finished text is checked against the caller's schema (the validity the metrics report).

Bounding: a number may otherwise grow digit by digit and a string never close until
max_new_tokens cuts the JSON in half. Where the caller left them open, numbers get a range of
+-1e15 and at most four decimals, strings a maxLength that shares the budget between them, and
arrays a maxItems. An output valid for the bounded schema is valid for the caller's.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import jsonschema

from veritas_common.errors import InvalidArgument

# Outcomes of a constrained request, as the metrics label them.
OUTCOME_VALID = "valid"
OUTCOME_INVALID = "invalid"
OUTCOME_TRUNCATED = "truncated"

NUMBER_LIMIT = 1e15
NUMBER_STEP = 0.0001
MAX_ITEMS = 16
# A string's share of the budget stays within these bounds (characters; a token is >= 1).
STRING_MIN_CHARS = 8
STRING_MAX_CHARS = 512
# Tokens kept for the JSON around the strings: keys, braces, numbers.
_FRAME_TOKENS_PER_STRING = 8


def parse_schema(schema_text: str) -> dict[str, Any]:
    """Parses and checks a JSON Schema; raises InvalidArgument saying what is wrong."""
    try:
        schema = json.loads(schema_text)
    except json.JSONDecodeError as err:
        raise InvalidArgument(f"json_schema is not valid JSON: {err}") from err
    if not isinstance(schema, dict):
        raise InvalidArgument("json_schema must be a JSON object")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as err:
        raise InvalidArgument(f"json_schema is not a valid JSON Schema: {err.message}") from err
    return schema


def _subschemas(node: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[Any] = list(node.get("properties", {}).values())
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            found.append(node[key])
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        found += node.get(key, [])
    for key in ("$defs", "definitions"):
        found += node.get(key, {}).values()
    return [s for s in found if isinstance(s, dict)]


def _types(node: dict[str, Any]) -> set[str]:
    declared = node.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def bounded(schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    """A copy of `schema` whose open numbers, strings and arrays are bounded (module doc)."""
    guided = copy.deepcopy(schema)
    nodes, stack = [], [guided]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack += _subschemas(node)
    open_strings = [
        n
        for n in nodes
        if "string" in _types(n)
        and "maxLength" not in n
        and "enum" not in n
        and "const" not in n
        and "pattern" not in n
    ]
    share = (max_tokens - _FRAME_TOKENS_PER_STRING * len(nodes)) // max(1, len(open_strings))
    string_chars = min(STRING_MAX_CHARS, max(STRING_MIN_CHARS, share))
    for node in nodes:
        kinds = _types(node)
        if kinds & {"number", "integer"}:
            if not {"maximum", "exclusiveMaximum"} & node.keys():
                node["maximum"] = NUMBER_LIMIT
            if not {"minimum", "exclusiveMinimum"} & node.keys():
                node["minimum"] = -NUMBER_LIMIT
            if "number" in kinds and "multipleOf" not in node:
                node["multipleOf"] = NUMBER_STEP
        if "array" in kinds and "maxItems" not in node:
            node["maxItems"] = max(MAX_ITEMS, int(node.get("minItems", 0)))
    for node in open_strings:
        node["maxLength"] = max(string_chars, int(node.get("minLength", 0)))
    return guided


@dataclass(frozen=True)
class Constraint:
    """One request's schema: the caller's, and the bounded one the engine enforces."""

    schema: dict[str, Any]
    guided: dict[str, Any]

    @classmethod
    def parse(cls, schema_text: str, max_tokens: int) -> Constraint | None:
        """None for free text; InvalidArgument for a schema that is not a JSON Schema."""
        if not schema_text:
            return None
        schema = parse_schema(schema_text)
        return cls(schema, bounded(schema, max_tokens))

    def outcome(self, text: str, finish_reason: str) -> str:
        """valid / invalid / truncated, for the finished text of a request."""
        if finish_reason == "length":
            return OUTCOME_TRUNCATED
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return OUTCOME_INVALID
        validator = jsonschema.validators.validator_for(self.schema)(self.schema)
        return OUTCOME_VALID if validator.is_valid(value) else OUTCOME_INVALID
