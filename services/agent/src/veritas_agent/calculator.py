"""The agent's calculator tool: arithmetic over numbers taken from evidence, never `eval`.

ARCHITECTURE §2: a number in a claim must appear in, or be computed by the calculator from,
cited evidence. The calculator reads the notations financial QA data writes its derivations in:

- plain arithmetic, as in TAT-QA `derivation`: `(3,233 - 2,977) / 2,977`, `1,027/11%`,
  `[(166+178)/2] - [(57+44)/2]`, `$3,313/$39,784`, `60.3 million + 32,137 thousand`;
  `+ - * /`, unary minus, parentheses or brackets, a trailing `%` (divides by 100), thousands
  separators, a currency sign or scale word (thousand, million, billion) on a number, and one
  comparison `a > b` or `a < b` (1.0 when true, 0.0 when false);
- FinQA programs: `subtract(5829, 5735), divide(#0, 5735)`; operations add, subtract,
  multiply, divide, exp (power), greater (1.0 / 0.0); `#n` is step n's result (from 0);
  constants `const_100`, `const_1000`, `const_m1` (-1), ...; `table_*` operations need the
  table and are refused;
- ConvFinQA programs: `x0 = 60.94 - 25.14; ans = x0 / 25.14`; each `name = expression` binds
  a name later steps may use.

Steps are separated by `;` (or by `,` between FinQA operations); each step's value is kept,
and the value of the program is the last one. A comma directly followed by three digits is a
thousands separator, so operations separate their arguments with ", " (FinQA does). Every
error is an `InvalidArgument` naming what is wrong.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from veritas_common.errors import InvalidArgument

DEFAULT_MAX_CHARS = 2000
# Deep enough for any real derivation; keeps the recursive parser far from Python's limit.
MAX_DEPTH = 64
MAX_STEPS = 100

SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
# Typographic signs some sources use, read as their ASCII operators.
_TRANSLATE = str.maketrans({"\u2212": "-", "\u2013": "-", "\u00d7": "*", "\u00f7": "/"})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?|\.\d+)
  | (?P<ref>\#\d+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<currency>[$€£¥](?=\s*[-\d.(\[]))
  | (?P<op>[-+*/()\[\],;=%<>])
    """,
    re.VERBOSE,
)
_CLOSING = {"(": ")", "[": "]"}
_CONSTANT = re.compile(r"const_(m?)(\d+(?:_\d+)?)")


@dataclass(frozen=True)
class Calculation:
    """The value of an expression or program, with each step's value."""

    value: float
    # The input as parsed: separators, currency signs and extra spaces removed.
    expression: str
    steps: list[float]


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


# -- Syntax tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Number:
    text: str  # digits as written, separators removed
    value: float


@dataclass(frozen=True)
class _Name:
    name: str


@dataclass(frozen=True)
class _Ref:
    index: int


@dataclass(frozen=True)
class _Unary:
    operand: _Node


@dataclass(frozen=True)
class _Percent:
    operand: _Node


@dataclass(frozen=True)
class _Scaled:
    operand: _Number
    word: str


@dataclass(frozen=True)
class _Binary:
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Call:
    op: str
    args: list[_Node]


_Node = _Number | _Name | _Ref | _Unary | _Percent | _Scaled | _Binary | _Call


@dataclass(frozen=True)
class _Step:
    target: str | None  # the name bound by `name = expression`
    expr: _Node


_PRECEDENCE = {"<": 1, ">": 1, "+": 2, "-": 2, "*": 3, "/": 3}


def _divide(a: float, b: float) -> float:
    if b == 0:
        raise InvalidArgument("division by zero")
    return a / b


def _power(a: float, b: float) -> float:
    try:
        result = math.pow(a, b)
    except (OverflowError, ValueError):
        raise InvalidArgument(f"exp({_fmt(a)}, {_fmt(b)}) has no finite real value") from None
    return result


_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _divide,
    ">": lambda a, b: 1.0 if a > b else 0.0,
    "<": lambda a, b: 1.0 if a < b else 0.0,
}
# FinQA operations, all binary.
OPERATIONS: dict[str, Callable[[float, float], float]] = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "divide": _divide,
    "exp": _power,
    "greater": _BINARY[">"],
}


def _fmt(value: float) -> str:
    return f"{value:g}"


# -- Parser -----------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list; one method per precedence level."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def at(self, *texts: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "op" and tok.text in texts

    def take(self) -> _Token:
        tok = self.peek()
        if tok is None:
            raise InvalidArgument("the expression ends too early")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.peek()
        if tok is None:
            raise InvalidArgument(f"expected '{text}' at the end of the expression")
        if tok.text != text:
            raise self.unexpected(tok, f"expected '{text}'")
        self.i += 1

    def unexpected(self, tok: _Token, hint: str = "") -> InvalidArgument:
        message = f"unexpected '{tok.text}' at position {tok.pos + 1}"
        return InvalidArgument(message + (f": {hint}" if hint else ""))

    def program(self) -> tuple[list[_Step], str]:
        if not self.tokens:
            raise InvalidArgument("the expression is empty")
        steps = [self.step()]
        separators: set[str] = set()
        while self.at(";", ","):
            separators.add(self.take().text)
            if self.peek() is None:  # a trailing separator ends the program
                break
            steps.append(self.step())
            if len(steps) > MAX_STEPS:
                raise InvalidArgument(f"the program has more than {MAX_STEPS} steps")
        tok = self.peek()
        if tok is not None:
            raise self.unexpected(tok, "expected an operator or the end of the expression")
        if "," in separators and not all(isinstance(s.expr, _Call) for s in steps):
            # Otherwise "5,000,00" would silently read as two steps.
            raise InvalidArgument(
                "',' separates steps only between operations such as add(...); "
                "separate other steps with ';'"
            )
        return steps, "; " if ";" in separators else ", "

    def step(self) -> _Step:
        tok = self.peek()
        nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
        if tok is not None and tok.kind == "name" and nxt is not None and nxt.text == "=":
            if tok.text in OPERATIONS or tok.text in SCALES or _CONSTANT.fullmatch(tok.text):
                raise self.unexpected(tok, "this name is reserved")
            self.i += 2
            return _Step(tok.text, self.expression())
        return _Step(None, self.expression())

    def expression(self) -> _Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidArgument(f"the expression nests deeper than {MAX_DEPTH} levels")
        node = self.additive()
        if self.at(">", "<"):
            op = self.take().text
            node = _Binary(op, node, self.additive())
            if self.at(">", "<"):
                raise self.unexpected(self.take(), "comparisons do not chain")
        self.depth -= 1
        return node

    def additive(self) -> _Node:
        node = self.term()
        while self.at("+", "-"):
            op = self.take().text
            node = _Binary(op, node, self.term())
        return node

    def term(self) -> _Node:
        node = self.unary()
        while self.at("*", "/"):
            op = self.take().text
            node = _Binary(op, node, self.unary())
        return node

    def unary(self) -> _Node:
        if self.at("-", "+"):
            sign = self.take().text
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise InvalidArgument(f"the expression nests deeper than {MAX_DEPTH} levels")
            operand = self.unary()
            self.depth -= 1
            return _Unary(operand) if sign == "-" else operand
        node = self.primary()
        while self.at("%"):
            self.take()
            node = _Percent(node)
        return node

    def primary(self) -> _Node:
        tok = self.take()
        if tok.kind == "currency":  # $5, $(1 + 2): the sign is not part of the value
            return self.unary()
        if tok.kind == "number":
            number = _Number(tok.text.replace(",", ""), float(tok.text.replace(",", "")))
            word = self.peek()
            if word is not None and word.kind == "name" and word.text.lower() in SCALES:
                self.i += 1
                return _Scaled(number, word.text.lower())
            return number
        if tok.kind == "ref":
            return _Ref(int(tok.text[1:]))
        if tok.kind == "name":
            if self.at("("):
                return self.call(tok)
            return _Name(tok.text)
        if tok.text in _CLOSING:
            node = self.expression()
            self.expect(_CLOSING[tok.text])
            return node
        raise self.unexpected(tok, "expected a number, a name or '('")

    def call(self, name: _Token) -> _Node:
        op = name.text
        if op.startswith("table_"):
            raise InvalidArgument(
                f"{op} needs the table, which the calculator does not have: "
                "compute the values it would take and pass them as numbers"
            )
        if op not in OPERATIONS:
            raise InvalidArgument(
                f"unknown operation '{op}' at position {name.pos + 1}; "
                f"known: {', '.join(OPERATIONS)}"
            )
        self.expect("(")
        args = [] if self.at(")") else [self.expression()]
        while self.at(","):
            self.take()
            args.append(self.expression())
        self.expect(")")
        if len(args) != 2:
            raise InvalidArgument(f"{op} takes 2 arguments, got {len(args)}")
        return _Call(op, args)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise InvalidArgument(f"unexpected character {source[pos]!r} at position {pos + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
        if kind == "number" and re.match(r",\d", source[pos : pos + 2]):
            end = re.match(r"[\d,.]*", source[pos:])
            written = match.group() + (end.group() if end else "")
            raise InvalidArgument(
                f"'{written}' at position {match.start() + 1} is not a number: thousands "
                "separators group three digits (separate arguments with ', ')"
            )
    return tokens


# -- Evaluation and rendering -----------------------------------------------------------------


class _Evaluator:
    def __init__(self) -> None:
        self.steps: list[float] = []
        self.names: dict[str, float] = {}

    def run(self, steps: list[_Step]) -> list[float]:
        for number, step in enumerate(steps):
            try:
                value = self.eval(step.expr)
            except InvalidArgument as err:
                if len(steps) == 1:
                    raise
                raise InvalidArgument(f"step {number} ({_render(step)}): {err.message}") from None
            if not math.isfinite(value):
                raise InvalidArgument(f"step {number} ({_render(step)}) is not a finite number")
            self.steps.append(value)
            if step.target is not None:
                self.names[step.target] = value
        return self.steps

    def eval(self, node: _Node) -> float:
        match node:
            case _Number(value=value):
                return value
            case _Scaled(operand=operand, word=word):
                return operand.value * SCALES[word]
            case _Ref(index=index):
                if index >= len(self.steps):
                    raise InvalidArgument(
                        f"#{index} refers to a step that has not run yet "
                        f"({len(self.steps)} before this one)"
                    )
                return self.steps[index]
            case _Name(name=name):
                return self.name(name)
            case _Unary(operand=operand):
                return -self.eval(operand)
            case _Percent(operand=operand):
                return self.eval(operand) / 100
            case _Binary(op=op, left=left, right=right):
                return _finite(_BINARY[op](self.eval(left), self.eval(right)), node)
            case _Call(op=op, args=args):
                a, b = (self.eval(arg) for arg in args)
                return _finite(OPERATIONS[op](a, b), node)
        raise AssertionError(f"unknown node {node!r}")

    def name(self, name: str) -> float:
        if name in self.names:
            return self.names[name]
        constant = _CONSTANT.fullmatch(name)
        if constant is not None:
            value = float(constant.group(2).replace("_", "."))
            return -value if constant.group(1) else value
        if name.lower() in SCALES:
            raise InvalidArgument(f"'{name}' must follow a number")
        raise InvalidArgument(f"unknown name '{name}': assign it in an earlier step (x0 = ...)")


def _finite(value: float, node: _Node) -> float:
    # Checked at every operation: a comparison could otherwise hide an overflow.
    if not math.isfinite(value):
        raise InvalidArgument(f"{_render(node)} is too large to compute")
    return value


def _render(node: _Node | _Step, parent: int = 0, right: bool = False) -> str:
    """Text of a node with only the parentheses its meaning needs."""
    if isinstance(node, _Step):
        body = _render(node.expr)
        return f"{node.target} = {body}" if node.target else body
    match node:
        case _Number(text=text):
            return text
        case _Scaled(operand=operand, word=word):
            return f"{operand.text} {word}"
        case _Ref(index=index):
            return f"#{index}"
        case _Name(name=name):
            return name
        case _Unary(operand=operand):
            return "-" + _render(operand, parent=4)
        case _Percent(operand=operand):
            return _render(operand, parent=5) + "%"
        case _Binary(op=op, left=left, right=right_node):
            level = _PRECEDENCE[op]
            right_text = _render(right_node, level, right=True)
            if isinstance(right_node, _Unary):  # a - (-b), not a - -b
                right_text = f"({right_text})"
            text = f"{_render(left, level)} {op} {right_text}"
            # Keeps a right operand's grouping (a - (b - c)) and any nested comparison's,
            # since comparisons do not chain.
            if level < parent or (level == parent and (right or level == 1)):
                return f"({text})"
            return text
        case _Call(op=op, args=args):
            return f"{op}({', '.join(_render(a) for a in args)})"
    raise AssertionError(f"unknown node {node!r}")


class Calculator:
    """Evaluates arithmetic expressions and FinQA / ConvFinQA programs (module docstring)."""

    name = "calculator"

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.max_chars = max_chars

    def calculate(self, expression: str) -> Calculation:
        """The value of `expression`; `InvalidArgument` when it is malformed, too long,
        divides by zero or names an unknown operation."""
        if len(expression) > self.max_chars:
            raise InvalidArgument(
                f"expression has {len(expression)} characters; the limit is {self.max_chars}"
            )
        source = expression.translate(_TRANSLATE).strip()
        steps, separator = _Parser(source).program()
        values = _Evaluator().run(steps)
        return Calculation(
            value=values[-1],
            expression=separator.join(_render(step) for step in steps),
            steps=values,
        )
