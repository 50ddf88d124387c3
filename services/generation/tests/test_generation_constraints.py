"""Schema checks and bounding (no model): what the engine enforces for a caller's schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from veritas_common.errors import InvalidArgument
from veritas_generation.constraints import (
    MAX_ITEMS,
    NUMBER_LIMIT,
    NUMBER_STEP,
    STRING_MAX_CHARS,
    STRING_MIN_CHARS,
    Constraint,
    bounded,
)

FACT = {
    "type": "object",
    "properties": {
        "metric": {"type": "string"},
        "year": {"type": "string", "pattern": "^(19|20)[0-9]{2}$"},
        "scale": {"enum": ["", "million"]},
        "value": {"type": "number"},
        "count": {"type": "integer", "minimum": 0},
        "notes": {"type": "array", "items": {"type": "string", "maxLength": 30}},
    },
    "required": ["metric", "year", "value"],
}


def test_open_values_are_bounded_and_the_callers_bounds_kept():
    guided = bounded(FACT, max_tokens=128)
    props = guided["properties"]
    assert props["value"] == {
        "type": "number",
        "maximum": NUMBER_LIMIT,
        "minimum": -NUMBER_LIMIT,
        "multipleOf": NUMBER_STEP,
    }
    assert props["count"] == {"type": "integer", "minimum": 0, "maximum": NUMBER_LIMIT}
    assert props["notes"]["maxItems"] == MAX_ITEMS
    assert props["notes"]["items"]["maxLength"] == 30  # the caller's own bound
    assert "maxLength" not in props["year"]  # a pattern bounds it already
    assert STRING_MIN_CHARS <= props["metric"]["maxLength"] <= 128
    assert "maximum" not in FACT["properties"]["value"]  # the caller's schema is not changed


def test_strings_share_the_budget_within_limits():
    many = {"type": "object", "properties": {f"s{i}": {"type": "string"} for i in range(6)}}
    tight = bounded(many, max_tokens=64)["properties"]["s0"]["maxLength"]
    loose = bounded(many, max_tokens=100_000)["properties"]["s0"]["maxLength"]
    assert tight == STRING_MIN_CHARS and loose == STRING_MAX_CHARS
    middle = bounded(many, max_tokens=400)["properties"]["s0"]["maxLength"]
    assert STRING_MIN_CHARS < middle < STRING_MAX_CHARS
    assert bounded({"type": "string", "minLength": 600}, 64)["maxLength"] == 600


def test_a_value_valid_for_the_bounded_schema_is_valid_for_the_callers():
    guided = bounded(FACT, max_tokens=128)
    value = {"metric": "revenue", "year": "2024", "value": 73.5, "count": 3, "notes": ["x"]}
    jsonschema.validate(value, guided)
    jsonschema.validate(value, FACT)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**value, "value": 1.23456789}, guided)  # more than four decimals


def test_outcomes_are_judged_against_the_callers_schema():
    constraint = Constraint.parse(json.dumps(FACT), max_tokens=64)
    assert constraint is not None
    good = json.dumps({"metric": "revenue", "year": "2024", "value": 1})
    assert constraint.outcome(good, "stop") == "valid"
    assert constraint.outcome('{"metric": "revenue"}', "stop") == "invalid"
    assert constraint.outcome('{"metric": "rev', "stop") == "invalid"
    assert constraint.outcome('{"metric": "rev', "length") == "truncated"
    assert Constraint.parse("", 64) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{oops", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"type": "strnig"}', "not a valid JSON Schema"),
    ],
)
def test_bad_schemas_are_invalid_arguments(text, message):
    with pytest.raises(InvalidArgument, match=message):
        Constraint.parse(text, 64)
