"""POST /v1/ask and /v1/search against a fake agent: the JSON contract, what reaches the
agent, validation, errors and request ids."""

from __future__ import annotations

import json
import time

import pytest
from gateway_fakes import ACME_KEY, API_KEY, gateway_client, gateway_settings

from veritas.v1 import agent_pb2, common_pb2, retrieval_pb2
from veritas_common import schemas
from veritas_gateway.auth import key_id

# The shared answer schema (its field names are pinned once, in common's test_schemas).
ANSWER_FIELDS = list(schemas.Answer.model_fields)
EVIDENCE_FIELDS = set(schemas.Evidence.model_fields)
USAGE_FIELDS = set(schemas.Usage.model_fields)


async def test_answer_json_has_exactly_the_contract_fields(gateway):
    reply = await gateway.post("/v1/ask", json={"question": "What was Acme's revenue?"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert list(body) == ANSWER_FIELDS
    assert body["status"] == "ANSWERED"
    assert body["question"] == "What was Acme's revenue?"
    (claim,) = body["claims"]
    assert set(claim) == {"text", "citations", "support", "score"}
    assert claim["support"] == "SUPPORTED" and claim["citations"] == ["E1"]
    assert claim["score"] == 0.875
    (evidence,) = body["evidence"]
    assert set(evidence) == EVIDENCE_FIELDS
    assert evidence["section_path"] == ["Results", "Revenue"]
    assert (evidence["char_start"], evidence["char_end"], evidence["page"]) == (0, 71, 3)
    assert body["refusal_reason"] is None
    assert body["data"] == {"metric": "revenue", "value": 41.2}
    assert set(body["usage"]) == USAGE_FIELDS
    assert body["usage"]["prompt_tokens"] == 120 and body["usage"]["total_ms"] == 42.5
    assert body["trace"] == [{"name": "retrieve", "detail": "5 chunks", "duration_ms": 3.25}]


async def test_refusal_has_reason_and_no_claims(gateway):
    body = (await gateway.post("/v1/ask", json={"question": "refuse"})).json()
    assert body["status"] == "REFUSED"
    assert body["refusal_reason"] == "no evidence above threshold"
    assert body["claims"] == [] and body["data"] is None


async def test_options_and_caller_identity_reach_the_agent(gateway, agent):
    schema = {"type": "object", "properties": {"value": {"type": "number"}}}
    reply = await gateway.post(
        "/v1/ask",
        json={
            "question": "  revenue?  ",
            "collection": "filings",
            "filters": {"sources": ["a.pdf"], "doc_ids": ["d1"], "modalities": ["table", "ocr"]},
            "data_schema": schema,
            "mode": "extractive",
            "rerank": False,
            "verify": False,
            "selector": False,
            "gate": False,
            "search_mode": "bm25",
        },
    )
    assert reply.status_code == 200, reply.text
    (request,) = agent.servicer.asks
    assert request.question == "revenue?"
    assert request.collection == "filings"
    assert list(request.filter.sources) == ["a.pdf"]
    assert list(request.filter.doc_ids) == ["d1"]
    assert list(request.filter.modalities) == [common_pb2.MODALITY_TABLE, common_pb2.MODALITY_OCR]
    assert request.mode == agent_pb2.ANSWER_MODE_EXTRACTIVE
    assert request.HasField("rerank") and not request.rerank and request.disable_verify
    assert request.disable_selector and request.disable_gate
    assert request.search_mode == retrieval_pb2.SEARCH_MODE_BM25
    assert json.loads(request.data_schema) == schema
    assert request.tenant == "default"
    # The audit log gets an identity for the key, never the key itself.
    assert request.caller == key_id(API_KEY)
    assert API_KEY not in request.caller


async def test_defaults_leave_rerank_to_the_agent_and_enable_verify_and_hybrid(gateway, agent):
    await gateway.post("/v1/ask", json={"question": "revenue?"})
    await gateway.post("/v1/ask", json={"question": "revenue?", "rerank": True})
    default, reranked = agent.servicer.asks
    assert not default.HasField("rerank") and not default.disable_verify
    assert not default.disable_selector and not default.disable_gate
    assert reranked.HasField("rerank") and reranked.rerank
    request = default
    assert request.search_mode == retrieval_pb2.SEARCH_MODE_HYBRID
    assert request.mode == agent_pb2.ANSWER_MODE_UNSPECIFIED
    assert request.data_schema == "" and not request.HasField("filter")


async def test_tenant_scoped_key_asks_as_its_tenant(agent, ingestion):
    settings = gateway_settings(agent.addr, ingestion.addr)
    async with gateway_client(settings, api_key=ACME_KEY) as client:
        assert (await client.post("/v1/ask", json={"question": "q"})).status_code == 200
    (request,) = agent.servicer.asks
    assert request.tenant == "acme"
    assert request.caller == key_id(ACME_KEY)


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
async def test_empty_question_is_422(gateway, agent, question):
    reply = await gateway.post("/v1/ask", json={"question": question})
    assert reply.status_code == 422
    assert agent.servicer.asks == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": "q", "mode": "creative"},
        {"question": "q", "search_mode": "fuzzy"},
        {"question": "q", "filters": {"modalities": ["audio"]}},
        {"question": "q", "unknown_option": 1},
    ],
)
async def test_malformed_ask_is_422(gateway, agent, body):
    assert (await gateway.post("/v1/ask", json=body)).status_code == 422
    assert agent.servicer.asks == []


async def test_invalid_data_schema_is_422_with_message(gateway, agent):
    reply = await gateway.post("/v1/ask", json={"question": "q", "data_schema": {"type": "objekt"}})
    assert reply.status_code == 422
    assert "invalid JSON Schema" in reply.text and "objekt" in reply.text
    assert agent.servicer.asks == []


async def test_agent_invalid_argument_is_400_with_its_message(gateway):
    reply = await gateway.post("/v1/ask", json={"question": "bad"})
    assert reply.status_code == 400
    assert reply.json() == {"detail": "question is not answerable as asked"}


async def test_agent_not_running_is_503_naming_it(ingestion):
    settings = gateway_settings("127.0.0.1:1", ingestion.addr)
    async with gateway_client(settings) as client:
        reply = await client.post("/v1/ask", json={"question": "q"})
        assert reply.status_code == 503
        assert reply.json()["detail"].startswith("agent service unavailable")
        reply = await client.post("/v1/search", json={"query": "q"})
        assert reply.status_code == 503 and "agent" in reply.json()["detail"]


async def test_hanging_agent_is_503_after_the_deadline_not_a_hang(gateway):
    start = time.monotonic()
    reply = await gateway.post("/v1/ask", json={"question": "hang"})
    assert reply.status_code == 503
    assert reply.json()["detail"].startswith("agent service unavailable")
    assert time.monotonic() - start < 5  # ask_timeout_s is 1 s in the test settings


async def test_request_id_travels_to_the_agent_and_back(gateway, agent):
    reply = await gateway.post(
        "/v1/ask", json={"question": "q"}, headers={"X-Request-ID": "req-abc.123"}
    )
    assert reply.headers["x-request-id"] == "req-abc.123"
    assert agent.servicer.request_ids == ["req-abc.123"]


async def test_request_id_is_made_when_absent_or_unsafe(gateway, agent):
    first = await gateway.post("/v1/ask", json={"question": "q"})
    second = await gateway.post(
        "/v1/ask", json={"question": "q"}, headers={"X-Request-ID": "bad id\twith spaces"}
    )
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(len(i) == 32 for i in ids) and ids[0] != ids[1]
    assert agent.servicer.request_ids == ids


async def test_search_returns_results_and_passes_options(gateway, agent):
    reply = await gateway.post(
        "/v1/search",
        json={
            "query": "revenue",
            "top_k": 3,
            "collection": "filings",
            "mode": "dense",
            "rerank": True,
            "filters": {"sources": ["acme.md"]},
        },
    )
    assert reply.status_code == 200, reply.text
    (result,) = reply.json()["results"]
    assert set(result) == set(schemas.SearchResult.model_fields)
    assert result["score"] == 0.75 and result["text"].startswith("Acme")
    (request,) = agent.servicer.searches
    assert (request.query, request.top_k, request.collection) == ("revenue", 3, "filings")
    assert request.mode == retrieval_pb2.SEARCH_MODE_DENSE and request.rerank
    assert list(request.filter.sources) == ["acme.md"]
    assert request.tenant == "default"


async def test_search_defaults(gateway, agent):
    assert (await gateway.post("/v1/search", json={"query": "x"})).status_code == 200
    (request,) = agent.servicer.searches
    assert request.top_k == 10 and not request.rerank
    assert request.mode == retrieval_pb2.SEARCH_MODE_HYBRID


@pytest.mark.parametrize(
    "body", [{"query": " "}, {"query": "x", "top_k": 0}, {"query": "x", "top_k": 101}]
)
async def test_invalid_search_is_422(gateway, agent, body):
    assert (await gateway.post("/v1/search", json=body)).status_code == 422
    assert agent.servicer.searches == []
