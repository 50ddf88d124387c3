"""The model's part in extractive answers: pick and order candidate sentences by id.

The model is constrained to a JSON Schema whose only free choice is a list of candidate ids;
it never writes text that reaches the answer. Invalid, duplicate or unknown ids are dropped,
and an unusable reply falls back to the similarity order (said so in `Ranking.detail`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from veritas_agent.evidence import Candidate
from veritas_agent.peers import Generation, Generator

SYSTEM_PROMPT = (
    "You rank evidence sentences for answering a question. "
    "Reply with JSON only: the ids of the sentences that answer the question, best first."
)


@dataclass
class Ranking:
    selected: list[Candidate]
    used_model: bool
    detail: str
    generation: Generation | None = None


def ranking_schema(ids: Sequence[str], max_claims: int) -> dict:
    """JSON Schema of the model's reply: up to `max_claims` ids out of `ids`."""
    return {
        "type": "object",
        "properties": {
            "selected": {
                "type": "array",
                "items": {"type": "string", "enum": list(ids)},
                # Every candidate already cleared the relevance bar; an empty list would be
                # the small model's easy way out (measured: SmolLM2-135M always took it).
                "minItems": 1,
                "maxItems": max_claims,
            }
        },
        "required": ["selected"],
        "additionalProperties": False,
    }


def ranking_prompt(question: str, candidates: Sequence[Candidate], max_claims: int) -> str:
    lines = "\n".join(f"[{c.id}] {c.text}" for c in candidates)
    return (
        f"Question: {question}\n\nSentences:\n{lines}\n\n"
        f"Select up to {max_claims} sentence ids that answer the question, most relevant first."
    )


def parse_selection(text: str, valid_ids: Sequence[str], max_claims: int) -> list[str] | str:
    """The valid, de-duplicated ids the model chose, or why its reply is unusable."""
    try:
        reply = json.loads(text)
    except json.JSONDecodeError as err:
        return f"reply is not JSON ({err.msg})"
    if not isinstance(reply, dict) or not isinstance(reply.get("selected"), list):
        return "reply has no 'selected' list"
    allowed = set(valid_ids)
    chosen: list[str] = []
    for item in reply["selected"]:
        if isinstance(item, str) and item in allowed and item not in chosen:
            chosen.append(item)
    if not chosen:
        return "reply selects no valid id"
    return chosen[:max_claims]


class ClaimRanker:
    """Asks the generation peer to choose and order up to `max_claims` candidates."""

    def __init__(self, generator: Generator, *, max_claims: int = 3, max_new_tokens: int = 64):
        self.generator = generator
        self.max_claims = max_claims
        self.max_new_tokens = max_new_tokens

    async def rank(self, question: str, candidates: Sequence[Candidate]) -> Ranking:
        if len(candidates) <= 1:
            return Ranking(list(candidates), False, "one candidate; nothing to rank")
        ids = [c.id for c in candidates]
        generation = await self.generator.generate(
            [
                ("system", SYSTEM_PROMPT),
                ("user", ranking_prompt(question, candidates, self.max_claims)),
            ],
            json_schema=json.dumps(ranking_schema(ids, self.max_claims)),
            max_new_tokens=self.max_new_tokens,
        )
        chosen = parse_selection(generation.text, ids, self.max_claims)
        if isinstance(chosen, str):
            fallback = list(candidates[: self.max_claims])
            detail = (
                f"model output unusable ({chosen}); fell back to similarity order: "
                + ", ".join(c.id for c in fallback)
            )
            return Ranking(fallback, False, detail, generation)
        by_id = {c.id: c for c in candidates}
        detail = f"{generation.model or 'model'} chose " + ", ".join(chosen) + f" of {len(ids)}"
        return Ranking([by_id[i] for i in chosen], True, detail, generation)
