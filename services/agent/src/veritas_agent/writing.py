"""Abstractive mode: the model writes the claims, constrained to cite candidate sentences.

The schema only lets citations name candidate ids; ids are checked again here, and a claim
left without a valid citation is kept so the verifier removes it visibly (it cites nothing).
Whether a claim survives is the verifier's decision, as in extractive mode.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from veritas_agent.citations import DraftClaim
from veritas_agent.evidence import Candidate
from veritas_agent.peers import Generation, Generator

SYSTEM_PROMPT = (
    "You answer questions only from the numbered evidence sentences. Write short factual "
    "claims, each citing the ids of the sentences that state it. Reply with JSON only."
)

# Longest claim the model may write, in characters.
MAX_CLAIM_CHARS = 300


@dataclass
class Writing:
    claims: list[DraftClaim]
    detail: str
    generation: Generation


def writing_schema(ids: Sequence[str], max_claims: int) -> dict:
    return {
        "type": "object",
        "properties": {
            "claims": {
                "type": "array",
                "maxItems": max_claims,
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "minLength": 1, "maxLength": MAX_CLAIM_CHARS},
                        "citations": {
                            "type": "array",
                            "items": {"type": "string", "enum": list(ids)},
                            "minItems": 1,
                            "maxItems": 3,
                        },
                    },
                    "required": ["text", "citations"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["claims"],
        "additionalProperties": False,
    }


class ClaimWriter:
    """Asks the generation peer for claims citing the candidates."""

    def __init__(self, generator: Generator, *, max_claims: int = 3, max_new_tokens: int = 256):
        self.generator = generator
        self.max_claims = max_claims
        self.max_new_tokens = max_new_tokens

    async def write(self, question: str, candidates: Sequence[Candidate]) -> Writing:
        ids = [c.id for c in candidates]
        evidence = "\n".join(f"[{c.id}] {c.text}" for c in candidates)
        prompt = (
            f"Question: {question}\n\nEvidence:\n{evidence}\n\n"
            f"Write up to {self.max_claims} claims that answer the question."
        )
        generation = await self.generator.generate(
            [("system", SYSTEM_PROMPT), ("user", prompt)],
            json_schema=json.dumps(writing_schema(ids, self.max_claims)),
            max_new_tokens=self.max_new_tokens,
        )
        try:
            reply = json.loads(generation.text)
            items = reply["claims"]
            if not isinstance(items, list):
                raise TypeError("claims is not a list")
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            return Writing([], f"model output unusable ({type(err).__name__})", generation)
        by_id = {c.id: c for c in candidates}
        claims: list[DraftClaim] = []
        for number, item in enumerate(items[: self.max_claims], start=1):
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                continue
            text = " ".join(item["text"].split())[:MAX_CLAIM_CHARS]
            if not text:
                continue
            cited = item.get("citations")
            if not isinstance(cited, list):
                cited = []
            spans = []
            for cid in dict.fromkeys(c for c in cited if isinstance(c, str) and c in by_id):
                spans.extend(by_id[cid].spans)
            claims.append(DraftClaim(text, spans, label=f"C{number}"))
        return Writing(claims, f"model wrote {len(claims)} claims", generation)
