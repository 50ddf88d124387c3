"""The harness reads the gateway's JSON into the shared answer schema, and refuses a body that
breaks it instead of scoring it."""

from __future__ import annotations

import httpx
import pytest

from veritas_common.contract import AnswerStatus, SearchMode
from veritas_evals.client import ContractBroken, GatewayClient

ANSWER = {
    "answer_id": "a1",
    "question": "q?",
    "status": "REFUSED",
    "answer": "",
    "claims": [],
    "evidence": [],
    "refusal_reason": "no evidence above threshold",
    "data": None,
    "usage": {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "retrieve_ms": 1.0,
        "rerank_ms": 0.0,
        "prefill_ms": 0.0,
        "decode_ms": 0.0,
        "verify_ms": 0.0,
        "total_ms": 2.0,
    },
    "trace": [],
}


def client_answering(body: dict, seen: list[dict]) -> GatewayClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(httpx.Response(200, content=request.content).json())
        return httpx.Response(200, json=body)

    http = httpx.Client(base_url="http://gateway", transport=httpx.MockTransport(handler))
    return GatewayClient("http://gateway", "key", http=http)


def test_an_answer_is_read_into_the_schema_and_the_request_uses_its_names():
    seen: list[dict] = []
    answer = client_answering(ANSWER, seen).ask("q?", collection="c", search_mode=SearchMode.DENSE)
    assert answer.status is AnswerStatus.REFUSED
    assert answer.refusal_reason == "no evidence above threshold"
    assert seen == [{"question": "q?", "collection": "c", "verify": True, "search_mode": "dense"}]


def test_a_body_that_breaks_the_contract_is_an_error_not_a_score():
    broken = {k: v for k, v in ANSWER.items() if k != "usage"}
    with pytest.raises(ContractBroken, match="usage"):
        client_answering(broken, []).ask("q?", collection="c")
    with pytest.raises(ContractBroken, match="status"):
        client_answering(ANSWER | {"status": "MAYBE"}, []).ask("q?", collection="c")
