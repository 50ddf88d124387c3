"""Arithmetic expressions from the datasets: cleaning, conversion and exact local evaluation.

TAT-QA derivations are written for people ("(5,500 - 4,500)/4,500", "34% + 11%", "[a]-[b]");
ConvFinQA programs are small Python ("x0 = 60.94 - 25.14; ans = x0 / 25.14"). Both become one
plain expression over decimal numbers with + - * / and parentheses, which is what is sent to
/v1/calculate, and which `evaluate` computes here as the reference.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_PLAIN = re.compile(r"[0-9.+\-*/() ]+")


class ExpressionError(ValueError):
    """Not a plain arithmetic expression, or it cannot be evaluated (division by zero)."""


def evaluate(expression: str) -> float:
    """Evaluates + - * / over numbers and parentheses; anything else is an ExpressionError."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"not an expression: {expression!r}") from err
    return _eval(tree.body)


def _eval(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ExpressionError("booleans are not numbers")
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        try:
            return float(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError as err:
            raise ExpressionError("division by zero") from err
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return float(_UNARY[type(node.op)](_eval(node.operand)))
    raise ExpressionError(f"unsupported element {type(node).__name__}")


def tatqa_expression(derivation: str) -> str | None:
    """A TAT-QA derivation as a plain expression, or None when it is not one (comparisons such
    as "1,496.5>1,202.9", words). Thousands separators, "$" and "%" are dropped (the numbers are
    percentage points or amounts as printed), brackets become parentheses."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", derivation)
    text = text.replace("$", "").replace("%", "").replace("[", "(").replace("]", ")")
    text = " ".join(text.split())
    if not text or not _PLAIN.fullmatch(text) or not re.search(r"\d", text):
        return None
    if not re.search(r"\d\s*[-+*/]|[)]\s*[-+*/]", text):
        return None  # a bare number is a lookup, not a calculation
    try:
        evaluate(text)
    except ExpressionError:
        return None
    return text


def program_expression(program: str) -> str | None:
    """A ConvFinQA program ("x0 = a - b; ans = x0 / b") as one expression with every variable
    substituted in parentheses, or None when it is not arithmetic (a bare lookup, a comparison,
    a percent literal such as "ans = 13.4%")."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return None
    bound: dict[str, str] = {}
    result = None
    for statement in tree.body:
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            return None
        try:
            result = _render(statement.value, bound)
        except ExpressionError:
            return None
        bound[statement.targets[0].id] = result
    if result is None or "ans" not in bound:
        return None
    if not any(isinstance(n, ast.BinOp) for n in ast.walk(tree)):
        return None
    return bound["ans"]


def _render(node: ast.expr, bound: dict[str, str]) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ExpressionError("booleans are not numbers")
        return _number_text(node.value)
    if isinstance(node, ast.Name):
        if node.id not in bound:
            raise ExpressionError(f"unbound name {node.id}")
        return f"({bound[node.id]})"
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(node.op)]
        return f"{_operand(node.left, bound)} {symbol} {_operand(node.right, bound)}"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return f"-{_operand(node.operand, bound)}"
    raise ExpressionError(f"unsupported element {type(node).__name__}")


def _number_text(value: float) -> str:
    """Plain decimal notation (no exponent), which any calculator grammar reads."""
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:.20f}".rstrip("0").rstrip(".")
    return text


def _operand(node: ast.expr, bound: dict[str, str]) -> str:
    text = _render(node, bound)
    # Parenthesise compound operands so the rendered expression keeps the program's grouping.
    return f"({text})" if isinstance(node, ast.BinOp | ast.UnaryOp) else text
