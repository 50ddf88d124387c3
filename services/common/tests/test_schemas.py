"""The public JSON of the answer contract: exact field names and enum spellings, built from the
protos in one place and read back unchanged (the contract tests of every front door)."""

from __future__ import annotations

import json

import pytest

from veritas.v1 import agent_pb2, common_pb2, ingestion_pb2
from veritas_common.errors import VeritasError
from veritas_common.schemas import Answer, IngestedDocument, SearchResult, VerifyResponse


def answer_to_dict(answer: agent_pb2.Answer) -> dict:
    return Answer.from_proto(answer).model_dump(mode="json")


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


def test_unverified_claim_has_null_support_and_json_reads_back_unchanged():
    answer = agent_pb2.Answer(
        answer_id="a2",
        status=agent_pb2.ANSWER_STATUS_ANSWERED,
        claims=[agent_pb2.Claim(text="x", citations=["E1"], score=0.123456789)],
    )
    body = answer_to_dict(answer)
    assert body["claims"][0]["support"] is None
    assert body["claims"][0]["score"] == 0.123457
    # What a client (the CLI, MCP, the evaluation harness) reads back is the same answer.
    assert Answer.model_validate(json.loads(json.dumps(body))) == Answer.from_proto(answer)


def test_an_answer_without_status_or_a_verdict_is_an_error_not_a_guess():
    with pytest.raises(VeritasError, match="without a status"):
        Answer.from_proto(agent_pb2.Answer(answer_id="a3"))
    with pytest.raises(VeritasError, match="no verdict"):
        VerifyResponse.from_proto(agent_pb2.VerifyResponse(score=0.5))


def test_ingest_status_is_lower_case_and_required():
    reply = ingestion_pb2.IngestResponse(
        doc_id="d", source="a.md", status=ingestion_pb2.INGEST_STATUS_UNCHANGED, chunks=3
    )
    assert IngestedDocument.from_proto(reply).model_dump() == {
        "doc_id": "d",
        "source": "a.md",
        "status": "unchanged",
        "chunks": 3,
    }
    with pytest.raises(VeritasError, match="no status"):
        IngestedDocument.from_proto(ingestion_pb2.IngestResponse(source="b.md"))


def test_search_result_json_has_the_contract_fields():
    assert list(SearchResult.model_fields) == [
        "chunk_id",
        "doc_id",
        "source",
        "title",
        "section_path",
        "page",
        "char_start",
        "char_end",
        "text",
        "score",
    ]
