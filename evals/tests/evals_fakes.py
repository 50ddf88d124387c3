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
from veritas_evals.datasets import Part, document_split
from veritas_evals.expressions import ExpressionError, evaluate

API_KEY = "test-key"
# The /v1/ask body fields of a gateway that knows no `selector` or `gate` switch (its request
# models forbid other fields: 422).
ASK_FIELDS_WITHOUT_SWITCHES = frozenset(
    {"question", "collection", "filters", "data_schema", "mode", "rerank", "verify", "search_mode"}
)
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
        ask_fields: frozenset[str] | None = None,
        switches: frozenset[str] = frozenset({"selector", "gate"}),
    ) -> None:
        """`ask_fields`: the /v1/ask body fields it accepts, others rejected with 422 as the
        real gateway's request models do (None: any); `switches`: the ablation switches it acts
        on (`gate: false` answers below the relevance bar, `selector: false` cites the last
        sentence of the top document instead of the best one); others it ignores."""
        self.failing_questions = failing_questions
        self.rerank_by_default = rerank_by_default
        self.ask_fields = ask_fields
        self.switches = switches
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
            extra = sorted(set(body) - self.ask_fields) if self.ask_fields is not None else []
            if extra:  # FastAPI's shape for a pydantic model with extra="forbid"
                raise HTTPException(
                    422,
                    [
                        {"type": "extra_forbidden", "loc": ["body", k], "msg": "Extra inputs"}
                        for k in extra
                    ],
                )
            if body["question"] in self.failing_questions:
                raise HTTPException(503, "agent service unavailable")
            gate = body.get("gate", True) or "gate" not in self.switches
            selector = body.get("selector", True) or "selector" not in self.switches
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
            if not ranked or (ranked[0][0] < 0.3 and gate):
                return schemas.Answer.model_validate(answer).model_dump(mode="json")
            _, source, text = ranked[0]
            sentences = [s for s in re.split(r"(?<=\.) ", text.split("\n\n")[-1]) if s]
            best = max(sentences, key=lambda s: _share(body["question"], s))
            if not selector:
                best = sentences[-1].strip()
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


# ------------------------------------------------------------------ datasets with both parts


def first_id(dataset: str, part: Part, candidates: list[str]) -> str:
    """The first candidate id that the split rule puts in `part` of `dataset`."""
    return next(c for c in candidates if document_split(dataset, c) == part)


def split_ids() -> dict[str, str]:
    """Ids the split rule puts in the tuning part (and one SciFact train id), found by the
    rule itself so the tiny datasets below hold cases of both parts whatever the hash gives."""
    sci = [str(i) for i in range(200, 400)]
    return {
        "scifact_tuning": first_id("scifact", "tuning", sci),
        "scifact_tuning_2": [c for c in sci if document_split("scifact", c) == "tuning"][1],
        "scifact_train": first_id("scifact", "train", sci),
        "pubmedqa": first_id("pubmedqa", "tuning", [str(i) for i in range(9100, 9300)]),
        "tatqa": first_id("tatqa", "tuning", [f"t-{i}" for i in range(2, 200)]),
        "convfinqa": first_id(
            "convfinqa", "tuning", [f"Single_Y/2020/page_{i}.pdf-1" for i in range(2, 200)]
        ),
    }


def write_split_datasets(root: Path) -> dict[str, str]:
    """The tiny datasets (every id of which is in the train part) plus cases of the tuning
    part: SciFact claim 10 rests on a tuning document, claim 11 has its evidence in a train
    document but cites a tuning one, claim 12 (train) rests on a train document; a PubMedQA
    item, a TAT-QA context with two questions and a ConvFinQA conversation with tuning ids.
    Returns the ids used (see `split_ids`)."""
    write_tiny_datasets(root)
    ids = split_ids()
    docs = [
        (ids["scifact_tuning"], "Tea and memory", ["Green tea improved memory in mice."]),
        (ids["scifact_tuning_2"], "Cited review", ["Reviews summarise trials."]),
        (ids["scifact_train"], "Running and mood", ["Running improved mood in adults."]),
    ]
    with (root / "scifact" / "corpus.jsonl").open("a") as f:
        for doc_id, title, abstract in docs:
            row = {"doc_id": int(doc_id), "title": title, "abstract": abstract}
            f.write(json.dumps(row) + "\n")
    claims = [
        {
            "id": 10,
            "claim": "Green tea improved memory in mice.",
            "evidence": {ids["scifact_tuning"]: [{"sentences": [0], "label": "SUPPORT"}]},
            "cited_doc_ids": [int(ids["scifact_tuning"])],
        },
        {
            "id": 11,
            "claim": "Running improved mood in adults who ran.",
            "evidence": {ids["scifact_train"]: [{"sentences": [0], "label": "SUPPORT"}]},
            "cited_doc_ids": [int(ids["scifact_train"]), int(ids["scifact_tuning_2"])],
        },
        {
            "id": 12,
            "claim": "Running improved mood in adults.",
            "evidence": {ids["scifact_train"]: [{"sentences": [0], "label": "SUPPORT"}]},
            "cited_doc_ids": [int(ids["scifact_train"])],
        },
    ]
    with (root / "scifact" / "claims_train.jsonl").open("a") as f:
        for claim in claims:
            f.write(json.dumps(claim) + "\n")
    pubmedqa = dict(PUBMEDQA)
    pubmedqa[ids["pubmedqa"]] = {
        "QUESTION": "Does green tea improve memory?",
        "CONTEXTS": ["Green tea improved memory in mice."],
        "LABELS": ["RESULTS"],
        "MESHES": [],
        "YEAR": "2003",
        "final_decision": "yes",
        "LONG_ANSWER": "It does.",
    }
    (root / "pubmedqa" / "pqal_dev.json").write_text(json.dumps(pubmedqa))
    context = json.loads(json.dumps(TATQA[0]))
    context["table"]["uid"] = ids["tatqa"]
    context["paragraphs"] = [{"uid": "p2", "order": 1, "text": "Revenue was restated in 2019."}]
    for q in context["questions"]:
        q["uid"] = f"{ids['tatqa']}-{q['uid']}"
    (root / "tatqa" / "tatqa_dataset_dev.json").write_text(json.dumps([*TATQA, context]))
    conversation = CONVFINQA[0] | {"id": ids["convfinqa"]}
    (root / "convfinqa" / "convfinqa_dev.json").write_text(json.dumps([*CONVFINQA, conversation]))
    return ids
