"""The calculator: grammar, programs, errors, and every arithmetic derivation of TAT-QA dev
and every program of ConvFinQA dev checked against the gold answers."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from veritas_agent.calculator import SCALES, Calculator
from veritas_common.errors import InvalidArgument

# The datasets sit beside the repository (/work/shared/data next to /work/main).
DATA_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data"
TATQA_DEV = DATA_DIR / "tatqa" / "tatqa_dataset_dev.json"
CONVFINQA_DEV = DATA_DIR / "convfinqa" / "convfinqa_dev.json"

calc = Calculator()


def value(expression: str) -> float:
    return calc.calculate(expression).value


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("10 - 4 - 3", 3.0),  # left associative
        ("48 / 4 / 2", 6.0),
        ("2 * 3 / 4", 1.5),
        ("-3 + 5", 2.0),
        ("5 - -3", 8.0),
        ("2 * -3", -6.0),
        ("-(9 + 12) / 2", -10.5),
        ("--4", 4.0),
        ("+4", 4.0),
        ("0 - (-42,271)", 42271.0),
        ("(3,233 - 2,977) / 2,977", (3233 - 2977) / 2977),
        ("1,235,173/1,562,474", 1235173 / 1562474),
        ("185,948.09-154,636.44", 185948.09 - 154636.44),
        (".5 * 4", 2.0),
        ("34% + 11%", 0.45),
        ("1,027/11%", 1027 / 0.11),
        ("(1-15%)*($2.2/15%)", 0.85 * (2.2 / 0.15)),
        ("53%*$23,406", 0.53 * 23406),
        ("$3,313/$39,784", 3313 / 39784),
        ("$5,121 +$(-5,946) + $17,592", 16767.0),
        ("[(166+178)/2] - [(57+44)/2]", 121.5),
        ("60.3 million + 32,137 thousand", 92_437_000.0),
        ("1.5 Billion", 1.5e9),
        ("178.93 > 105.34", 1.0),
        ("2 < 1", 0.0),
        ("12 \u2212 2 \u00d7 3", 6.0),  # typographic minus and times
    ],
)
def test_plain_expressions(expression, expected):
    result = calc.calculate(expression)
    assert math.isclose(result.value, expected, rel_tol=1e-12)
    assert result.steps == [result.value]


def test_the_expression_as_evaluated_drops_separators_and_keeps_grouping():
    assert calc.calculate(" (3,233 - 2,977) /  2,977 ").expression == "(3233 - 2977) / 2977"
    assert calc.calculate("[(-18,668) - (-9,166)] / -9,166").expression == (
        "(-18668 - (-9166)) / (-9166)"
    )
    assert calc.calculate("$1,452.4 + 1 - (2 - 3)").expression == "1452.4 + 1 - (2 - 3)"
    assert calc.calculate("(1 + 2)%").expression == "(1 + 2)%"
    assert calc.calculate("60.3 million").expression == "60.3 million"
    # The rendering reads back to the same value.
    for source in ("1 - (2 - 3) * 4 / (5 / 6)", "-(1 + 2) * -3%", "(1 > 2) < 3"):
        first = calc.calculate(source)
        again = calc.calculate(first.expression)
        assert (again.value, again.expression) == (first.value, first.expression)


def test_finqa_programs_refer_to_steps_and_constants():
    result = calc.calculate("subtract(5829, 5735), divide(#0, 5735)")
    assert result.steps == [94.0, 94.0 / 5735]
    assert result.value == 94.0 / 5735
    assert result.expression == "subtract(5829, 5735), divide(#0, 5735)"
    result = calc.calculate("divide(100, 8), multiply(#0, const_100)")
    assert result.steps == [12.5, 1250.0]
    assert value("multiply(5, const_m1)") == -5.0
    assert value("add(const_1000, const_1000000)") == 1_001_000.0
    assert value("exp(1.05, 2)") == pytest.approx(1.1025)
    assert value("greater(3, 2)") == 1.0 and value("greater(2, 3)") == 0.0
    assert value("add(5%, 1)") == 1.05
    assert value("subtract(-5, 2)") == -7.0


def test_convfinqa_programs_bind_names():
    result = calc.calculate("x0 = 60.94 - 25.14; ans = x0 / 25.14")
    assert result.steps == [pytest.approx(35.8), pytest.approx(35.8 / 25.14)]
    assert result.expression == "x0 = 60.94 - 25.14; ans = x0 / 25.14"
    result = calc.calculate("x0 = 17.84 - 4.11; x1 = 60.15 - 41.30; ans = x0 > x1")
    assert result.value == 0.0 and len(result.steps) == 3
    assert value("ans = 30584 * -1") == -30584.0
    assert value("a = 2; b = a * a; b * a") == 8.0  # the last step may be unnamed
    assert value("a = 1; a = a + 1; a") == 2.0  # a later step may rebind a name


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1 / 0", "division by zero"),
        ("divide(5, subtract(2, 2))", "division by zero"),
        ("x0 = 5; ans = x0 / (x0 - 5)", "step 1 (ans = x0 / (x0 - 5)): division by zero"),
        ("1 +", "ends too early"),
        ("(1 + 2", "expected ')'"),
        ("1 + 2)", "unexpected ')'"),
        ("1 2", "unexpected '2'"),
        ("2 ** 3", "unexpected '*'"),
        ("1 > 2 > 3", "comparisons do not chain"),
        ("import os", "unexpected 'os'"),
        ("os", "unknown name 'os'"),
        ("__import__('os')", "unexpected character"),
        ("__import__(os, 1)", "unknown operation '__import__'"),
        ("x1 + 1", "unknown name 'x1'"),
        ("ans = 2; x0 + ans", "unknown name 'x0'"),
        ("divide(#1, 2)", "#1 refers to a step that has not run yet"),
        ("sqrt(4, 2)", "unknown operation 'sqrt'"),
        ("table_average(revenue, none)", "table_average needs the table"),
        ("add(1)", "add takes 2 arguments, got 1"),
        ("add(1, 2, 3)", "add takes 2 arguments, got 3"),
        ("1,0000", "thousands separators group three digits"),
        ("add(5829,5735)", "thousands separators group three digits"),
        ("5,000,00", "thousands separators group three digits"),
        ("1, 2", "',' separates steps only between operations"),
        ("million", "must follow a number"),
        ("add = 3", "reserved"),
        ("1 & 2", "unexpected character '&'"),
        ("exp(10, 400)", "no finite real value"),
        ("exp(0, -1)", "no finite real value"),
        ("1" + "0" * 400, "not a finite number"),
        ("1" + "0" * 300 + " * 1" + "0" * 300 + " > 1", "too large to compute"),
        ("(" * 100 + "1" + ")" * 100, "nests deeper"),
        ("-" * 100 + "1", "nests deeper"),
        ("1;" * 101, "more than 100 steps"),
    ],
)
def test_errors_are_invalid_argument_with_a_clear_message(expression, message):
    with pytest.raises(InvalidArgument) as err:
        calc.calculate(expression)
    assert message in err.value.message


def test_expression_length_is_limited():
    with pytest.raises(InvalidArgument, match="2001 characters; the limit is 2000"):
        calc.calculate("1" * 2001)
    assert Calculator(max_chars=10).calculate("1 + 2").value == 3.0
    with pytest.raises(InvalidArgument, match="the limit is 10"):
        Calculator(max_chars=10).calculate("1 + 2 + 3 + 4")


# -- The datasets -------------------------------------------------------------------------------

needs_tatqa = pytest.mark.skipif(not TATQA_DEV.exists(), reason=f"{TATQA_DEV} is absent")
needs_convfinqa = pytest.mark.skipif(
    not CONVFINQA_DEV.exists(), reason=f"{CONVFINQA_DEV} is absent"
)
# Financial statements write negatives in parentheses, "(71)", and a few TAT-QA derivations
# copy that notation ("-114 - (71)" for -43); arithmetic reads (71) as 71.
ACCOUNTING_NEGATIVE = re.compile(r"\(\s*[\d,.]+\s*\)")


def tatqa_matches(result: float, question: dict) -> bool:
    """TAT-QA answers are rounded to 2 decimals and expressed in the question's `scale`: a
    derivation with scale words ("60.3 million + 32,137 thousand") is brought to that scale,
    and a "percent" answer is either the ratio times 100 ("(49-44)/44" -> 11.36) or the value
    itself when the operands are percentages already ("34% + 11%" -> 45, "4.1 - 3.5" -> 0.6)."""
    gold = float(question["answer"])
    scale = question["scale"]
    if scale in SCALES and any(word in question["derivation"].lower() for word in SCALES):
        result /= SCALES[scale]
    candidates = [result, result * 100] if scale == "percent" else [result]
    return any(abs(round(c, 2) - gold) < 1e-9 for c in candidates)


@needs_tatqa
def test_every_tatqa_arithmetic_derivation():
    tables = json.loads(TATQA_DEV.read_text())
    questions = [
        q
        for table in tables
        for q in table["questions"]
        if q["answer_type"] == "arithmetic" and q["derivation"].strip()
    ]
    assert len(questions) > 700
    failures = [
        q["derivation"]
        for q in questions
        if not tatqa_matches(calc.calculate(q["derivation"]).value, q)
    ]
    # Every derivation parses (calculate raised nothing above); the only misses are the
    # accounting-notation ones, two in dev.
    assert all(ACCOUNTING_NEGATIVE.search(f) for f in failures), failures
    assert 1 - len(failures) / len(questions) >= 0.995


@needs_convfinqa
def test_every_convfinqa_turn_program():
    conversations = json.loads(CONVFINQA_DEV.read_text())
    programs = 0
    for conv in conversations:
        results = [calc.calculate(program) for program in conv["programs"]]
        programs += len(results)
        # Gold is given for the last turn only: rounded to 5 decimals, yes/no for comparisons.
        gold = {"yes": 1.0, "no": 0.0}.get(conv["answer"], conv["answer"])
        assert round(results[-1].value, 5) == pytest.approx(float(gold), abs=1e-9), conv["id"]
    assert programs > 1400
