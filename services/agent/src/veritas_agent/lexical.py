"""Content words and numbers of a text, shared by evidence scoring and claim verification.

Both sides of every comparison go through the same functions, so "Revenues rose to 1,240"
and "revenue of 1240" meet on the same tokens.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Function words and question words; they say nothing about which evidence is relevant.
_STOPWORDS_TEXT = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom whose why will with would you your yours yourself yourselves also may might
    must shall us per via vs etc e.g i.e tell give show list describe explain please according
    much many whats
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

# Small number words, so "three times" and "3 times" count as the same number.
NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
}

# A number as written in reports: -1,240.50  12.4%  $482.6  .5  (thousands separators optional).
_NUMBER = re.compile(r"(?<![\w])[-\u2212]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*", re.UNICODE)


def normalise_number(raw: str) -> str | None:
    """Canonical string of a number: no separators, no trailing zeros ("1,240.50" -> "1240.5")."""
    cleaned = raw.replace(",", "").replace("\u2212", "-")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def numbers(text: str) -> list[str]:
    """Every number in `text`, normalised; small number words count too."""
    found = []
    for match in _NUMBER.finditer(text):
        raw = match.group(0)
        # A hyphen glued to a preceding word is a range or compound ("Q3-2024"), not a sign.
        if raw[0] in "-\u2212" and match.start() > 0 and text[match.start() - 1].isalnum():
            raw = raw[1:]
        norm = normalise_number(raw)
        if norm is not None:
            found.append(norm)
    for word in _WORD.findall(text.lower()):
        if word in NUMBER_WORDS:
            found.append(NUMBER_WORDS[word])
    return found


def stem(word: str) -> str:
    """A light stemmer (possessive, plural, -ed/-ing, final e): "times" and "time", "increased"
    and "increase" meet on one form. Crude, but the same on both sides of every comparison."""
    word = re.sub(r"['\u2019]s$", "", word)
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """Stemmed, lower-cased words of `text` minus stopwords; numbers are kept (normalised)."""
    words = set(numbers(text))
    for word in _WORD.findall(_NUMBER.sub(" ", text).lower()):
        if word in STOPWORDS or word in NUMBER_WORDS or len(word) == 1:
            continue
        words.add(stem(word))
    return words


def overlap(words: set[str], reference: set[str]) -> float:
    """Fraction of `words` found in `reference` (0 when `words` is empty)."""
    if not words:
        return 0.0
    return len(words & reference) / len(words)
