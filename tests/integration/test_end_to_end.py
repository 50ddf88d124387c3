"""The whole system as a user meets it: every service a real process, the gateway over HTTP.

One stack is started for the module (model loading dominates the cost); the tests run in file
order and the last ones take services down on purpose.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from veritas_cli.stack import SERVICES
from veritas_cli.testing import running_stack
from veritas_common import schemas

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
API_KEY = "test-key-1"
MAX_UPLOAD = 1_000_000

FACT_DOC = """# Halvorsen Biotech Annual Summary 2025

Halvorsen Biotech is a fictional company invented for this test.

## Financial Results

Halvorsen Biotech reported total revenue of $73.5 million in fiscal 2025, up from $61.2 million
in fiscal 2024. The company employed 412 people at the end of the year.

## Research Pipeline

The lead candidate, HB-207, entered a phase 2 trial for chronic kidney disease in March 2025.
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    env = {"VERITAS_API_KEYS": API_KEY, "VERITAS_MAX_UPLOAD_BYTES": str(MAX_UPLOAD)}
    with running_stack(tmp_path_factory.mktemp("veritas-data"), env, repo=REPO) as stack:
        yield stack


@pytest.fixture(scope="module")
def http(stack):
    base = f"http://{stack.processes['gateway'].addr}"
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120
    ) as client:
        yield client


@pytest.fixture(scope="module")
def fact_doc(http):
    files = [("file", ("halvorsen-2025.md", FACT_DOC.encode(), "text/markdown"))]
    reply = http.post("/v1/documents", files=files, data={"collection": "e2e"})
    assert reply.status_code == 200, reply.text
    (entry,) = reply.json()["documents"]
    return entry


def test_every_service_reports_serving(stack):
    statuses = asyncio.run(stack.statuses())
    assert statuses == dict.fromkeys(SERVICES, "SERVING")


def test_upload_answers_with_one_entry_per_file(fact_doc):
    assert fact_doc["source"] == "halvorsen-2025.md"
    assert fact_doc["status"] == "ingested"
    assert fact_doc["chunks"] >= 1
    assert len(fact_doc["doc_id"]) >= 16


def test_reingesting_the_same_bytes_is_a_no_op(http, fact_doc):
    files = [("file", ("halvorsen-2025.md", FACT_DOC.encode(), "text/markdown"))]
    reply = http.post("/v1/documents", files=files, data={"collection": "e2e"})
    assert reply.status_code == 200
    (entry,) = reply.json()["documents"]
    assert entry["doc_id"] == fact_doc["doc_id"]
    assert entry["status"] == "unchanged"


def test_answer_cites_exact_character_spans(http, fact_doc):
    reply = http.post(
        "/v1/ask",
        json={"question": "What total revenue did Halvorsen Biotech report for fiscal 2025?"},
    )
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["status"] == "ANSWERED", answer
    assert answer["claims"] and answer["evidence"]
    evidence_ids = {ev["id"] for ev in answer["evidence"]}
    for claim in answer["claims"]:
        assert claim["support"] == "SUPPORTED"
        assert claim["citations"] and set(claim["citations"]) <= evidence_ids
    texts: dict[str, str] = {}
    for ev in answer["evidence"]:
        if ev["doc_id"] not in texts:
            doc = http.get(f"/v1/documents/{ev['doc_id']}")
            assert doc.status_code == 200
            texts[ev["doc_id"]] = doc.json()["text"]
        assert ev["quote"] == texts[ev["doc_id"]][ev["char_start"] : ev["char_end"]]
    assert any("73.5" in ev["quote"] for ev in answer["evidence"])
    assert fact_doc["doc_id"] in texts
    assert set(answer) == set(schemas.Answer.model_fields)


def test_out_of_scope_question_is_refused(http, fact_doc):
    reply = http.post("/v1/ask", json={"question": "Who won the 1998 FIFA World Cup?"})
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["status"] == "REFUSED"
    assert answer["claims"] == []
    assert answer["refusal_reason"]


def test_search_results_point_into_document_text(http, fact_doc):
    reply = http.post(
        "/v1/search", json={"query": "HB-207 phase 2 trial", "top_k": 3, "collection": "e2e"}
    )
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert results and results[0]["doc_id"] == fact_doc["doc_id"]
    text = http.get(f"/v1/documents/{fact_doc['doc_id']}").json()["text"]
    for hit in results:
        assert hit["text"] == text[hit["char_start"] : hit["char_end"]]


def test_ocr_text_from_an_image_is_citable(http):
    image = (REPO / "samples" / "lab-report-2024-09-14.png").read_bytes()
    reply = http.post(
        "/v1/documents",
        files=[("file", ("lab-report.png", image, "image/png"))],
        data={"collection": "labs"},
    )
    assert reply.status_code == 200, reply.text
    answer = http.post(
        "/v1/ask",
        json={"question": "What was the patient's glucose result?", "collection": "labs"},
    ).json()
    assert answer["status"] in ("ANSWERED", "PARTIAL"), answer
    cited = [ev for ev in answer["evidence"] if ev["source"] == "lab-report.png"]
    assert any("98" in ev["quote"] for ev in cited)


def test_openai_client_chats_with_the_served_model(stack):
    import openai

    client = openai.OpenAI(
        base_url=f"http://{stack.processes['gateway'].addr}/v1", api_key=API_KEY, timeout=120
    )
    (model,) = [m.id for m in client.models.list().data]  # the converted SmolLM2 checkpoint
    assert "smollm2" in model.lower()
    schema = {
        "type": "object",
        "properties": {"company": {"type": "string"}, "employees": {"type": "integer"}},
        "required": ["company", "employees"],
        "additionalProperties": False,
    }
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Halvorsen Biotech employs 412 people. As JSON?"}],
        max_tokens=48,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "fact", "schema": schema}},
    )
    value = json.loads(reply.choices[0].message.content)
    assert set(value) == {"company", "employees"} and isinstance(value["employees"], int)
    assert reply.usage.completion_tokens > 0
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, stream=True
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert len(pieces) > 2 and "".join(pieces).strip()


def test_malformed_pdf_is_rejected_and_nothing_is_stored(http):
    before = http.get("/v1/documents").json()
    reply = http.post(
        "/v1/documents",
        files=[("file", ("broken.pdf", b"%PDF-1.7\n this is not really a pdf", "application/pdf"))],
    )
    assert 400 <= reply.status_code < 500
    assert "broken.pdf" in reply.json()["detail"]
    assert http.get("/v1/documents").json() == before


def test_empty_question_is_422(http):
    assert http.post("/v1/ask", json={"question": "   "}).status_code == 422


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}])
def test_missing_or_wrong_key_is_401(stack, headers):
    base = f"http://{stack.processes['gateway'].addr}"
    reply = httpx.post(f"{base}/v1/ask", json={"question": "revenue?"}, headers=headers)
    assert reply.status_code == 401


def test_upload_over_the_size_limit_is_413(http):
    big = io.BytesIO(b"a" * (MAX_UPLOAD + 10))
    reply = http.post("/v1/documents", files=[("file", ("big.txt", big, "text/plain"))])
    assert reply.status_code == 413


def test_cli_ingests_and_asks_over_grpc(stack, tmp_path):
    doc = tmp_path / "tidewater.txt"
    doc.write_text("Tidewater Shipping operated 57 container vessels at the end of 2025.\n")
    env = {
        **os.environ,
        **stack.peer_env(),
        "VERITAS_DATA_DIR": str(stack.data_dir),
        "VERITAS_API_KEYS": API_KEY,
    }
    cli = [sys.executable, "-m", "veritas_cli"]
    ingest = subprocess.run([*cli, "ingest", str(doc)], env=env, capture_output=True, text=True)
    assert ingest.returncode == 0, ingest.stderr
    assert "tidewater.txt" in ingest.stdout
    ask = subprocess.run(
        [*cli, "ask", "How many container vessels did Tidewater Shipping operate?", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ask.returncode == 0, ask.stdout + ask.stderr
    answer = json.loads(ask.stdout)
    assert answer["status"] == "ANSWERED"
    assert any("57" in ev["quote"] for ev in answer["evidence"])


def test_a_service_down_gives_503_naming_it(stack, http):
    agent = stack.processes["agent"]
    os.killpg(agent.pid, 15)
    os.waitpid(agent.pid, 0)
    reply = http.post("/v1/ask", json={"question": "What was revenue?"})
    assert reply.status_code == 503
    assert "agent" in reply.json()["detail"]
    ready = httpx.get(f"http://{stack.processes['gateway'].addr}/readyz")
    assert ready.status_code == 503


def test_stop_leaves_no_veritas_process(stack):
    pids = [p.pid for p in stack.processes.values()]
    stack.stop()
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists()
            or b"veritas_" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
