"""Polarity cues: does a claim say the opposite of its evidence?

Two axes carry most contradictions in research and reports: direction ("increases" vs
"reduces", "activates" vs "deactivates") and valence ("better outcomes" vs "poor prognosis").
A text's polarity on an axis is the sum of its cue words, each flipped by a negation among the
few words before it ("did not increase" counts as down). A claim conflicts with its evidence
when both take a side on an axis and the sides differ. Crude next to an NLI model, but it sees
the commonest contradictions and never fires on a claim that copies its evidence.
"""

from __future__ import annotations

import re

from veritas_agent.lexical import stem

_DIRECTION_UP = """
    increase raise elevate higher greater more enhance promote activate upregulate induce
    stimulate augment accelerate rise rose risen grow grew boost gain exceed amplify
"""
_DIRECTION_DOWN = """
    decrease reduce reduction lower less fewer diminish inhibit inhibition suppress suppression
    deactivate downregulate attenuate impair block prevent decline drop loss lose weaken slow
    halt fall fell fallen shrink shrank
"""
_VALENCE_GOOD = """
    better improve improvement beneficial benefit effective favorable favourable protective
    protect safe
"""
_VALENCE_BAD = """
    worse worsen poor poorer harmful detrimental ineffective adverse unfavorable unfavourable
"""
_NEGATIONS = """
    not no never without neither nor cannot fail lack absence absent independent unrelated
    unaffected none
"""
# How many words before a cue a negation reaches ("does not significantly increase").
NEGATION_WINDOW = 3


def _stems(words: str) -> frozenset[str]:
    return frozenset(stem(w) for w in words.split())


# axis -> (stems that push it up, stems that push it down)
AXES = {
    "direction": (_stems(_DIRECTION_UP), _stems(_DIRECTION_DOWN)),
    "valence": (_stems(_VALENCE_GOOD), _stems(_VALENCE_BAD)),
}
_NEGATION_STEMS = _stems(_NEGATIONS)
_WORD = re.compile(r"[a-z]+")


def polarity(text: str) -> dict[str, int]:
    """Net cue count per axis: > 0 up/good, < 0 down/bad, 0 no side taken."""
    words = [stem(w) for w in _WORD.findall(text.lower().replace("n't", " not"))]
    totals = dict.fromkeys(AXES, 0)
    for i, word in enumerate(words):
        window = words[max(0, i - NEGATION_WINDOW) : i]
        sign = -1 if any(w in _NEGATION_STEMS for w in window) else 1
        for axis, (up, down) in AXES.items():
            if word in up:
                totals[axis] += sign
            elif word in down:
                totals[axis] -= sign
    return totals


def conflict(claim: str, evidence: str) -> str | None:
    """Why the claim says the opposite of the evidence, or None when it does not."""
    said, found = polarity(claim), polarity(evidence)
    for axis in AXES:
        if said[axis] and found[axis] and (said[axis] > 0) != (found[axis] > 0):
            names = ("up", "down") if axis == "direction" else ("good", "bad")
            return (
                f"{axis} conflict: the claim says {names[said[axis] < 0]}, "
                f"the evidence {names[found[axis] < 0]}"
            )
    return None
