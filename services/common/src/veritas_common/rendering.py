"""Protos rendered as the public JSON of the answer contract (ARCHITECTURE §2).

The gateway, the MCP server and the CLI all render through here, so the JSON a user sees is
the same whichever door they came in by.
"""

from __future__ import annotations

import json
from typing import Any

from veritas.v1 import agent_pb2, common_pb2, retrieval_pb2


def _enum_name(enum: Any, value: int, prefix: str) -> str | None:
    if value == 0:
        return None
    return str(enum.Name(value)).removeprefix(prefix)


def evidence_to_dict(ev: common_pb2.Evidence) -> dict[str, Any]:
    return {
        "id": ev.id,
        "chunk_id": ev.chunk_id,
        "doc_id": ev.doc_id,
        "source": ev.source,
        "title": ev.title,
        "section_path": list(ev.section_path),
        "page": ev.page,
        "char_start": ev.char_start,
        "char_end": ev.char_end,
        "quote": ev.quote,
        "retrieval_score": round(ev.retrieval_score, 6),
        "rerank_score": round(ev.rerank_score, 6),
    }


def answer_to_dict(answer: agent_pb2.Answer) -> dict[str, Any]:
    """The `/v1/ask` response body."""
    usage = answer.usage
    return {
        "answer_id": answer.answer_id,
        "question": answer.question,
        "status": _enum_name(agent_pb2.AnswerStatus, answer.status, "ANSWER_STATUS_"),
        "answer": answer.answer,
        "claims": [
            {
                "text": claim.text,
                "citations": list(claim.citations),
                "support": _enum_name(agent_pb2.Support, claim.support, "SUPPORT_"),
                "score": round(claim.score, 6),
            }
            for claim in answer.claims
        ],
        "evidence": [evidence_to_dict(ev) for ev in answer.evidence],
        "refusal_reason": answer.refusal_reason or None,
        "data": json.loads(answer.data_json) if answer.data_json else None,
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "retrieve_ms": round(usage.retrieve_ms, 3),
            "rerank_ms": round(usage.rerank_ms, 3),
            "prefill_ms": round(usage.prefill_ms, 3),
            "decode_ms": round(usage.decode_ms, 3),
            "verify_ms": round(usage.verify_ms, 3),
            "total_ms": round(usage.total_ms, 3),
        },
        "trace": [
            {"name": step.name, "detail": step.detail, "duration_ms": round(step.duration_ms, 3)}
            for step in answer.trace
        ],
    }


def search_result_to_dict(result: retrieval_pb2.ScoredChunk) -> dict[str, Any]:
    """One entry of the `/v1/search` response's `results`."""
    chunk = result.chunk
    return {
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "source": chunk.source,
        "title": chunk.title,
        "section_path": list(chunk.section_path),
        "page": chunk.page,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "text": chunk.text,
        "score": round(result.score, 6),
    }


def document_to_dict(doc: common_pb2.Document, *, with_text: bool = True) -> dict[str, Any]:
    """A document as `GET /v1/documents/{doc_id}` returns it."""
    body: dict[str, Any] = {
        "doc_id": doc.doc_id,
        "source": doc.source,
        "title": doc.title,
        "collection": doc.collection,
        "mime_type": doc.mime_type,
        "chunks": doc.chunk_count,
        "page_count": doc.page_count,
        "ingested_at": doc.ingested_at,
        "published_at": doc.published_at or None,
    }
    if with_text:
        body["text"] = doc.text
    return body


def calculation_to_dict(reply: agent_pb2.CalculateResponse) -> dict[str, Any]:
    """The `/v1/calculate` response body."""
    return {"value": reply.value, "expression": reply.expression, "steps": list(reply.steps)}
