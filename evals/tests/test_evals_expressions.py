"""Dataset arithmetic -> plain expressions, and the exact local evaluator."""

from __future__ import annotations

import pytest

from veritas_evals.expressions import (
    ExpressionError,
    evaluate,
    program_expression,
    tatqa_expression,
)


def test_evaluate_plain_arithmetic():
    assert evaluate("(5500 - 4500)/4500") == pytest.approx(1000 / 4500)
    assert evaluate("-1.9-(-2.2)") == pytest.approx(0.3)
    assert evaluate("2 * 3 + 4 / 8") == 6.5


@pytest.mark.parametrize(
    "expression", ["2**3", "__import__('os')", "abs(-1)", "1/0", "x + 1", "1 < 2", "", "'a'"]
)
def test_evaluate_refuses_anything_else(expression):
    with pytest.raises(ExpressionError):
        evaluate(expression)


@pytest.mark.parametrize(
    ("derivation", "expected"),
    [
        ("296,316/26,069 ", "296316/26069"),
        ("(1,095 + 1,048) / 2", "(1095 + 1048) / 2"),
        ("34% + 11% ", "34 + 11"),
        ("[(166+178)/2] - [(57+44)/2]", "((166+178)/2) - ((57+44)/2)"),
        ("$1,235,173/$1,562,474", "1235173/1562474"),
        ("0 - (-42,271)", "0 - (-42271)"),
    ],
)
def test_tatqa_derivations_become_expressions(derivation, expected):
    assert tatqa_expression(derivation) == expected


@pytest.mark.parametrize(
    "derivation", ["1,496.5>1,202.9>1,107.7", "$1,234", "", "revenue - cost", "12 -", "(3"]
)
def test_tatqa_non_calculations_are_none(derivation):
    assert tatqa_expression(derivation) is None


def test_convfinqa_program_substitutes_variables_keeping_grouping():
    expression = program_expression("x0 = 60.94 - 25.14; ans = x0 / 25.14")
    assert expression == "(60.94 - 25.14) / 25.14"
    assert evaluate(expression) == pytest.approx(1.42403, abs=1e-5)
    nested = program_expression("x0 = 1 - 2; x1 = x0 * 3; ans = x1 / -4")
    assert evaluate(nested) == pytest.approx(0.75)
    # a - (b - c) must not lose its parentheses
    assert evaluate(program_expression("x0 = 5 - 3; ans = 10 - x0")) == 8
    assert evaluate(program_expression("ans = 10 - (5 - 3)")) == 8


def test_convfinqa_numbers_are_written_without_exponents():
    assert program_expression("ans = 0.00001 * 3") == "0.00001 * 3"
    assert program_expression("ans = 12000000 / 3000000") == "12000000 / 3000000"


@pytest.mark.parametrize(
    "program",
    ["ans = 60.94", "ans = 13.4%", "ans = 36197 > 345059", "ans = y + 1", "print(1)", "ans = -5"],
)
def test_convfinqa_non_arithmetic_programs_are_none(program):
    assert program_expression(program) is None
