"""Test doubles for the harness: a fake gateway (a small FastAPI app with the public routes'
shapes, answering by word overlap) and tiny datasets in the real file formats."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Form, Header, HTTPException, UploadFile
from starlette.testclient import TestClient

from veritas_common import schemas
from veritas_evals.expressions import ExpressionError, evaluate

API_KEY = "test-key"
# Module level: FastAPI resolves the (postponed) annotations in the module's namespace.
Auth = Annotated[str | None, Header()]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


def _share(query: str, text: str) -> float:
    q = _words(query)
    return len(q & _words(text)) / len(q) if q else 0.0


def _document(source: str, collection: str) -> dict[str, Any]:
    summary = schemas.DocumentSummary(
        doc_id=source,
        source=source,
        title="",
        collection=collection,
        mime_type="text/markdown",
        chunks=1,
        page_count=0,
        ingested_at="2026-01-01T00:00:00Z",
        published_at=None,
    )
    return summary.model_dump(mode="json")


def evidence(evidence_id: str, source: str, quote: str) -> schemas.Evidence:
    """A cited span of `source` as the gateway returns it (scores and offsets are fixed)."""
    return schemas.Evidence(
        id=evidence_id,
        chunk_id=f"{source}:0",
        doc_id=source,
        source=source,
        title="",
        section_path=[],
        page=0,
        char_start=0,
        char_end=len(quote),
        quote=quote,
        retrieval_score=1.0,
        rerank_score=0.0,
    )


class FakeGateway:
    """In-memory documents; search and ask rank documents by word overlap with the query."""

    def __init__(
        self,
        *,
        with_verify: bool = True,
        with_calculate: bool = True,
        failing_questions: frozenset[str] = frozenset(),
        rerank_by_default: bool = True,
    ) -> None:
        self.failing_questions = failing_questions
        self.rerank_by_default = rerank_by_default
        self.docs: dict[str, dict[str, str]] = {}  # collection -> source -> text
        self.uploaded: list[str] = []
        self.asks: list[dict[str, Any]] = []
        self.app = self._build(with_verify, with_calculate)

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://fake-gateway")

    def _auth(self, authorization: str | None) -> None:
        if authorization != f"Bearer {API_KEY}":
            raise HTTPException(401, "missing or invalid API key")

    def _ranked(self, query: str, collection: str) -> list[tuple[float, str, str]]:
        docs = self.docs.get(collection, {})
        scored = [(_share(query, text), source, text) for source, text in docs.items()]
        return sorted(scored, key=lambda x: (-x[0], x[1]))

    def _build(self, with_verify: bool, with_calculate: bool) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/documents")
        def list_documents(authorization: Auth = None, collection: str = "") -> Any:
            self._auth(authorization)
            sources = self.docs.get(collection, {})
            return {"documents": [_document(s, collection) for s in sources]}

        @app.post("/v1/documents")
        async def upload(
            file: list[UploadFile],
            collection: Annotated[str, Form()] = "default",
            authorization: Auth = None,
        ) -> Any:
            self._auth(authorization)
            out = []
            for f in file:
                # What ingestion's Markdown parser gives back: escapes and heading marks gone.
                text = re.sub(r"\\(.)", r"\1", (await f.read()).decode()).replace("# ", "")
                # Like ingestion: identical bytes anywhere in the tenant are a no-op.
                elsewhere = any(text in docs.values() for docs in self.docs.values())
                known = self.docs.setdefault(collection, {})
                status = "unchanged" if elsewhere else "ingested"
                if not elsewhere:
                    known[f.filename] = text
                self.uploaded.append(f.filename)
                out.append(
                    {"doc_id": f.filename, "source": f.filename, "status": status, "chunks": 1}
                )
            return {"documents": out}

        @app.post("/v1/search")
        def search(body: Annotated[dict[str, Any], Body()], authorization: Auth = None) -> Any:
            self._auth(authorization)
            results = []
            for score, source, text in self._ranked(body["query"], body["collection"]):
                half = len(text) // 2
                for i, (part, offset) in enumerate(((text[:half], 0.0), (text[half:], 0.01))):
                    result = schemas.SearchResult(
                        chunk_id=f"{source}:{i}",
                        doc_id=source,
                        source=source,
                        title="",
                        section_path=[],
                        page=0,
                        char_start=i * half,
                        char_end=i * half + len(part),
                        text=part,
                        score=score - offset,
                    )
                    results.append(result.model_dump(mode="json"))
            return {"results": results[: body["top_k"]]}

        @app.post("/v1/ask")
        def ask(body: Annotated[dict[str, Any], Body()], authorization: Auth = None) -> Any:
            self._auth(authorization)
            self.asks.append(body)
            if body["question"] in self.failing_questions:
                raise HTTPException(503, "agent service unavailable")
            ranked = self._ranked(body["question"], body["collection"])
            usage = {
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "retrieve_ms": 10.0,
                "rerank_ms": 20.0 if body.get("rerank", self.rerank_by_default) else 0.0,
                "prefill_ms": 0.0,
                "decode_ms": 0.0,
                "verify_ms": 1.0 if body["verify"] else 0.0,
                "total_ms": 100.0,
            }
            answer: dict[str, Any] = {
                "answer_id": f"fake-{len(self.asks)}",
                "question": body["question"],
                "status": "REFUSED",
                "answer": "",
                "claims": [],
                "evidence": [],
                "refusal_reason": "no evidence above threshold",
                "data": None,
                "usage": usage,
                "trace": [],
            }
            if not ranked or ranked[0][0] < 0.3:
                return schemas.Answer.model_validate(answer).model_dump(mode="json")
            _, source, text = ranked[0]
            sentences = [s for s in re.split(r"(?<=\.) ", text.split("\n\n")[-1]) if s]
            best = max(sentences, key=lambda s: _share(body["question"], s))
            support = "SUPPORTED" if body["verify"] else None
            answer |= {
                "status": "ANSWERED",
                "answer": best,
                "refusal_reason": None,
                "claims": [{"text": best, "citations": ["E1"], "support": support, "score": 1.0}],
                "evidence": [evidence("E1", source, best).model_dump(mode="json")],
            }
            if body.get("data_schema"):
                number = float((re.findall(r"\d+(?:\.\d+)?", best) or ["1"])[0])
                props = body["data_schema"]["properties"]
                data = {"metric": "x", "year": "2019", "value": number, "scale": ""}
                data = {k: v for k, v in data.items() if k in props}
                if "values" in props:
                    data = {"values": [number]}
                answer["data"] = data
                answer["trace"] = [
                    {
                        "name": "structure",
                        "detail": "data valid against the schema",
                        "duration_ms": 1.0,
                    }
                ]
                usage |= {"prompt_tokens": 40, "completion_tokens": 8}
                usage |= {"prefill_ms": 20.0, "decode_ms": 80.0}
            # What the real gateway would send: the shared schema, every field present.
            return schemas.Answer.model_validate(answer).model_dump(mode="json")

        if with_verify:

            @app.post("/v1/verify")
            def verify(body: Annotated[dict[str, Any], Body()], authorization: Auth = None) -> Any:
                self._auth(authorization)
                evidence = " ".join(body["evidence"])
                share = _share(body["claim"], evidence)
                if share >= 0.5 and " not " in f" {evidence.lower()} ":
                    support = "CONTRADICTED"
                elif share >= 0.5:
                    support = "SUPPORTED"
                else:
                    support = "UNSUPPORTED"
                return {"support": support, "score": share, "verifier": "fake-overlap"}

        if with_calculate:

            @app.post("/v1/calculate")
            def calculate(
                body: Annotated[dict[str, Any], Body()], authorization: Auth = None
            ) -> Any:
                self._auth(authorization)
                text = body["expression"]
                if "ans =" in text:  # a ConvFinQA program: the fake reads the last assignment
                    scope: dict[str, float] = {}
                    for statement in text.split(";"):
                        name, _, expr = statement.partition("=")
                        for var, val in scope.items():
                            expr = expr.replace(var, f"({val})")
                        scope[name.strip()] = evaluate(expr.strip())
                    text = str(scope["ans"])
                try:
                    value = evaluate(re.sub(r"(?<=\d),(?=\d{3})", "", text))
                except ExpressionError as err:
                    raise HTTPException(400, str(err)) from None
                return {"value": value, "expression": body["expression"], "steps": []}

        return app


# ------------------------------------------------------------------------------ tiny datasets

CORPUS = [
    (
        101,
        "Aspirin and stroke",
        [
            "Aspirin lowered stroke incidence in elderly adults.",
            "The cohort enrolled 400 adults in Oslo.",
        ],
    ),
    (
        102,
        "Vitamin D and fractures",
        [
            "Vitamin D supplements did not reduce hip fractures.",
            "Participants were followed for five years.",
        ],
    ),
    (
        103,
        "Coffee and sleep",
        ["Coffee intake delayed sleep onset in students.", "Students kept sleep diaries."],
    ),
    (104, "Unrelated distractor", ["Glaciers retreated in the Alps.", "Snow cover declined."]),
    (105, "Another distractor", ["Bees pollinate almond orchards.", "Hives were counted."]),
]
CLAIMS = [
    {
        "id": 1,
        "claim": "Aspirin lowered stroke incidence in elderly adults.",
        "evidence": {"101": [{"sentences": [0], "label": "SUPPORT"}]},
        "cited_doc_ids": [101],
    },
    {
        "id": 2,
        "claim": "Vitamin D supplements reduce hip fractures.",
        "evidence": {"102": [{"sentences": [0], "label": "CONTRADICT"}]},
        "cited_doc_ids": [102],
    },
    {
        "id": 3,
        "claim": "Quantum tunnelling explains penguin migration.",
        "evidence": {},
        "cited_doc_ids": [103],
    },
]
PUBMEDQA = {
    "9001": {
        "QUESTION": "Does coffee intake delay sleep onset in students?",
        "CONTEXTS": ["Coffee intake delayed sleep onset in students.", "Diaries were kept."],
        "LABELS": ["RESULTS", "METHODS"],
        "MESHES": [],
        "YEAR": "2001",
        "final_decision": "yes",
        "LONG_ANSWER": "Coffee delays sleep.",
    },
    "9002": {
        "QUESTION": "Do glaciers in the Alps grow?",
        "CONTEXTS": ["Glaciers retreated in the Alps over the decade."],
        "LABELS": ["RESULTS"],
        "MESHES": [],
        "YEAR": "2002",
        "final_decision": "maybe",
        "LONG_ANSWER": "Unclear.",
    },
}
TATQA = [
    {
        "table": {
            "uid": "t-1",
            "table": [["", "2019", "2018"], ["Revenue", "$1,200.5", "$1,000.0"]],
        },
        "paragraphs": [{"uid": "p1", "order": 1, "text": "Revenue was 1200.5 million in 2019."}],
        "questions": [
            {
                "uid": "q-1",
                "order": 1,
                "question": "What was the revenue in 2019?",
                "answer": ["1200.5"],
                "derivation": "",
                "answer_type": "span",
                "scale": "million",
            },
            {
                "uid": "q-2",
                "order": 2,
                "question": "What is the change in revenue from 2018 to 2019?",
                "answer": 200.5,
                "derivation": "1,200.5 - 1,000.0",
                "answer_type": "arithmetic",
                "scale": "million",
            },
            {
                "uid": "q-3",
                "order": 3,
                "question": "What was the percentage change in revenue in 2019?",
                "answer": 20.05,
                "derivation": "(1,200.5-1,000)/1,000",
                "answer_type": "arithmetic",
                "scale": "percent",
            },
        ],
    }
]
CONVFINQA = [
    {
        "id": "Single_X/2019/page_1.pdf-1",
        "questions": ["what was revenue in 2019?", "and the change?", "and in percent?"],
        "programs": ["ans = 1200.5", "ans = 1200.5 - 1000", "x0 = 1200.5 - 1000; ans = x0 / 1000"],
        "answer": 0.2005,
        "text": "revenue grew .",
        "table": "- | 2019 | 2018\nrevenue | 1200.5 | 1000",
        "golden_text": "",
        "golden_table": "",
    }
]


def write_tiny_datasets(root: Path) -> Path:
    """The four dataset folders in their real formats, a few items each."""
    (root / "scifact").mkdir(parents=True)
    with (root / "scifact" / "corpus.jsonl").open("w") as f:
        for doc_id, title, abstract in CORPUS:
            row = {"doc_id": doc_id, "title": title, "abstract": abstract, "structured": False}
            f.write(json.dumps(row) + "\n")
    with (root / "scifact" / "claims_train.jsonl").open("w") as f:
        for claim in CLAIMS:
            f.write(json.dumps(claim) + "\n")
    (root / "pubmedqa").mkdir()
    (root / "pubmedqa" / "pqal_dev.json").write_text(json.dumps(PUBMEDQA))
    (root / "tatqa").mkdir()
    (root / "tatqa" / "tatqa_dataset_dev.json").write_text(json.dumps(TATQA))
    (root / "convfinqa").mkdir()
    (root / "convfinqa" / "convfinqa_dev.json").write_text(json.dumps(CONVFINQA))
    return root
