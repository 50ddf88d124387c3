"""AgentService over a real gRPC server: proto translation, streaming, Search, status codes."""

from __future__ import annotations

import json

import grpc
import pytest
from agent_fakes import DOCUMENTS

from veritas.v1 import agent_pb2, common_pb2, retrieval_pb2

DOSE = "What is the recommended dose of Zentrivex?"


async def test_ask_returns_the_answer_contract(agent_stub):
    reply = await agent_stub.Ask(
        agent_pb2.AskRequest(question=DOSE, tenant="default", caller="tests")
    )
    answer = reply.answer
    assert answer.status == agent_pb2.ANSWER_STATUS_ANSWERED
    assert answer.question == DOSE
    assert any("40 mg" in c.text for c in answer.claims)
    for claim in answer.claims:
        assert claim.support == agent_pb2.SUPPORT_SUPPORTED and claim.citations
    for ev in answer.evidence:
        assert ev.quote == DOCUMENTS[ev.doc_id][2][ev.char_start : ev.char_end]
        assert list(ev.section_path) and ev.page == 1 and ev.title
    assert answer.usage.total_ms > 0
    assert answer.trace[-1].name == "answer"


async def test_ask_refusal_over_grpc(agent_stub):
    reply = await agent_stub.Ask(agent_pb2.AskRequest(question="How tall is Mount Everest?"))
    assert reply.answer.status == agent_pb2.ANSWER_STATUS_REFUSED
    assert reply.answer.refusal_reason == "no evidence above threshold"


async def test_ask_stream_yields_steps_then_the_answer(agent_stub):
    schema = {"type": "object", "properties": {"dose_mg": {"type": "number"}}}
    request = agent_pb2.AskStreamRequest(
        request=agent_pb2.AskRequest(question=DOSE, data_schema=json.dumps(schema))
    )
    messages = [m async for m in agent_stub.AskStream(request)]
    *steps, last = messages
    assert all(m.HasField("step") and not m.HasField("answer") for m in steps)
    assert last.HasField("answer") and not last.HasField("step")
    names = [m.step.name for m in steps]
    assert names == ["retrieve", "rerank", "select", "rank", "verify", "structure", "answer"]
    assert names == [s.name for s in last.answer.trace]
    assert last.answer.status == agent_pb2.ANSWER_STATUS_ANSWERED


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (agent_pb2.AskRequest(question="  "), grpc.StatusCode.INVALID_ARGUMENT, "empty"),
        (
            agent_pb2.AskRequest(question=DOSE, mode=agent_pb2.ANSWER_MODE_ABSTRACTIVE),
            grpc.StatusCode.INVALID_ARGUMENT,
            "abstractive mode needs a stronger model",
        ),
        (
            agent_pb2.AskRequest(question=DOSE, data_schema='{"type": 5}'),
            grpc.StatusCode.INVALID_ARGUMENT,
            "not a valid JSON Schema",
        ),
        (
            agent_pb2.AskRequest(question=DOSE, search_mode=42),
            grpc.StatusCode.INVALID_ARGUMENT,
            "unknown search mode",
        ),
    ],
)
async def test_bad_requests_get_invalid_argument(agent_stub, request_, code, message):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await agent_stub.Ask(request_)
    assert err.value.code() == code and message in err.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in agent_stub.AskStream(agent_pb2.AskStreamRequest(request=request_)):
            pass
    assert err.value.code() == code


async def test_peer_down_is_unavailable_naming_the_peer(make_agent):
    from veritas.v1 import agent_pb2_grpc
    from veritas_agent.servicer import AgentServicer
    from veritas_common.server import start_server
    from veritas_common.testing import free_port

    agent = make_agent(retrieval_addr=f"127.0.0.1:{free_port()}")

    def register(server):
        agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentServicer(agent), server)
        return []

    server, _, _, port = await start_server("agent", agent.settings, register)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Ask(agent_pb2.AskRequest(question=DOSE))
    await server.stop(0)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "retrieval service unavailable" in err.value.details()


async def test_search_without_rerank_keeps_retrieval_order(agent_stub, fake_peers):
    fake_peers.rerank.boost = {"acme0001:0003": 10.0}
    reply = await agent_stub.Search(
        agent_pb2.AgentServiceSearchRequest(query="Acme revenue fiscal 2024 net income", top_k=3)
    )
    scores = [r.score for r in reply.results]
    assert scores == sorted(scores, reverse=True) and len(scores) <= 3
    assert all(r.score == r.bm25_score for r in reply.results)  # the retrieval score
    assert fake_peers.rerank.requests == []
    assert fake_peers.retrieval.requests[-1].top_k == 3


async def test_search_with_rerank_orders_by_rerank_score(agent_stub, fake_peers):
    fake_peers.rerank.boost = {"acme0001:0003": 10.0}  # the capex chunk, last by retrieval
    request = agent_pb2.AgentServiceSearchRequest(
        query="Acme revenue fiscal 2024 capital", top_k=2, rerank=True, tenant="default",
        mode=retrieval_pb2.SEARCH_MODE_BM25,
        filter=common_pb2.Filter(doc_ids=["acme0001"]),
    )  # fmt: skip
    reply = await agent_stub.Search(request)
    assert reply.results[0].chunk.chunk_id == "acme0001:0003"
    assert len(reply.results) == 2
    top = reply.results[0]
    assert top.score > 10 and top.bm25_score > 0  # rerank score; retrieval scores kept
    sent = fake_peers.retrieval.requests[-1]
    assert sent.top_k == 20 and sent.mode == retrieval_pb2.SEARCH_MODE_BM25  # candidates
    assert list(sent.filter.doc_ids) == ["acme0001"]
    assert len(fake_peers.rerank.requests[-1].candidates) >= 2


async def test_search_defaults_and_limits(agent_stub, fake_peers):
    await agent_stub.Search(agent_pb2.AgentServiceSearchRequest(query="Zentrivex dose"))
    assert fake_peers.retrieval.requests[-1].top_k == 10
    for bad in (
        agent_pb2.AgentServiceSearchRequest(query=" "),
        agent_pb2.AgentServiceSearchRequest(query="dose", top_k=-1),
        agent_pb2.AgentServiceSearchRequest(query="dose", top_k=1000),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await agent_stub.Search(bad)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# -- Verify and Calculate -------------------------------------------------------------------

LABEL = "The recommended dose of Zentrivex is 40 mg taken orally once daily."


@pytest.mark.parametrize(
    ("claim", "support"),
    [
        ("The recommended dose of Zentrivex is 40 mg once daily.", agent_pb2.SUPPORT_SUPPORTED),
        ("The recommended dose of Zentrivex is 80 mg once daily.", agent_pb2.SUPPORT_UNSUPPORTED),
        ("Acme opened a plant in Tampere.", agent_pb2.SUPPORT_UNSUPPORTED),
    ],
)
async def test_verify_uses_the_verifier_ask_uses(agent_stub, claim, support):
    reply = await agent_stub.Verify(
        agent_pb2.VerifyRequest(claim=claim, evidence=["Dosage and Administration", LABEL])
    )
    assert reply.support == support
    assert reply.verifier.startswith("evidence-judge@")
    assert 0.0 <= reply.score <= 1.0 and reply.reason
    if support == agent_pb2.SUPPORT_SUPPORTED:
        assert reply.score > 0.6
    if "80 mg" in claim:
        assert "80" in reply.reason  # the invented number is named


async def test_verify_matches_the_domain_verdict(make_agent, fake_peers):
    from agent_fakes import FakeEmbedding

    from veritas_agent.calculator import Calculator
    from veritas_agent.verifier import SimilarityPolarityVerifier
    from veritas_common.testing import embeddings

    class BagOfWords:
        async def embed(self, texts, kind):
            return embeddings([FakeEmbedding.vector(t) for t in texts])

    claim = "Net income was $61.3 million in fiscal 2024."
    quotes = ["Net income was $61.3 million, compared with $52.8 million in fiscal 2023."]
    agent = make_agent(evidence_judge=False, verify_threshold=0.9, verify_similarity_weight=0.3)
    verdict = await agent.verify(claim, quotes)
    expected = SimilarityPolarityVerifier(
        BagOfWords(), Calculator(), similarity_weight=0.3, threshold=0.9
    )
    assert verdict == await expected.verify(claim, quotes)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (agent_pb2.VerifyRequest(claim=" ", evidence=[LABEL]), "claim must not be empty"),
        (agent_pb2.VerifyRequest(claim="dose"), "at least one text"),
        (agent_pb2.VerifyRequest(claim="dose", evidence=[LABEL, "  "]), "evidence text 1"),
        (agent_pb2.VerifyRequest(claim="dose", evidence=[LABEL] * 51), "the limit is 50"),
        (
            agent_pb2.VerifyRequest(claim="dose", evidence=["x" * 300_000, "y" * 300_000]),
            "the limit is 500000",
        ),
    ],
)
async def test_verify_bad_requests(agent_stub, request_, message):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await agent_stub.Verify(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in err.value.details()


async def test_calculate_over_grpc(agent_stub):
    reply = await agent_stub.Calculate(
        agent_pb2.CalculateRequest(expression="(3,233 - 2,977) / 2,977")
    )
    assert reply.value == pytest.approx(256 / 2977)
    assert reply.expression == "(3233 - 2977) / 2977"
    assert list(reply.steps) == [reply.value]
    reply = await agent_stub.Calculate(
        agent_pb2.CalculateRequest(expression="subtract(5829, 5735), divide(#0, 5735)")
    )
    assert list(reply.steps) == [94.0, pytest.approx(94 / 5735)]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "division by zero"),
        ("1 +", "ends too early"),
        ("table_sum(revenue, none)", "needs the table"),
        ("frobnicate(1, 2)", "unknown operation 'frobnicate'"),
        ("1" * 2001, "the limit is 2000"),
    ],
)
async def test_calculate_errors_are_invalid_argument(agent_stub, expression, message):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await agent_stub.Calculate(agent_pb2.CalculateRequest(expression=expression))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in err.value.details()
