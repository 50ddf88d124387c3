"""Numbers in claims and data must come from the cited evidence: either written there, or
re-derived by the calculator from two cited figures (a sum, a difference, a ratio, a percentage
or a percent change), to the precision the claim states them."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from veritas_agent.calculator import Calculator
from veritas_agent.lexical import numbers

# Forms a derived figure may take, over two cited figures a and b (in either order): the
# calculator's expression, and the same arithmetic for the search.
_FORMS: tuple[tuple[str, Callable[[float, float], float]], ...] = (
    ("{a} + {b}", lambda a, b: a + b),
    ("{a} - {b}", lambda a, b: a - b),
    ("{a} / {b}", lambda a, b: a / b),
    ("{a} / {b} * 100", lambda a, b: a / b * 100),
    ("({a} - {b}) / {b} * 100", lambda a, b: (a - b) / b * 100),
)
# Cited figures considered for derivations (the pairs grow with the square of this).
MAX_FIGURES = 40


@dataclass(frozen=True)
class NumberCheck:
    """Whether every number of a text is grounded, how, and which are not."""

    missing: tuple[str, ...]
    # Each derived number with the calculator expression that gives it.
    derived: tuple[tuple[str, str], ...] = ()

    @property
    def grounded(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        if self.missing:
            return "numbers neither in nor derivable from cited evidence: " + ", ".join(
                self.missing
            )
        return "; ".join(f"{n} = {e}" for n, e in self.derived)


def _decimals(number: str) -> int:
    return len(number.split(".", 1)[1]) if "." in number else 0


# A derived value must also be this close relatively: "3" is not 2.57 rounded.
MAX_RELATIVE_ERROR = 0.01


def _matches(value: float, number: str) -> bool:
    """`value` printed to the claim's precision is the claim's number (sign-insensitive for
    differences and changes stated as "fell 3.2%")."""
    target = abs(float(number))
    error = abs(abs(value) - target)
    tolerance = 0.5 * 10 ** -_decimals(number) + 1e-9
    return math.isfinite(value) and error <= tolerance and error <= MAX_RELATIVE_ERROR * target


def derivation(number: str, figures: Sequence[str], calculator: Calculator) -> str | None:
    """An expression over two cited figures whose value is `number`, checked by the
    calculator; None when there is none."""
    values = [(f, float(f)) for f in dict.fromkeys(figures)][:MAX_FIGURES]
    for (fa, a), (fb, b) in itertools.permutations(values, 2):
        for form, arithmetic in _FORMS:
            if b == 0 and "/" in form:
                continue
            value = arithmetic(a, b)
            if _matches(value, number):
                expression = form.format(a=fa, b=fb)
                if _matches(calculator.calculate(expression).value, number):
                    return expression
    return None


def check_numbers(text: str, cited: Sequence[str], calculator: Calculator) -> NumberCheck:
    """Each number of `text` is written in `cited` or derivable from two figures there."""
    figures = [n for quote in cited for n in numbers(quote)]
    present = set(figures)
    missing: list[str] = []
    derived: list[tuple[str, str]] = []
    for number in dict.fromkeys(numbers(text)):
        if number in present:
            continue
        expression = derivation(number, figures, calculator)
        if expression is None:
            missing.append(number)
        else:
            derived.append((number, expression))
    return NumberCheck(tuple(missing), tuple(derived))
