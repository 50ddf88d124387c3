"""POST /v1/verify and /v1/calculate against a fake agent: the JSON shapes, what reaches the
agent, validation (422) and the agent's refusals (400)."""

from __future__ import annotations

import pytest

CLAIM = "Revenue was $41.2 million."


@pytest.mark.parametrize(
    ("evidence", "support", "score"),
    [
        ([CLAIM], "SUPPORTED", 0.9),
        (["Something else.", f"not {CLAIM}"], "CONTRADICTED", 0.1),
        (["Something else."], "UNSUPPORTED", 0.25),
    ],
)
async def test_verify_returns_exactly_support_score_verifier(
    gateway, agent, evidence, support, score
):
    reply = await gateway.post("/v1/verify", json={"claim": CLAIM, "evidence": evidence})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"support": support, "score": score, "verifier": "fake-verifier"}
    (request,) = agent.servicer.verifies
    assert request.claim == CLAIM and list(request.evidence) == evidence


async def test_verify_strips_texts_and_accepts_fifty(gateway, agent):
    evidence = [f" text {i} " for i in range(50)]
    reply = await gateway.post("/v1/verify", json={"claim": f"  {CLAIM}\n", "evidence": evidence})
    assert reply.status_code == 200, reply.text
    (request,) = agent.servicer.verifies
    assert request.claim == CLAIM
    assert list(request.evidence) == [f"text {i}" for i in range(50)]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"claim": CLAIM},
        {"evidence": ["x"]},
        {"claim": "", "evidence": ["x"]},
        {"claim": "  ", "evidence": ["x"]},
        {"claim": CLAIM, "evidence": []},
        {"claim": CLAIM, "evidence": ["x", " "]},
        {"claim": CLAIM, "evidence": "x"},
        {"claim": CLAIM, "evidence": [1]},
        {"claim": CLAIM, "evidence": ["x"] * 51},
        {"claim": CLAIM, "evidence": ["x"], "mode": "strict"},
    ],
)
async def test_malformed_verify_is_422(gateway, agent, body):
    assert (await gateway.post("/v1/verify", json=body)).status_code == 422
    assert agent.servicer.verifies == []


async def test_agent_without_a_verdict_is_502(gateway):
    reply = await gateway.post("/v1/verify", json={"claim": "no verdict", "evidence": ["x"]})
    assert reply.status_code == 502
    assert reply.json() == {"detail": "agent sent no verdict"}


async def test_calculate_expression(gateway, agent):
    reply = await gateway.post("/v1/calculate", json={"expression": "(3,233 - 2,977) / 2,977"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "value": 256 / 2977,
        "expression": "(3233 - 2977) / 2977",
        "steps": [256 / 2977],
    }
    (request,) = agent.servicer.calculations
    assert request.expression == "(3,233 - 2,977) / 2,977"


async def test_calculate_program_returns_each_step(gateway):
    program = "subtract(5829, 5735), divide(#0, 5735)"
    body = (await gateway.post("/v1/calculate", json={"expression": program})).json()
    assert body == {"value": 94 / 5735, "expression": program, "steps": [94.0, 94 / 5735]}


async def test_calculator_refusal_is_400_with_its_message(gateway):
    reply = await gateway.post("/v1/calculate", json={"expression": "1 / 0"})
    assert reply.status_code == 400
    assert reply.json() == {"detail": "division by zero"}


@pytest.mark.parametrize(
    "body",
    [{}, {"expression": ""}, {"expression": "  "}, {"expression": 5}, {"expression": "1", "x": 1}],
)
async def test_malformed_calculate_is_422(gateway, agent, body):
    assert (await gateway.post("/v1/calculate", json=body)).status_code == 422
    assert agent.servicer.calculations == []


async def test_agent_down_is_503_naming_it(ingestion):
    from gateway_fakes import gateway_client, gateway_settings

    async with gateway_client(gateway_settings("127.0.0.1:1", ingestion.addr)) as client:
        reply = await client.post("/v1/calculate", json={"expression": "1 + 2"})
        assert reply.status_code == 503
        assert reply.json()["detail"].startswith("agent service unavailable")
        reply = await client.post("/v1/verify", json={"claim": "c", "evidence": ["e"]})
        assert reply.status_code == 503
