"""The whole Ask pipeline against fake peers on a real gRPC server."""

from __future__ import annotations

import json

import pytest
from agent_fakes import DOCUMENTS
from prometheus_client import REGISTRY

from veritas_agent.models import (
    REFUSAL_CONTRADICTED,
    REFUSAL_NO_EVIDENCE,
    REFUSAL_NO_SUPPORTED_CLAIM,
    REFUSAL_NOT_ANSWERABLE,
    Question,
)
from veritas_agent.verifier import ClaimVerifier, Verdict
from veritas_common.contract import AnswerMode, AnswerStatus, Support
from veritas_common.errors import InvalidArgument, PeerUnavailable, TooLarge
from veritas_common.testing import free_port

REVENUE = "What was Acme's total revenue and net income in fiscal 2024?"
DOSE = "What is the recommended dose of Zentrivex?"


def assert_citations_hold(answer) -> None:
    """The core citation contract: every quote is the document slice it claims to be, every
    citation names listed evidence, ids are E1.. in order of first citation."""
    for ev in answer.evidence:
        document = DOCUMENTS[ev.doc_id][2]
        assert ev.quote == document[ev.char_start : ev.char_end]
        assert ev.quote.strip() == ev.quote and ev.quote
    ids = [ev.id for ev in answer.evidence]
    assert ids == [f"E{i}" for i in range(1, len(ids) + 1)]
    first_cited = list(dict.fromkeys(c for claim in answer.claims for c in claim.citations))
    assert first_cited == ids
    assert answer.answer == " ".join(claim.text for claim in answer.claims)


async def test_answers_with_quotes_equal_to_document_slices(make_agent, fake_peers):
    answer = await make_agent().ask(Question(REVENUE))
    assert answer.status == AnswerStatus.ANSWERED
    assert answer.refusal_reason == ""
    assert 1 <= len(answer.claims) <= 3
    assert_citations_hold(answer)
    assert all(c.support == Support.SUPPORTED and 0 < c.score <= 1 for c in answer.claims)
    texts = " ".join(c.text for c in answer.claims)
    assert "482.6" in texts
    ev = answer.evidence[0]
    assert ev.source == "acme-annual-report-2024.md" and ev.doc_id == "acme0001"
    assert ev.rerank_score > 0 and ev.retrieval_score > 0
    assert len(answer.answer_id) == 32
    assert [s.name for s in answer.trace] == [
        "retrieve", "rerank", "select", "rank", "verify", "answer"
    ]  # fmt: skip
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    assert answer.usage.prefill_ms == 5.0 and answer.usage.decode_ms == 10.0
    assert answer.usage.total_ms >= answer.usage.retrieve_ms > 0
    # Nothing is embedded: sentence vectors are stored and the query's vector comes back with
    # the search results; the judge selects and verifies in-process.
    assert fake_peers.embedding.requests == []
    assert fake_peers.retrieval.requests[0].query == REVENUE
    select = next(s for s in answer.trace if s.name == "select").detail
    assert "judged by evidence-judge@" in select


async def test_table_row_claim_cites_its_header(make_agent, fake_peers):
    fake_peers.generation.responder = lambda params: json.dumps(
        {"selected": [i for i in json.loads(params.json_schema)["properties"]["selected"]
                      ["items"]["enum"] if True][:3]}
    )  # fmt: skip
    answer = await make_agent(max_claims=8).ask(Question("Revenue fiscal 2024 table line item"))
    assert_citations_hold(answer)
    rows = [c for c in answer.claims if c.text.startswith("Line item (USD millions): Revenue")]
    assert rows, [c.text for c in answer.claims]
    cited = {ev.id: ev.quote for ev in answer.evidence}
    assert [cited[i] for i in rows[0].citations] == [
        "| Revenue | 482.6 | 429.4 |",
        "| Line item (USD millions) | Fiscal 2024 | Fiscal 2023 |",
    ]


async def test_model_order_is_kept(make_agent, fake_peers):
    answer = await make_agent().ask(Question(REVENUE))
    [rank_call] = fake_peers.generation.requests
    schema = json.loads(rank_call.params.json_schema)
    ids = schema["properties"]["selected"]["items"]["enum"]
    assert schema["properties"]["selected"]["maxItems"] == 3
    assert schema["required"] == ["selected"]
    assert rank_call.params.temperature == 0.0
    # The fake model picks ids in reverse; the claims follow the model, not the similarity.
    chosen = list(reversed(ids))[:3]
    rank_step = next(s for s in answer.trace if s.name == "rank")
    assert rank_step.detail.startswith("fake-generation chose " + ", ".join(chosen))
    prompt = rank_call.params.messages[-1].content
    for claim, cid in zip(answer.claims, chosen, strict=True):
        assert f"[{cid}] {claim.text}" in prompt


async def test_garbage_model_output_falls_back_to_similarity_order(make_agent, fake_peers):
    fake_peers.generation.responder = lambda params: "The answer is S2, obviously."
    answer = await make_agent().ask(Question(REVENUE))
    assert answer.status == AnswerStatus.ANSWERED
    rank_step = next(s for s in answer.trace if s.name == "rank")
    assert "model output unusable (reply is not JSON" in rank_step.detail
    assert "fell back to similarity order: S1, S2" in rank_step.detail
    prompt = fake_peers.generation.requests[0].params.messages[-1].content
    assert f"[S1] {answer.claims[0].text}" in prompt


async def test_unknown_and_repeated_ids_are_dropped(make_agent, fake_peers):
    fake_peers.generation.responder = lambda params: '{"selected": ["S9", "S2", "S2", 7]}'
    answer = await make_agent().ask(Question(REVENUE))
    assert len(answer.claims) == 1
    prompt = fake_peers.generation.requests[0].params.messages[-1].content
    assert f"[S2] {answer.claims[0].text}" in prompt


async def test_refuses_when_no_sentence_is_relevant(make_agent, fake_peers):
    answer = await make_agent().ask(Question("Who won the 1998 football World Cup?"))
    assert answer.status == AnswerStatus.REFUSED
    assert answer.refusal_reason == REFUSAL_NO_EVIDENCE
    assert answer.claims == [] and answer.evidence == [] and answer.answer == ""
    assert fake_peers.generation.requests == []  # nothing to rank, nothing asserted
    assert answer.trace[-1].name == "answer" and REFUSAL_NO_EVIDENCE in answer.trace[-1].detail


async def test_refuses_on_lone_shared_word(make_agent):
    # "capital" also occurs in "Capital expenditures ..."; one shared word is not evidence.
    answer = await make_agent().ask(Question("What is the capital of France?"))
    assert answer.status == AnswerStatus.REFUSED


class FakeVerifier(ClaimVerifier):
    """Rejects claims containing any of `reject` (verdict chosen per word)."""

    name = "fake"

    def __init__(self, reject: dict[str, Support]) -> None:
        self.reject = reject

    async def verify(self, claim, quotes):
        for word, support in self.reject.items():
            if word in claim:
                return Verdict(support, 0.1, f"fake rejects {word!r}")
        return Verdict(Support.SUPPORTED, 0.9, "fake accepts")


async def test_partial_when_the_verifier_removes_a_claim(make_agent):
    agent = make_agent(verifier=FakeVerifier({"Net income": Support.UNSUPPORTED}))
    answer = await agent.ask(Question(REVENUE))
    assert answer.status == AnswerStatus.PARTIAL
    assert answer.claims and all("Net income" not in c.text for c in answer.claims)
    assert all(c.support == Support.SUPPORTED for c in answer.claims)
    assert_citations_hold(answer)  # evidence renumbered for the kept claims only
    assert all("Net income" not in ev.quote for ev in answer.evidence)
    verify = next(s for s in answer.trace if s.name == "verify")
    assert "removed" in verify.detail and "fake rejects 'Net income'" in verify.detail


async def test_refuses_when_no_claim_is_supported(make_agent):
    agent = make_agent(verifier=FakeVerifier({"": Support.UNSUPPORTED}))
    answer = await agent.ask(Question(REVENUE))
    assert answer.status == AnswerStatus.REFUSED
    assert answer.refusal_reason == REFUSAL_NO_SUPPORTED_CLAIM
    assert answer.claims == [] and answer.evidence == []


async def test_refuses_when_evidence_contradicts(make_agent):
    agent = make_agent(verifier=FakeVerifier({"": Support.CONTRADICTED}))
    answer = await agent.ask(Question(REVENUE))
    assert answer.refusal_reason == REFUSAL_CONTRADICTED


async def test_disable_verify_keeps_claims_unchecked(make_agent):
    agent = make_agent(verifier=FakeVerifier({"": Support.UNSUPPORTED}))
    answer = await agent.ask(Question(REVENUE, disable_verify=True))
    assert answer.status == AnswerStatus.ANSWERED
    assert answer.claims and all(c.support == Support.UNSPECIFIED for c in answer.claims)
    assert "skipped" in next(s for s in answer.trace if s.name == "verify").detail


@pytest.mark.parametrize(
    ("ask_rerank", "requested", "reranks"),
    [
        (True, None, True),  # the service default, on
        (False, None, False),  # the service default, off (the embedded default)
        (True, False, False),  # a request turns it off ...
        (False, True, True),  # ... or on
    ],
)
async def test_rerank_follows_the_request_else_the_service_default(
    make_agent, fake_peers, ask_rerank, requested, reranks
):
    agent = make_agent(ask_rerank=ask_rerank)
    answer = await agent.ask(Question(DOSE, rerank=requested))
    assert answer.status == AnswerStatus.ANSWERED
    step = next(s for s in answer.trace if s.name == "rerank")
    if reranks:
        assert len(fake_peers.rerank.requests) == 1
        assert any(ev.rerank_score != 0.0 for ev in answer.evidence)
        assert answer.usage.rerank_ms > 0.0
    else:
        assert fake_peers.rerank.requests == []
        assert all(ev.rerank_score == 0.0 for ev in answer.evidence)
        assert step.detail.startswith("skipped") and answer.usage.rerank_ms == 0.0


async def test_request_options_reach_retrieval(make_agent, fake_peers):
    from veritas.v1 import common_pb2, retrieval_pb2
    from veritas_common.contract import SearchMode

    question = Question(
        DOSE,
        tenant="t1",
        collection="labels",
        filter=common_pb2.Filter(doc_ids=["zent0001"]),
        search_mode=SearchMode.BM25,
    )
    answer = await make_agent(search_candidates=7).ask(question)
    [request] = fake_peers.retrieval.requests
    assert (request.tenant, request.collection, request.mode, request.top_k) == (
        "t1", "labels", retrieval_pb2.SEARCH_MODE_BM25, 7
    )  # fmt: skip
    assert list(request.filter.doc_ids) == ["zent0001"]
    assert {ev.doc_id for ev in answer.evidence} == {"zent0001"}
    assert any("40 mg" in c.text for c in answer.claims)


DATA_SCHEMA = {
    "type": "object",
    "properties": {"drug": {"type": "string"}, "dose_mg": {"type": "number"}},
    "required": ["drug", "dose_mg"],
    "additionalProperties": False,
}


async def test_structured_data_is_validated_and_returned(make_agent, fake_peers):
    fake_peers.generation.data_reply = '{"drug": "Zentrivex", "dose_mg": 40}'
    answer = await make_agent().ask(Question(DOSE, data_schema=json.dumps(DATA_SCHEMA)))
    assert json.loads(answer.data_json) == {"drug": "Zentrivex", "dose_mg": 40}
    data_call = fake_peers.generation.requests[-1]
    assert json.loads(data_call.params.json_schema) == DATA_SCHEMA
    assert "40 mg" in data_call.params.messages[-1].content  # the evidence is in the prompt
    assert next(s for s in answer.trace if s.name == "structure").detail.startswith("data valid")


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ('{"drug": "Zentrivex"}', "output invalid at (root): 'dose_mg' is a required property"),
        ('{"drug": "Zentrivex", "dose_mg": "forty"}', "output invalid at dose_mg"),
        ('{"drug": "Zentrivex", "dose_mg": 400}', "numbers not in the evidence: 400"),
        ('{"drug": "Zentrivex", "dose_mg": 4', "output is not JSON"),
    ],
)
async def test_invalid_structured_output_is_left_out(make_agent, fake_peers, reply, why):
    fake_peers.generation.data_reply = reply
    answer = await make_agent().ask(Question(DOSE, data_schema=json.dumps(DATA_SCHEMA)))
    assert answer.status == AnswerStatus.ANSWERED
    assert answer.data_json == ""
    detail = next(s for s in answer.trace if s.name == "structure").detail
    assert detail.startswith("data omitted: ") and why in detail


async def test_no_structured_data_for_a_refusal(make_agent, fake_peers):
    answer = await make_agent().ask(
        Question("Who won the 1998 football World Cup?", data_schema=json.dumps(DATA_SCHEMA))
    )
    assert answer.status == AnswerStatus.REFUSED and answer.data_json == ""
    assert fake_peers.generation.requests == []


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("{not json", "data_schema is not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"type": "banana"}', "not a valid JSON Schema at type"),
        ('{"properties": {"a": {"minLength": -1}}}', "not a valid JSON Schema"),
    ],
)
async def test_invalid_schema_is_rejected_before_any_work(make_agent, fake_peers, schema, message):
    with pytest.raises(InvalidArgument, match=message):
        await make_agent().ask(Question(DOSE, data_schema=schema))
    assert fake_peers.retrieval.requests == []


async def test_oversized_schema_is_rejected(make_agent):
    with pytest.raises(TooLarge):
        await make_agent(max_schema_chars=10).ask(
            Question(DOSE, data_schema=json.dumps(DATA_SCHEMA))
        )


@pytest.mark.parametrize("text", ["", "   \n\t"])
async def test_empty_question_is_invalid(make_agent, text):
    with pytest.raises(InvalidArgument, match="question must not be empty"):
        await make_agent().ask(Question(text))


async def test_too_long_question_is_invalid(make_agent, fake_peers):
    with pytest.raises(InvalidArgument, match="the limit is 20"):
        await make_agent(max_question_chars=20).ask(Question("x" * 21))
    assert fake_peers.retrieval.requests == []


async def test_abstractive_mode_needs_to_be_enabled(make_agent):
    with pytest.raises(InvalidArgument, match="needs a stronger model than the embedded default"):
        await make_agent().ask(Question(DOSE, mode=AnswerMode.ABSTRACTIVE))


async def test_abstractive_claims_are_verified(make_agent, fake_peers):
    def write(params):
        schema = json.loads(params.json_schema)
        ids = schema["properties"]["claims"]["items"]["properties"]["citations"]["items"]["enum"]
        return json.dumps(
            {
                "claims": [
                    {"text": "The recommended dose of Zentrivex is 40 mg once daily.",
                     "citations": [ids[0]]},
                    {"text": "The recommended dose of Zentrivex is 80 mg once daily.",
                     "citations": [ids[0]]},
                    {"text": "Zentrivex cures psoriasis.", "citations": ["S99"]},
                ]
            }
        )  # fmt: skip

    fake_peers.generation.responder = write
    agent = make_agent(abstractive_enabled=True)
    answer = await agent.ask(Question(DOSE, mode=AnswerMode.ABSTRACTIVE))
    assert answer.status == AnswerStatus.PARTIAL
    assert [c.text for c in answer.claims] == [
        "The recommended dose of Zentrivex is 40 mg once daily."
    ]
    assert_citations_hold(answer)
    verify = next(s for s in answer.trace if s.name == "verify").detail
    assert "numbers neither in nor derivable from cited evidence: 80" in verify
    assert "no cited evidence" in verify


async def test_generation_down_raises_peer_unavailable(make_agent):
    agent = make_agent(generation_addr=f"127.0.0.1:{free_port()}")
    with pytest.raises(PeerUnavailable, match="generation service unavailable"):
        await agent.ask(Question(REVENUE))


@pytest.mark.parametrize(
    ("peer", "overrides"),
    [("retrieval", {}), ("rerank", {}), ("embedding", {"evidence_judge": False})],
)
async def test_other_peers_down_raise_peer_unavailable(make_agent, peer, overrides):
    agent = make_agent(**{f"{peer}_addr": f"127.0.0.1:{free_port()}"}, **overrides)
    with pytest.raises(PeerUnavailable, match=f"{peer} service unavailable"):
        await agent.ask(Question(REVENUE))


async def test_the_default_path_needs_no_embedding_peer(make_agent):
    # Stored sentence vectors and the query's vector from retrieval; the judge verifies.
    agent = make_agent(embedding_addr=f"127.0.0.1:{free_port()}")
    answer = await agent.ask(Question(REVENUE))  # no PeerUnavailable
    select = next(s for s in answer.trace if s.name == "select").detail
    assert "judged by evidence-judge@" in select


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_answers_claims_and_stages(make_agent):
    before = {
        "answered": sample("veritas_agent_answers_total", {"status": "ANSWERED"}),
        "refused": sample("veritas_agent_answers_total", {"status": "REFUSED"}),
        "supported": sample("veritas_agent_claims_total", {"support": "SUPPORTED"}),
        "select": sample("veritas_agent_stage_duration_seconds_count", {"stage": "select"}),
        "evidence": sample("veritas_agent_evidence_count_count", {}),
    }
    agent = make_agent()
    answer = await agent.ask(Question(REVENUE))
    await agent.ask(Question("Who won the 1998 football World Cup?"))
    assert sample("veritas_agent_answers_total", {"status": "ANSWERED"}) == before["answered"] + 1
    assert sample("veritas_agent_answers_total", {"status": "REFUSED"}) == before["refused"] + 1
    assert sample("veritas_agent_claims_total", {"support": "SUPPORTED"}) == before[
        "supported"
    ] + len(answer.claims)
    assert (
        sample("veritas_agent_stage_duration_seconds_count", {"stage": "select"})
        == before["select"] + 2
    )
    assert sample("veritas_agent_evidence_count_count", {}) == before["evidence"] + 2


# -- The evidence judge: gate, verifier and the fallback ---------------------------------------
# The rules around the judge, with a scripted judge (the trained model's quality is measured by
# `veritas eval` and checked on the samples in test_agent_calibration).

HEPATIC = "What is the recommended dose of Zentrivex in hepatic impairment?"


class ScriptedJudge:
    """P(decides) by the first scripted phrase a text contains, else `default`."""

    name = "scripted-judge"

    def __init__(self, script: dict[str, float], default: float = 0.05) -> None:
        self.script = script
        self.default = default

    def warm_up(self) -> None:
        pass

    async def probabilities(self, question, texts):
        import numpy as np

        rows = []
        for text in texts:
            p = next((v for k, v in self.script.items() if k in text), self.default)
            rows.append([1 - p, p, 0.0])
        return np.array(rows, dtype=np.float32)


def scripted_agent(make_agent, fake_peers, script, **overrides):
    from veritas_agent.agent import Agent
    from veritas_agent.peers import Peers

    agent = make_agent(**overrides)
    return Agent.from_settings(
        agent.settings, Peers.from_settings(agent.settings), judge=ScriptedJudge(script)
    )


async def test_the_gate_refuses_when_no_sentence_decides_the_question(make_agent, fake_peers):
    agent = scripted_agent(make_agent, fake_peers, {"20 mg": 0.3}, gate_threshold=0.5)
    answer = await agent.ask(Question(HEPATIC))
    assert answer.status == AnswerStatus.REFUSED
    assert answer.refusal_reason.startswith(REFUSAL_NOT_ANSWERABLE)
    assert "0.30 below the answerability gate 0.50" in answer.refusal_reason
    assert fake_peers.generation.requests == []  # refused before the model is asked


async def test_without_the_gate_the_verifier_still_refuses_and_without_both_it_answers(
    make_agent, fake_peers
):
    agent = scripted_agent(make_agent, fake_peers, {"20 mg": 0.3}, gate_threshold=0.5)
    ungated = await agent.ask(Question(HEPATIC, disable_gate=True))
    assert ungated.status == AnswerStatus.REFUSED
    assert ungated.refusal_reason == REFUSAL_NO_SUPPORTED_CLAIM
    verify = next(s for s in ungated.trace if s.name == "verify").detail
    assert "does not answer the question" in verify and "below 0.50" in verify
    unchecked = await agent.ask(Question(HEPATIC, disable_gate=True, disable_verify=True))
    assert unchecked.status == AnswerStatus.ANSWERED and unchecked.claims


async def test_the_verifier_replaces_a_model_pick_that_does_not_answer(make_agent, fake_peers):
    def pick_last(params):
        ids = json.loads(params.json_schema)["properties"]["selected"]["items"]["enum"]
        return json.dumps({"selected": [ids[-1]]})

    fake_peers.generation.responder = pick_last
    script = {"20 mg": 0.9, "40 mg": 0.4}
    agent = scripted_agent(
        make_agent, fake_peers, script, gate_threshold=0.5, candidate_floor=0.0, judge_margin=1.0
    )
    checked = await agent.ask(Question(HEPATIC))
    assert checked.status == AnswerStatus.ANSWERED
    assert [c.text for c in checked.claims] == [
        "In patients with moderate hepatic impairment, reduce the dose to 20 mg once daily."
    ]
    assert "verified in their place" in next(s for s in checked.trace if s.name == "verify").detail
    unchecked = await agent.ask(Question(HEPATIC, disable_verify=True))
    assert [c.text for c in unchecked.claims] != [c.text for c in checked.claims]


async def test_the_selector_ablation_uses_the_named_fallback(make_agent):
    answer = await make_agent().ask(Question(DOSE, disable_selector=True))
    select = next(s for s in answer.trace if s.name == "select").detail
    assert "judged by fallback:bi-encoder+overlap" in select and "0 judged" in select
    assert answer.status == AnswerStatus.ANSWERED


async def test_a_configured_judge_directory_is_what_warm_up_loads(make_agent, tmp_path):
    from veritas_agent.agent import Agent
    from veritas_agent.peers import Peers
    from veritas_common.errors import FailedPrecondition

    settings = make_agent().settings.model_copy(update={"judge_model": str(tmp_path)})
    peers = Peers.from_settings(settings)
    agent = Agent.from_settings(settings, peers)
    with pytest.raises(FailedPrecondition, match=f"no evidence judge at {tmp_path}"):
        agent.warm_up()
    await peers.close()
