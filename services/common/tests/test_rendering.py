"""The public JSON of an answer: exact field names and enum spellings."""

from __future__ import annotations

import json

from veritas.v1 import agent_pb2, common_pb2
from veritas_common.rendering import answer_to_dict


def test_answer_json_has_the_contract_fields():
    answer = agent_pb2.Answer(
        answer_id="a1",
        question="q?",
        status=agent_pb2.ANSWER_STATUS_PARTIAL,
        answer="Revenue was $5 million.",
        claims=[
            agent_pb2.Claim(
                text="Revenue was $5 million.",
                citations=["E1"],
                support=agent_pb2.SUPPORT_SUPPORTED,
                score=0.9,
            )
        ],
        evidence=[
            common_pb2.Evidence(
                id="E1",
                chunk_id="d:0000",
                doc_id="d",
                source="r.md",
                section_path=["A", "B"],
                page=2,
                char_start=3,
                char_end=26,
                quote="Revenue was $5 million.",
            )
        ],
        data_json=json.dumps({"value": 5}),
        usage=agent_pb2.Usage(total_ms=12.5),
        trace=[agent_pb2.TraceStep(name="retrieve", detail="3 hits", duration_ms=1.0)],
    )
    body = answer_to_dict(answer)
    assert list(body) == [
        "answer_id",
        "question",
        "status",
        "answer",
        "claims",
        "evidence",
        "refusal_reason",
        "data",
        "usage",
        "trace",
    ]
    assert body["status"] == "PARTIAL"
    assert body["claims"][0]["support"] == "SUPPORTED"
    assert body["claims"][0]["citations"] == ["E1"]
    assert body["evidence"][0]["section_path"] == ["A", "B"]
    assert set(body["evidence"][0]) == {
        "id",
        "chunk_id",
        "doc_id",
        "source",
        "title",
        "section_path",
        "page",
        "char_start",
        "char_end",
        "quote",
        "retrieval_score",
        "rerank_score",
    }
    assert body["refusal_reason"] is None
    assert body["data"] == {"value": 5}
    assert body["usage"]["total_ms"] == 12.5
    assert set(body["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "retrieve_ms",
        "rerank_ms",
        "prefill_ms",
        "decode_ms",
        "verify_ms",
        "total_ms",
    }


def test_refused_answer_has_reason_and_no_data():
    body = answer_to_dict(
        agent_pb2.Answer(status=agent_pb2.ANSWER_STATUS_REFUSED, refusal_reason="no evidence")
    )
    assert body["status"] == "REFUSED"
    assert body["refusal_reason"] == "no evidence"
    assert body["data"] is None and body["claims"] == []
