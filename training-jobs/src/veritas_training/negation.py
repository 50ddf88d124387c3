"""Claim perturbations that flip a verdict: what supports a claim contradicts its negation.

SciFact's contradicted claims were written by negating supported ones, so the same edits give
the judge more SUPPORT/CONTRADICT pairs over the same evidence. One edit per claim, the first
rule that applies: swap a direction word (increases/decreases, higher/lower, ...), else remove
a negation ("does not cause" -> "causes"), else add one ("is" -> "is not", "causes" -> "does not
cause"). None when no rule applies.
"""

from __future__ import annotations

import re

# Direction words and their opposites (both ways), matched as whole words, case kept.
_OPPOSITES = {
    "increase": "decrease", "increases": "decreases", "increased": "decreased",
    "increasing": "decreasing", "higher": "lower", "more": "less", "greater": "smaller",
    "reduces": "increases", "reduced": "increased", "reduce": "increase",
    "improves": "worsens", "improved": "worsened", "improve": "worsen",
    "upregulates": "downregulates", "upregulated": "downregulated",
    "upregulation": "downregulation", "activates": "inhibits", "activated": "inhibited",
    "promotes": "inhibits", "enhances": "impairs", "enhanced": "impaired",
    "positive": "negative", "positively": "negatively", "beneficial": "harmful",
    "above": "below", "gain": "loss", "rise": "fall", "rises": "falls",
    "better": "worse", "elevated": "reduced",
}  # fmt: skip
_SWAP = {**_OPPOSITES, **{v: k for k, v in _OPPOSITES.items()}}
_SWAP_RE = re.compile(r"\b(" + "|".join(sorted(_SWAP, key=len, reverse=True)) + r")\b", re.I)

_REMOVE = [
    (re.compile(r"\b(does|do|did) not (\w+)\b", re.I), None),
    (re.compile(r"\b(is|are|was|were|can|has|have|had|will|may) not\b", re.I), r"\1"),
    (re.compile(r"\bcannot\b", re.I), "can"),
    (re.compile(r"\bno longer\b", re.I), "still"),
]
_ADD = [
    (re.compile(r"\b(is|are|was|were|can|will|may)\b", re.I), r"\1 not"),
]
# A third-person verb after a plural or singular subject: "X causes Y" -> "X does not cause Y".
_VERB_S = re.compile(r"\b([a-z]{3,}?)(es|s)\b")
_NOT_VERBS = {
    "is",
    "was",
    "has",
    "this",
    "its",
    "his",
    "as",
    "us",
    "yes",
    "less",
    "does",
    "cells",
    "patients",
    "levels",
    "mice",
    "women",
    "children",
    "genes",
    "proteins",
    "rates",
    "effects",
    "cancers",
}


def _keep_case(original: str, replacement: str) -> str:
    return replacement.capitalize() if original[:1].isupper() else replacement


def _third_person(verb: str) -> str | None:
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    if verb.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return verb[:-2]
    return verb[:-1] if verb.endswith("s") and not verb.endswith("ss") else None


def negate(claim: str) -> str | None:
    """The claim with its verdict flipped by one edit, or None."""
    match = _SWAP_RE.search(claim)
    if match:
        word = match.group(1)
        swapped = _keep_case(word, _SWAP[word.lower()])
        return claim[: match.start()] + swapped + claim[match.end() :]
    for pattern, replacement in _REMOVE:
        match = pattern.search(claim)
        if match:
            if replacement is None:  # "does not cause" -> "causes"
                verb = match.group(2)
                aux = match.group(1).lower()
                new = verb + ("s" if aux == "does" and not verb.endswith("s") else "")
                if aux == "did":
                    return None  # past tense of an arbitrary verb is not safe to guess
                return claim[: match.start()] + new + claim[match.end() :]
            return claim[: match.start()] + match.expand(replacement) + claim[match.end() :]
    for pattern, replacement in _ADD:
        match = pattern.search(claim)
        if match:
            return claim[: match.start()] + match.expand(replacement) + claim[match.end() :]
    # "X causes Y": the first third-person verb after the first word.
    words = list(re.finditer(r"\b\w+\b", claim))
    for w in words[1:4]:
        base = _third_person(w.group())
        if base and w.group() not in _NOT_VERBS and len(base) > 2:
            return claim[: w.start()] + "does not " + base + claim[w.end() :]
    return None
